"""Root of the `ktrdr` command: global options, then one sub-command group per area."""

from __future__ import annotations

from typing import Optional

import typer

from ktrdr.cli import backend_cmd, data_cmd, ops_cmd, start_cmd
from ktrdr.cli import demo as demo_cmd
from ktrdr.cli import models_cmd, nats_cmd, results_cmd, stack_cmd, strategies_cmd, worker_cmd
from ktrdr.cli import monitor_cmd
from ktrdr.cli.common import State

app = typer.Typer(no_args_is_help=True, add_completion=False,
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


@app.callback()
def root(
    ctx: typer.Context,
    nats_url: Optional[str] = typer.Option(None, "--nats-url", envvar="KTRDR_NATS_URL",
                                           help="NATS server URL(s), comma-separated (default: the embedded one)."),
    namespace: Optional[str] = typer.Option(None, "--namespace", envvar="KTRDR_NAMESPACE",
                                            help="Prefix of every subject, stream and bucket."),
    home: Optional[str] = typer.Option(None, "--home", envvar="KTRDR_HOME",
                                       help="Where the embedded server, logs and caches live."),
    as_json: bool = typer.Option(False, "--json", envvar="KTRDR_JSON", help="Machine-readable output."),
) -> None:
    """Global options; every one also reads its KTRDR_* environment variable."""
    ctx.obj = State({"nats_url": nats_url, "namespace": namespace, "home": home}, as_json)


def main() -> None:
    """Console-script entry point."""
    app()
