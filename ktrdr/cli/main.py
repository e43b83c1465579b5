"""Root of the `ktrdr` command: global options, then one sub-command group per area."""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

import typer

from ktrdr.cli import backend_cmd, data_cmd, ops_cmd, start_cmd
from ktrdr.cli import demo as demo_cmd
from ktrdr.cli import models_cmd, nats_cmd, results_cmd, stack_cmd, strategies_cmd, worker_cmd
from ktrdr.cli import monitor_cmd, sweep_cmd
from ktrdr.cli import checks
from ktrdr.cli.common import OUTPUT, State, report
from ktrdr.cli.jsonflag import add_json_everywhere


class _Ktrdr(typer.Typer):
    """The root app; calling it (the console script does) goes through `main`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command line as `main` does."""
        return main()


app = _Ktrdr(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="KTRDR: trading-strategy research on workers coordinated through NATS.")
app.add_typer(nats_cmd.app, name="nats")
app.command("demo")(demo_cmd.demo)
app.command("backend")(backend_cmd.backend)
app.add_typer(ops_cmd.app, name="ops")
for _name, _fn in (("follow", ops_cmd.follow_cmd), ("cancel", ops_cmd.cancel_cmd), ("resume", ops_cmd.resume_cmd),
                   ("workers", ops_cmd.workers_cmd), ("events", ops_cmd.events_cmd), ("dummy", start_cmd.dummy),
                   ("train", start_cmd.train), ("backtest", start_cmd.backtest), ("research", start_cmd.research),
                   ("validate", start_cmd.validate), ("start", start_cmd.start_any)):
    app.command(_name)(_fn)
data_cmd.app.command("load")(start_cmd.data_load)
app.add_typer(worker_cmd.app, name="worker")
for _name in ("up", "down", "status"):
    app.command(_name)(getattr(stack_cmd, _name))
app.add_typer(data_cmd.app, name="data")
app.add_typer(results_cmd.app, name="results")
app.add_typer(models_cmd.app, name="models")
app.add_typer(strategies_cmd.app, name="strategies")
app.command("monitor")(monitor_cmd.monitor)
app.command("sweep")(sweep_cmd.sweep)


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
    add_json_everywhere(app)
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
    """A bad option or argument: the message (JSON or typer's box) and exit code 2."""
    from ktrdr.cli.checks import BadInput

    if OUTPUT["json"]:
        cmd = exc.ctx.command_path if getattr(exc, "ctx", None) else "ktrdr"
        message, hint = (exc.plain, exc.hint) if isinstance(exc, BadInput) else (exc.format_message(), None)
        report(message, hint or f"see `{cmd} --help`", exc.exit_code)
    else:
        from typer import rich_utils

        rich_utils.rich_format_error(exc)
    return getattr(exc, "exit_code", 2)
