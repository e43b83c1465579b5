"""`ktrdr up`, `ktrdr down`, `ktrdr status`: the whole local stack (server, backend, workers) as one thing."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any, Optional

import typer

from ktrdr.cli.common import State, emit, fail, run, state

if TYPE_CHECKING:
    import asyncio

WORKERS = dict(min=0, show_default=True)
JSON = typer.Option(False, "--json", help="Machine-readable output (same as `ktrdr --json …`).")


def _state(ctx: typer.Context, as_json: bool) -> State:
    st = state(ctx)
    st.as_json = st.as_json or as_json
    return st


def up(ctx: typer.Context,
       backtest_workers: int = typer.Option(1, "--backtest-workers", envvar="KTRDR_BACKTEST_WORKERS", **WORKERS,
                                            help="Backtest worker processes."),
       training_workers: int = typer.Option(1, "--training-workers", envvar="KTRDR_TRAINING_WORKERS", **WORKERS,
                                            help="Training worker processes."),
       dummy_workers: int = typer.Option(1, "--dummy-workers", envvar="KTRDR_DUMMY_WORKERS", **WORKERS,
                                         help="Dummy worker processes (for `ktrdr dummy`)."),
       data_worker: bool = typer.Option(False, "--data-worker", envvar="KTRDR_DATA_WORKER",
                                        help="Also a data worker (IB when reachable, else synthetic and csv loads)."),
       training_pool: Optional[str] = typer.Option(None, "--training-pool", envvar="KTRDR_TRAINING_POOL",
                                                   help="gpu or cpu (default: gpu when CUDA/MPS works, else cpu)."),
       port: int = typer.Option(4222, "--port", envvar="KTRDR_NATS_PORT",
                                help="Embedded server's client port (a free one if taken; -1: any)."),
       monitor_port: int = typer.Option(8222, "--monitor-port", envvar="KTRDR_NATS_MONITOR_PORT",
                                        help="Embedded server's HTTP monitoring port (0: off)."),
       monitor_web: bool = typer.Option(False, "--monitor-web", envvar="KTRDR_MONITOR_WEB",
                                        help="Also serve the monitor to browsers (`ktrdr monitor --web`, localhost)."),
       monitor_web_port: int = typer.Option(8765, "--monitor-web-port", envvar="KTRDR_MONITOR_WEB_PORT",
                                            help="Port of the web monitor (0: any free one)."),
       ready_timeout: float = typer.Option(120.0, "--ready-timeout", envvar="KTRDR_READY_TIMEOUT_S",
                                           help="Seconds to wait for every process to be ready."),
       detach: bool = typer.Option(False, "--detach", "-d", help="Return once ready; `ktrdr down` stops it."),
       as_json: bool = JSON) -> None:
    """Start the embedded nats-server, one backend and workers; Ctrl-C (or `ktrdr down` with --detach) stops them."""
    from ktrdr.errors import KtrdrError
    from ktrdr.stack import Stack

    st = _state(ctx, as_json)
    try:
        stack = Stack(st.settings, backtest_workers=backtest_workers, training_workers=training_workers,
                      dummy_workers=dummy_workers, data_worker=data_worker, training_pool=training_pool or "",
                      port=port, monitor_port=monitor_port, monitor_web=monitor_web,
                      monitor_web_port=monitor_web_port, ready_timeout_s=ready_timeout)
    except KtrdrError as exc:
        fail(exc.message, exc.hint)
    code = run(lambda: _detached(stack, st) if detach else _foreground(stack, st))
    if code:
        raise typer.Exit(code)


async def _detached(stack: Any, st: State) -> int:
    await stack.start()
    emit(st, stack.summary(), lambda: _print_summary(stack.summary()))
    if not st.as_json:
        typer.echo("detached: `ktrdr status` shows it, `ktrdr down` stops it")
    return 0


async def _foreground(stack: Any, st: State) -> int:
    import asyncio  # here, not at the top: `ktrdr --help` must not pay for it

    await stack.start()  # Ctrl-C while starting cancels this task: start() stops what it had started
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before the summary: a reader may signal as soon as it sees it
        loop.add_signal_handler(sig, stop.set)
    code = 0
    try:
        emit(st, stack.summary(), lambda: _print_summary(stack.summary()))
        if not stack.mine:
            typer.echo("everything asked for already runs (started elsewhere): nothing to supervise here")
            return 0
        typer.echo("running in the foreground: Ctrl-C stops everything this command started", err=True)
        code = await _supervise(stack, stop)
    finally:
        stopped = await stack.stop()
        typer.echo(f"stopped: {', '.join(stopped) or 'nothing left running'}", err=True)
    return code


async def _supervise(stack: Any, stop: asyncio.Event) -> int:
    """Until Ctrl-C/SIGTERM or a child's exit; 1 when a child died on its own."""
    import asyncio  # here, not at the top: `ktrdr --help` must not pay for it

    stopper, exited = asyncio.ensure_future(stop.wait()), asyncio.ensure_future(stack.exited())
    try:
        await asyncio.wait({stopper, exited}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        exited.cancel()
    if not exited.done() or exited.cancelled():
        typer.echo("stopping (Ctrl-C)…", err=True)
        return 0
    child = exited.result()
    if not await stack.recorded(child):
        typer.echo("the stack was stopped from another shell (`ktrdr down`)", err=True)
        return 0
    typer.secho(f"error: {child.name} (pid {child.pid}) exited; see {child.log}", fg="red", err=True)
    typer.echo("hint: fix what its log says, then run `ktrdr up` again; stopping the rest", err=True)
    return 1


def _print_summary(summary: dict[str, Any]) -> None:
    from ktrdr.cli.render import console

    server = summary["server"]
    how = ("external: KTRDR_NATS_URL" if server["external"] else
           f"embedded, pid {server['pid']}, {'started now' if server['started_now'] else 'already running'}")
    console.print(f"nats-server  [bold]{summary['url']}[/] ({how})", soft_wrap=True)
    if server["log"]:
        console.print(f"             log {server['log']}", soft_wrap=True)
    console.print(f"namespace    {summary['namespace']}   home {summary['home']}", soft_wrap=True)
    for p in summary["processes"]:
        console.print(f"{p['name']:<12} pid {p['pid']:<7} {'started' if p['started_now'] else 'already running':<16}"
                      f"id {p['ident']:<22} log {p['log']}", soft_wrap=True, highlight=False)
    if summary.get("monitor_web"):
        console.print(f"monitor      [bold]{summary['monitor_web']}[/] (open it in a browser)", soft_wrap=True)
    console.print(f"ready in {summary['start_s']:.1f}s")


def down(ctx: typer.Context,
         timeout: float = typer.Option(20.0, "--timeout", envvar="KTRDR_STOP_TIMEOUT_S",
                                       help="Seconds each process may take to stop before it is killed."),
         ) -> None:
    """Stop every process `ktrdr up` started (workers first), then the nats-server if the stack started it."""
    import msgspec

    from ktrdr.bus.embedded import EmbeddedServer
    from ktrdr.stack_state import StateFile, terminate_stack

    home = state(ctx).settings.home_path
    files = StateFile(home)
    with files.locked():
        recorded = files.read()
        if recorded is None:
            typer.echo(f"no stack is running (nothing recorded in {files.path})")
            if EmbeddedServer(home).running():
                typer.echo("the nats-server from `ktrdr nats up` keeps running; `ktrdr nats down` stops it")
            return
        killed = {c.name for c in terminate_stack(recorded.children, timeout)}
        for c in recorded.children:
            typer.echo(f"{'killed (no exit in time)' if c.name in killed else 'stopped'} {c.name} (pid {c.pid})")
        server = EmbeddedServer(home)
        handle = server.running()
        if recorded.started_server and handle is not None and handle.pid == recorded.server_pid:
            server.down()
            typer.echo(f"stopped the nats-server (pid {handle.pid})")
        left = [c for c in recorded.children if c.alive]
        files.write(msgspec.structs.replace(recorded, children=left) if left else None)
    if left:
        fail(f"still running: {', '.join(f'{c.name} (pid {c.pid})' for c in left)}",
             hint="stop them by hand (kill -9 PID), then run `ktrdr down` again")


def status(ctx: typer.Context, as_json: bool = JSON) -> None:
    """The server, the backends (health), workers per pool, operation counts and the stack's processes."""
    from ktrdr.bus.embedded import EmbeddedServer
    from ktrdr.bus.resolve import resolve_url
    from ktrdr.stack_probe import status_report
    from ktrdr.stack_state import StateFile

    st = _state(ctx, as_json)
    home = st.settings.home_path
    recorded = StateFile(home).read()
    embedded = EmbeddedServer(home).running()
    url = resolve_url(st.settings)
    report = run(lambda: status_report(st.settings, url, recorded, embedded.pid if embedded else 0))
    emit(st, report, lambda: _print_status(report))
    problem = _problem(report)
    if problem:
        fail(*problem)


def _problem(report: dict[str, Any]) -> tuple[str, str] | None:
    """What is wrong, and what to do, or None."""
    server = report["server"]
    if not server["reachable"]:
        return f"no NATS server answers at {server['url']}", "start the stack with `ktrdr up` (or check KTRDR_NATS_URL)"
    if server.get("error"):
        return server["error"], "start the stack with `ktrdr up`"
    if report["health"] is None:
        return "no backend answers", "start one with `ktrdr up` (whole stack) or `ktrdr backend`"
    dead = [p for p in report["processes"] if not p["alive"]]
    if dead:
        names = ", ".join(f"{p['name']} (see {p['log']})" for p in dead)
        return f"stack processes not running: {names}", "restart them with `ktrdr up` (it starts what is missing)"
    return None


def _print_status(report: dict[str, Any]) -> None:
    from ktrdr.cli import render

    out = render.console
    server = report["server"]
    where = f"embedded pid {server['embedded_pid']}" if server["embedded_pid"] else "not started by ktrdr"
    out.print(f"server      {server['url']} {'[green]reachable[/]' if server['reachable'] else '[red]unreachable[/]'}"
              f" ({where})", soft_wrap=True)
    for b in report["backends"]:
        out.print(f"backend     {b['backend_id']}  version {b['version']}, since {b['started']}, "
                  f"{b['requests']} requests, {b['errors']} errors", soft_wrap=True, highlight=False)
    if health := report["health"]:
        out.print(f"health      answered by {health['backend_id']}, up {health['uptime_s']:.0f}s, "
                  f"{health['workers_alive']} of {health['workers_registered']} registered workers alive",
                  highlight=False)
        ops = report["operations"]
        out.print("operations  " + (", ".join(f"{render.status(k)} {v}" for k, v in sorted(ops.items())) or "none"))
    for pool, ws in report["pools"].items():
        out.print(f"workers     {pool}: " + ", ".join(f"{w['worker_id']} {render.status(w['status'])}"
                                                    for w in ws), soft_wrap=True, highlight=False)
    for p in report["processes"]:
        out.print(f"process     {p['name']:<12} pid {p['pid']:<7} {'alive' if p['alive'] else '[red]gone[/]':<6}"
                  f" log {p['log']}" + (f"  [bold]{p['url']}[/]" if p.get("url") else ""), soft_wrap=True,
                  highlight=False)
