"""`ktrdr monitor`: a Textual view of workers and operations, live from the bus (installed as `ktrdr_tui`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .app import MonitorApp

__all__ = ["MonitorApp"]


def __getattr__(name: str) -> object:
    """Import the Textual app only when asked for (the models stay importable without it)."""
    if name == "MonitorApp":
        from .app import MonitorApp

        return MonitorApp
    raise AttributeError(name)
