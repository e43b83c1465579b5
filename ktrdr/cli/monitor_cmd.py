"""`ktrdr monitor`: the Textual view of workers and operations (Textual is imported only when it runs)."""

from __future__ import annotations

import typer

from ktrdr.cli.common import fail, state


def monitor(ctx: typer.Context) -> None:
    """Watch workers and operations live: cancel, resume, follow, filter, details (works without a backend)."""
    try:
        from ktrdr_tui.app import MonitorApp
    except ImportError as exc:  # an install without the monitor package
        fail(f"the monitor is not installed: {exc}", hint="reinstall ktrdr (pip install -e .)")
    from ktrdr.bus.resolve import resolve_url

    settings = state(ctx).settings
    MonitorApp(settings, resolve_url(settings)).run()
