"""What every command shares: settings from options and env, async running, errors as exit code 1."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer

from ktrdr.config import Settings, load_settings
from ktrdr.errors import KtrdrError

T = TypeVar("T")


class State:
    """Global options parsed by the root callback."""

    def __init__(self, overrides: dict[str, Any], as_json: bool) -> None:
        self.overrides = overrides
        self.as_json = as_json
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """Resolved settings (config file < env < options), computed once."""
        if self._settings is None:
            self._settings = load_settings(self.overrides)
        return self._settings


def state(ctx: typer.Context) -> State:
    """The State of the root command."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State({}, False)
    return root.obj


def fail(message: str, hint: str | None = None, code: int = 1) -> None:
    """Print an error (and what to do) to stderr and exit with `code`."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    raise typer.Exit(code)


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async command body; KtrdrErrors become a clean message and exit code 1."""
    try:
        return asyncio.run(coro_fn())
    except KtrdrError as exc:
        fail(exc.message, exc.hint)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    raise AssertionError("unreachable")


def emit(st: State, data: Any, human: Callable[[], None]) -> None:
    """Print `data` as JSON when --json was given, else call `human()` to render it."""
    if st.as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        human()
