"""`--json` on every command, before or after the sub-command, shown in each command's `--help`.

The flag is added to each command's signature here instead of in forty signatures by hand; it only
switches the shared output mode, so command bodies never see it.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

import typer

from ktrdr.cli.common import OUTPUT

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output: JSON on stdout, errors too.")
_FLAG = "json_output_"


def _has_json(fn: Callable[..., Any]) -> bool:
    """True when the command already takes its own `--json`."""
    for param in inspect.signature(fn).parameters.values():
        decls = getattr(param.default, "param_decls", None) or ()
        if "--json" in decls:
            return True
    return False


def with_json(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with a `--json` flag that turns JSON output on."""
    if _has_json(fn):
        return fn

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if kwargs.pop(_FLAG, False):
            OUTPUT["json"] = True
        return fn(*args, **kwargs)

    sig = inspect.signature(fn, eval_str=True)
    flag = inspect.Parameter(_FLAG, inspect.Parameter.KEYWORD_ONLY, default=JSON_OPTION, annotation=bool)
    wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), flag])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {**typing.get_type_hints(fn), _FLAG: bool}
    return wrapper


def add_json_everywhere(app: typer.Typer) -> None:
    """Wrap every command and group callback of `app` (recursively) once."""
    if getattr(app, "_json_added", False):
        return
    app._json_added = True  # type: ignore[attr-defined]
    for info in app.registered_commands:
        if info.callback is not None:
            info.callback = with_json(info.callback)
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is not None:
            if sub.registered_callback is not None and sub.registered_callback.callback is not None:
                sub.registered_callback.callback = with_json(sub.registered_callback.callback)
            add_json_everywhere(sub)
