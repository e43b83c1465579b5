"""`ktrdr nats cluster up|down|status|kill|restart`: a local three-node cluster for replication and failover."""

from __future__ import annotations

from typing import Any

import typer

from ktrdr.cli import checks
from ktrdr.cli.common import emit, fail, run, state

app = typer.Typer(no_args_is_help=True, help="A local three-node NATS cluster (JetStream, R3) from the bundled binary.")


@app.command()
def up(ctx: typer.Context,
       size: int = typer.Option(3, envvar="KTRDR_CLUSTER_SIZE", help="Number of nodes (3 tolerates one loss)."),
       timeout: float = typer.Option(20.0, help="Seconds to wait for the JetStream meta leader."),
       topology: bool = typer.Option(True, help="Create the streams and buckets, replicated on min(size, 3) nodes."),
       ) -> None:
    """Start the nodes (reusing a running cluster), wait for a meta leader, create the replicated topology."""
    from ktrdr.bus.cluster import LocalCluster

    st = state(ctx)
    handle, started = run(lambda: LocalCluster(st.settings.home_path, size=size).up(timeout))
    replicas = min(len(handle.nodes), 3)
    if started:
        typer.echo(f"started {len(handle.nodes)} nodes of {handle.name} in {handle.started_s:.2f}s")
    else:
        typer.echo(f"already running: {handle.name}")
    for node in handle.nodes:
        typer.echo(f"  {node.name}: pid {node.pid} {node.url} (log {node.log_file})")
    if topology:
        report = run(lambda: _ensure(st.settings, handle.urls, replicas))
        typer.echo(f"topology (R{replicas}): {len(report.created)} created, {len(report.updated)} updated, "
                   f"{len(report.unchanged)} unchanged")
    typer.echo(f"use it with:\n  export KTRDR_NATS_URL={handle.urls}\n  export KTRDR_REPLICAS={replicas}")


async def _ensure(settings: Any, urls: str, replicas: int) -> Any:
    import msgspec

    from ktrdr.cli.nats_cmd import _ensure as ensure

    return await ensure(msgspec.structs.replace(settings, replicas=replicas), urls)


@app.command()
def down(ctx: typer.Context,
         purge: bool = typer.Option(False, help="Also delete the nodes' data and configs."),
         ) -> None:
    """Stop every node of the local cluster."""
    from ktrdr.bus.cluster import LocalCluster

    stopped = LocalCluster(state(ctx).settings.home_path).down(purge=purge)
    typer.echo(f"stopped {stopped} cluster nodes" if stopped else "no local cluster was running")


@app.command()
def status(ctx: typer.Context) -> None:
    """Each node: alive, URL, the meta leader it sees, and its JetStream totals."""
    from ktrdr.bus.cluster import LocalCluster
    from ktrdr.bus.cluster import status as cluster_status

    st = state(ctx)
    handle = LocalCluster(st.settings.home_path).handle()
    if handle is None:
        fail("no local cluster is running", hint="start one with `ktrdr nats cluster up`")
    info = cluster_status(handle)
    emit(st, info, lambda: _render(info))
    if not any(row["alive"] for row in info["nodes"]):
        raise typer.Exit(1)


def _render(info: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"cluster {info['name']}")
    cols = ("name", "pid", "alive", "url", "meta_leader", "streams", "consumers", "messages")
    for col in cols:
        table.add_column(col)
    for row in info["nodes"]:
        table.add_row(*[str(row[c]) for c in cols])
    Console().print(table)


NODE = typer.Argument(..., help="Node name (n1, n2, ...).", callback=checks.namespace)


@app.command()
def kill(ctx: typer.Context, node: str = NODE) -> None:
    """SIGKILL one node, to watch the cluster fail over."""
    from ktrdr.bus.cluster import LocalCluster

    handle = run(lambda: _call(LocalCluster(state(ctx).settings.home_path).kill, node))
    typer.echo(f"killed {handle.name} (pid {handle.pid})")


@app.command()
def restart(ctx: typer.Context, node: str = NODE) -> None:
    """Start a stopped node again with its ports and data."""
    from ktrdr.bus.cluster import LocalCluster

    handle = run(lambda: _call(LocalCluster(state(ctx).settings.home_path).restart, node))
    typer.echo(f"{handle.name}: pid {handle.pid} at {handle.url}")


async def _call(fn: Any, *args: Any) -> Any:
    """Run a synchronous cluster call under `run()` so its BusError becomes a clean message."""
    return fn(*args)
