"""Root of the `ktrdr` command: global options, then the commands, each imported only when it is used."""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

import typer

from ktrdr.cli import checks
from ktrdr.cli.common import OUTPUT, State, report
from ktrdr.cli.lazy import APP_SETTINGS, Entry, LazyGroup

_OPS, _START, _STACK = "ktrdr.cli.ops_cmd", "ktrdr.cli.start_cmd", "ktrdr.cli.stack_cmd"
# Every command in `ktrdr --help` order; the help is the command's own first sentence (a test keeps them equal),
# written here so that listing the commands imports none of their modules.
COMMANDS = {
    "demo": Entry("ktrdr.cli.demo", "demo",
                  "Research an example strategy end to end: stack up, data, train, backtest, results, stack down."),
    "backend": Entry("ktrdr.cli.backend_cmd", "backend",
                     "Serve the backend until Ctrl-C or SIGTERM; run several for redundancy."),
    "follow": Entry(_OPS, "follow_cmd", "Watch an operation's progress live; Ctrl-C detaches (the operation keeps "
                    "running)."),
    "cancel": Entry(_OPS, "cancel_cmd", "Cancel an operation: a pending one at once, a running one at its next "
                    "check (with a checkpoint)."),
    "resume": Entry(_OPS, "resume_cmd", "Resume a failed or cancelled operation from its last checkpoint."),
    "workers": Entry(_OPS, "workers_cmd", "Live workers (and unavailable ones) with status, current operation and "
                     "heartbeat age."),
    "events": Entry(_OPS, "events_cmd", "Tail operation events as they happen (an example event subscriber); "
                    "Ctrl-C stops."),
    "dummy": Entry(_START, "dummy", "Start a dummy operation (for trying the system and for scripts)."),
    "train": Entry(_START, "train", "Train a strategy's model on a training worker (GPU first, CPU fallback)."),
    "backtest": Entry(_START, "backtest", "Backtest a strategy with its trained model on a backtest worker."),
    "research": Entry(_START, "research", "Train, then backtest the trained model, as one parent operation."),
    "validate": Entry(_START, "validate", "Check a strategy (the same code the backend uses); errors and warnings "
                      "name the YAML path, line, column."),
    "start": Entry(_START, "start_any", "Start an operation of any kind with its parameters (the backend checks "
                   "them against the kind's struct)."),
    "up": Entry(_STACK, "up", "Start the embedded nats-server, one backend and workers; Ctrl-C (or `ktrdr down` "
                "with --detach) stops them."),
    "down": Entry(_STACK, "down", "Stop every process `ktrdr up` started (workers first), then the nats-server if "
                  "the stack started it."),
    "status": Entry(_STACK, "status", "The server, the backends (health), workers per pool, operation counts and "
                    "the stack's processes."),
    "monitor": Entry("ktrdr.cli.monitor_cmd", "monitor", "Watch workers and operations live: cancel, resume, "
                     "follow, filter, details (works without a backend)."),
    "sweep": Entry("ktrdr.cli.sweep_cmd", "sweep", "Fan a strategy out over a parameter grid: one training (or "
                   "research) operation per variant, ranked."),
    "nats": Entry("ktrdr.cli.nats_cmd", "app", "The embedded NATS server and the topology."),
    "ops": Entry(_OPS, "app", "List operations, or `ktrdr ops show OP_ID`."),
    "worker": Entry("ktrdr.cli.worker_cmd", "app", "Run a worker (it takes work from its pool until stopped)."),
    "data": Entry("ktrdr.cli.data_cmd", "app", "Market data in the object store: import, inspect, export."),
    "results": Entry("ktrdr.cli.results_cmd", "app", "Read the results of finished operations."),
    "models": Entry("ktrdr.cli.models_cmd", "app", "Trained model bundles (versioned per strategy, symbol set and "
                    "timeframe)."),
    "strategies": Entry("ktrdr.cli.strategies_cmd", "app", "Strategy files in the strategies directory."),
}


class _Root(LazyGroup):
    """The `ktrdr` group: the commands above, each imported when it runs or shows its own help."""

    TABLE = COMMANDS


class _Ktrdr(typer.Typer):
    """The root app; calling it (the console script does) goes through `main`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command line as `main` does."""
        return main()


app = _Ktrdr(cls=_Root, no_args_is_help=True, **APP_SETTINGS,
             help="KTRDR: trading-strategy research on workers coordinated through NATS.")


@app.callback()
def root(
    ctx: typer.Context,
    nats_url: Optional[str] = typer.Option(None, "--nats-url", envvar="KTRDR_NATS_URL",
                                           help="NATS server URL(s), comma-separated (default: the embedded one)."),
    namespace: Optional[str] = typer.Option(None, "--namespace", envvar="KTRDR_NAMESPACE",
                                            help="Prefix of every subject, stream and bucket.",
                                            callback=checks.namespace),
    home: Optional[str] = typer.Option(None, "--home", envvar="KTRDR_HOME",
                                       help="Where the embedded server, logs and caches live."),
    as_json: bool = typer.Option(False, "--json", envvar="KTRDR_JSON", help="Machine-readable output."),
) -> None:
    """Global options; every one also reads its KTRDR_* environment variable."""
    ctx.obj = State({"nats_url": nats_url, "namespace": namespace, "home": home}, as_json)


def _json_requested(args: list[str]) -> bool:
    """`--json` anywhere before `--`, or KTRDR_JSON set."""
    line = args[:args.index("--")] if "--" in args else args
    return "--json" in line or os.environ.get("KTRDR_JSON", "").lower() in ("1", "true", "yes", "on")


def main(args: list[str] | None = None) -> None:
    """Console-script entry point: usage errors and unexpected failures end in one line, never a traceback."""
    args = sys.argv[1:] if args is None else list(args)
    OUTPUT["json"] = OUTPUT["line"] = _json_requested(args)
    try:
        code = _invoke(args)
    finally:
        OUTPUT.update(json=False, line=False, emitted=False)
    sys.exit(code)


def _invoke(args: list[str]) -> int:
    """Run the command line; the exit code, whatever happened."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="ktrdr", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors (bad option, bad value) derive from it
        code = _usage_error(exc)
    except typer.Abort:
        code = 130
    except Exception as exc:  # the last line of defence: a bug must still not print a traceback
        if os.environ.get("KTRDR_DEBUG"):
            raise
        report(f"unexpected {type(exc).__name__}: {str(exc)[:300]}",
               "this is a bug; run again with KTRDR_DEBUG=1 to see where it happened")
        code = 1
    return code if isinstance(code, int) else 0


def _usage_error(exc: Any) -> int:
    """A bad option or argument: the message (JSON or typer's box) and exit code 2; a bare group: its help."""
    from ktrdr.cli.checks import BadInput

    cmd = exc.ctx.command_path if getattr(exc, "ctx", None) else "ktrdr"
    bare = type(exc).__name__ == "NoArgsIsHelpError"  # `ktrdr nats`: the message is the group's help text
    if OUTPUT["json"]:
        message, hint = (exc.plain, exc.hint) if isinstance(exc, BadInput) else (exc.format_message(), None)
        report(f"`{cmd}` needs a command" if bare else message, hint or f"see `{cmd} --help`", exc.exit_code)
    elif bare:
        typer.echo(exc.format_message())
    else:
        from typer import rich_utils

        rich_utils.rich_format_error(exc)
    return getattr(exc, "exit_code", 2)
