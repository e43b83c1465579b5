"""`ktrdr nats up|down|status`: the embedded server and the topology it holds."""

from __future__ import annotations

from typing import Any

import typer

from ktrdr.cli.cluster_cmd import app as cluster_app
from ktrdr.cli.common import emit, run, state

app = typer.Typer(no_args_is_help=True, help="The embedded NATS server and the topology.")
app.add_typer(cluster_app, name="cluster")


@app.command()
def up(ctx: typer.Context,
       port: int = typer.Option(4222, envvar="KTRDR_NATS_PORT", help="Client port (a free one if taken)."),
       monitor_port: int = typer.Option(8222, envvar="KTRDR_NATS_MONITOR_PORT", help="HTTP monitoring port (0: off)."),
       ) -> None:
    """Start the embedded nats-server (reusing ours if it runs) and create the topology."""
    from ktrdr.bus.embedded import EmbeddedServer

    st = state(ctx)
    if st.settings.nats_url:
        typer.echo(f"KTRDR_NATS_URL is set ({st.settings.nats_url}): nothing started; ensuring the topology")
        url = st.settings.nats_url
    else:
        handle, started = run(lambda: _up(EmbeddedServer(st.settings.home_path), port, monitor_port))
        url = handle.url
        typer.echo(f"{'started' if started else 'already running'}: nats-server pid {handle.pid} at {url} "
                   f"(store {handle.store_dir}, log {handle.log_file})")
    report = run(lambda: _ensure(st.settings, url))
    typer.echo(f"topology: {len(report.created)} created, {len(report.updated)} updated, "
               f"{len(report.unchanged)} unchanged")


async def _up(server: Any, port: int, monitor_port: int) -> Any:
    return server.up(port=port, monitor_port=monitor_port)


async def _ensure(settings: Any, url: str) -> Any:
    from ktrdr.bus.connection import connect
    from ktrdr.bus.topology import ensure_topology
    from ktrdr.protocol.subjects import Names

    nc = await connect(settings, url)
    try:
        return await ensure_topology(nc.jetstream(), Names(settings.namespace), settings)
    finally:
        await nc.close()


@app.command()
def down(ctx: typer.Context) -> None:
    """Stop the embedded nats-server that `ktrdr nats up` started."""
    from ktrdr.bus.embedded import EmbeddedServer

    stopped = EmbeddedServer(state(ctx).settings.home_path).down()
    typer.echo("stopped the embedded nats-server" if stopped else "no embedded nats-server was running")


@app.command()
def status(ctx: typer.Context) -> None:
    """Streams with message counts, consumers with pending and ack-pending, and buckets."""
    from ktrdr.bus.inspect import describe, render_status
    from ktrdr.bus.resolve import resolve_url

    st = state(ctx)
    url = resolve_url(st.settings)
    info = run(lambda: describe(st.settings, url))
    emit(st, info, lambda: render_status(info))
