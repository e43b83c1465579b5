"""`ktrdr demo`: the README's main job on the embedded stack."""

from __future__ import annotations

import typer

from ktrdr.cli.common import run, state


def demo(ctx: typer.Context) -> None:
    """Start the embedded NATS (if needed), create the topology, show it, and stop what was started."""
    from ktrdr.bus.embedded import EmbeddedServer
    from ktrdr.bus.inspect import describe, render_status
    from ktrdr.cli.nats_cmd import _ensure

    st = state(ctx)
    server = EmbeddedServer(st.settings.home_path)
    handle, started = server.up(port=-1, monitor_port=0) if not st.settings.nats_url else (None, False)
    url = st.settings.nats_url or handle.url
    try:
        run(lambda: _ensure(st.settings, url))
        info = run(lambda: describe(st.settings, url))
        render_status(info)
    finally:
        if started:
            server.down()
            typer.echo("stopped the nats-server this demo started")
