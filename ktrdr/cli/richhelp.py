"""typer's help and error renderer without loading rich's Markdown and Traceback modules up front.

typer.rich_utils imports rich.markdown (markdown-it, pygments) and rich.traceback at its top, though they serve
only the "markdown" markup mode and pretty tracebacks, both off here; they were about a third of `ktrdr --help`.
While typer.rich_utils itself is imported, those two modules are stand-ins whose names load the real module on
first use, so typer behaves exactly as before; once it is imported, the stand-ins are gone from sys.modules and
any later `import rich.markdown` gets the real module.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importlib.abc alone costs more than a tenth of what this module saves
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec

_TARGET = "typer.rich_utils"
_DEFERRED = ("rich.markdown", "rich.traceback")


def _stand_in(module: str, name: str) -> type:
    """A class standing for `module.name`: calling it or reading its attributes loads the real one."""

    def real() -> Any:
        return getattr(importlib.import_module(module), name)

    class _Meta(type):
        def __getattr__(cls, attr: str) -> Any:  # e.g. Traceback.from_exception
            return getattr(real(), attr)

    class StandIn(metaclass=_Meta):
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            return real()(*args, **kwargs)

    StandIn.__name__ = StandIn.__qualname__ = name
    StandIn.__module__ = module
    return StandIn


class _DeferredModule(types.ModuleType):
    """Stands for a rich module while typer.rich_utils imports names from it."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _stand_in(self.__name__, name)


class _Loader:
    """typer.rich_utils' own loader, run with the deferred modules standing in."""

    def __init__(self, real: Loader) -> None:
        self._real = real

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        """The real loader's module."""
        return self._real.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        """Run typer.rich_utils with stand-ins for the deferred modules that are not loaded yet."""
        placed = {name: _DeferredModule(name) for name in _DEFERRED if name not in sys.modules}
        sys.modules.update(placed)
        try:
            self._real.exec_module(module)
        finally:
            for name, stub in placed.items():
                if sys.modules.get(name) is stub:
                    del sys.modules[name]

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename… for tracebacks and inspect
        return getattr(self._real, name)


class _Finder:
    """Finds typer.rich_utils once, wrapping its loader; other imports pass through."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> ModuleSpec | None:
        """typer.rich_utils' spec with the deferring loader; None for every other module."""
        if fullname != _TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)  # type: ignore[assignment]  # a Loader by duck typing
        return spec


def defer_rich_extras() -> None:
    """Install the deferral before typer.rich_utils is first imported; a no-op once it is."""
    if _TARGET in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
