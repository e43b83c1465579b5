"""`ktrdr monitor`: the Textual view of workers and operations, in the terminal or served to browsers
(Textual is imported only when it runs)."""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

import typer

from ktrdr.cli.common import fail, state

if TYPE_CHECKING:
    from ktrdr.config import Settings
    from ktrdr_tui.web import MonitorWeb


# --web alone has no environment variable: every tab runs `ktrdr monitor` with this environment, and would serve again.
def monitor(ctx: typer.Context,
            web: bool = typer.Option(False, "--web", help="Serve the monitor to browsers (one session per tab)."),
            host: str = typer.Option("127.0.0.1", "--host", envvar="KTRDR_MONITOR_HOST",
                                     help="With --web: address to bind (anything but localhost warns)."),
            port: int = typer.Option(8765, "--port", envvar="KTRDR_MONITOR_PORT", min=0, max=65535,
                                     help="With --web: port to bind (0: any free one)."),
            read_only: bool = typer.Option(False, "--read-only", envvar="KTRDR_MONITOR_READ_ONLY",
                                           help="Hide cancel and resume (a shared screen)."),
            ) -> None:
    """Watch workers and operations live: cancel, resume, follow, filter, details (works without a backend)."""
    try:
        from ktrdr_tui.app import MonitorApp
    except ImportError as exc:  # an install without the monitor package
        fail(f"the monitor is not installed: {exc}", hint="reinstall ktrdr (pip install -e .)")
    from ktrdr.bus.resolve import resolve_url

    settings = state(ctx).settings
    if web:
        _serve(settings, resolve_url(settings), host, port, read_only)
    else:
        MonitorApp(settings, resolve_url(settings), read_only=read_only).run()


def _serve(settings: Settings, url: str, host: str, port: int, read_only: bool) -> None:
    """Serve until Ctrl-C/SIGTERM; each tab runs `ktrdr monitor` with this command's settings."""
    import asyncio  # here, not at the top: `ktrdr --help` must not pay for it
    import logging

    try:
        from ktrdr_tui.web import MonitorWeb, is_local
    except ImportError as exc:  # textual-serve missing from an old install
        fail(f"the web monitor needs textual-serve: {exc}", hint="reinstall ktrdr (pip install -e .)")
    from ktrdr.stack import child_env

    if not is_local(host):
        typer.secho(f"warning: --host {host} lets anyone who reaches this machine watch the cluster"
                    f"{'' if read_only else ' and cancel or resume operations (add --read-only)'};"
                    " there is no login: keep it behind a firewall or an authenticating proxy",
                    fg=typer.colors.YELLOW, err=True)
    command = [sys.executable, "-m", "ktrdr", "monitor", *(["--read-only"] if read_only else [])]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")  # tabs come and go
    server = MonitorWeb(command, child_env(settings, url), host=host, port=port)
    try:
        asyncio.run(_until_stopped(server, url, read_only))
    except OSError as exc:  # the port is taken or the address is not ours
        fail(f"cannot serve the monitor on {host}:{port}: {exc.strerror or exc}",
             hint="choose another --port (0 picks a free one) or --host")


async def _until_stopped(server: MonitorWeb, nats_url: str, read_only: bool) -> None:
    import asyncio  # here, not at the top: `ktrdr --help` must not pay for it

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    address = await server.start()
    typer.echo(f"ktrdr monitor: {address}  (NATS {nats_url}{', read-only' if read_only else ''};"
               " one session per tab; Ctrl-C stops)")
    try:
        await stop.wait()
    finally:
        await server.stop()
        typer.echo(f"stopped the web monitor ({server.opened} sessions served)", err=True)
