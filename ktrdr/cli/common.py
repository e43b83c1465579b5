"""What every command shares: settings from options and env, async running, errors as exit code 1.

In JSON mode (`--json` anywhere on the line) errors are JSON on stdout too: {"error", "hint", "code"},
`code` being the exit code, and nanosecond timestamps become ISO 8601 UTC strings.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from ktrdr.errors import KtrdrError

if TYPE_CHECKING:  # asyncio, msgspec and the settings load only when a command runs, not for --help
    from ktrdr.config import Settings

T = TypeVar("T")
# Set once the command line is read (main) and by every `--json` flag: errors raised before or outside
# a command's body (usage errors, the root's own checks) must know the mode too.
# "line" is what `main` read from the command line; "json" the mode now (each invocation starts from "line", so one
# run's --json never leaks into the next in the same process, as under a test runner).
# "emitted": a JSON document is already on stdout (a status that then exits 1): the error goes to stderr, so stdout
# stays one document.
OUTPUT = {"json": False, "line": False, "emitted": False}
# Keys whose integer values are nanosecond timestamps in records, summaries and heartbeats.
_STAMP_KEYS = frozenset({"ts", "sent_at", "first_seen", "last_seen", "idle_since"})


class State:
    """Global options parsed by the root callback."""

    def __init__(self, overrides: dict[str, Any], as_json: bool) -> None:
        self.overrides = overrides
        OUTPUT["json"] = as_json or OUTPUT["line"]
        OUTPUT["emitted"] = False
        self._settings: Settings | None = None

    @property
    def as_json(self) -> bool:
        """JSON output was asked for (anywhere on the command line, or KTRDR_JSON)."""
        return OUTPUT["json"]

    @as_json.setter
    def as_json(self, value: bool) -> None:
        OUTPUT["json"] = OUTPUT["json"] or value

    @property
    def settings(self) -> Settings:
        """Resolved settings (config file < env < options), computed once."""
        if self._settings is None:
            from ktrdr.config import load_settings

            self._settings = load_settings(self.overrides)
        return self._settings


def state(ctx: typer.Context) -> State:
    """The State of the root command."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State({}, False)
    return root.obj


def report(message: str, hint: str | None = None, code: int = 1) -> None:
    """Print an error and what to do: JSON on stdout in JSON mode, else two lines on stderr."""
    if OUTPUT["json"] and not OUTPUT["emitted"]:
        sys.stdout.write(json.dumps({"error": message, "hint": hint, "code": code}) + "\n")
        return
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)


def fail(message: str, hint: str | None = None, code: int = 1) -> None:
    """Report an error (and what to do) and exit with `code`."""
    report(message, hint, code)
    raise typer.Exit(code)


def loop_factory(name: str) -> Callable[[], Any] | None:
    """uvloop's loop factory when `name` is "uvloop" and uvloop is installed; None means asyncio's own loop."""
    if name != "uvloop":
        return None
    try:
        import uvloop
    except ImportError:  # Windows, or an install without it: asyncio's loop does the same work, slower
        return None
    return uvloop.new_event_loop


def run(coro_fn: Callable[[], Awaitable[T]], *, loop: str = "asyncio") -> T:
    """Run an async command body on the `loop` named (see loop_factory); KtrdrErrors become exit code 1.

    The backend and the workers ask for the settings' `event_loop` (uvloop by default: on two cores it gave
    no-op operations 8-16% more throughput and 13-26% off their round trip); other commands keep asyncio's.
    """
    import asyncio

    try:
        with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
            return runner.run(coro_fn())
    except KtrdrError as exc:
        fail(exc.message, exc.hint)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:
        from ktrdr.cli.session import UserCancelled

        if not isinstance(exc, UserCancelled):
            raise
        if OUTPUT["json"]:  # the final record, as a completed follow prints it
            import msgspec

            sys.stdout.write(dumps(msgspec.to_builtins(exc.record)) + "\n")
        raise typer.Exit(130) from None
    raise AssertionError("unreachable")


def iso(ns: int) -> str:
    """A nanosecond timestamp as ISO 8601 UTC (`2024-01-31T09:30:00.123456Z`)."""
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def jsonable(data: Any, key: str = "") -> Any:
    """`data` with every nanosecond timestamp (`*_at`, `ts`, `last_seen`…) as an ISO 8601 UTC string."""
    if isinstance(data, dict):
        return {k: jsonable(v, str(k)) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [jsonable(v) for v in data]
    if isinstance(data, int) and not isinstance(data, bool) and (key.endswith("_at") or key in _STAMP_KEYS):
        return iso(data) if data else None
    return data


def dumps(data: Any, indent: int | None = 2) -> str:
    """The JSON text of `data` as every `--json` output prints it."""
    return json.dumps(jsonable(data), indent=indent, default=str)


def emit(st: State, data: Any, human: Callable[[], None]) -> None:
    """Print `data` as JSON when --json was given, else call `human()` to render it."""
    if st.as_json:
        sys.stdout.write(dumps(data) + "\n")
        OUTPUT["emitted"] = True
    else:
        human()
