"""`ktrdr worker <kind>`: run a worker process of one kind."""

from __future__ import annotations

from typing import Any, Optional

import typer

from ktrdr.cli import checks
from ktrdr.cli.common import run, state
from ktrdr.operations import kinds

app = typer.Typer(no_args_is_help=True, help="Run a worker (it takes work from its pool until stopped).")

CAPACITY = typer.Option(1, "--capacity", envvar="KTRDR_WORKER_CAPACITY", min=1, help="Operations at once.")
WORKER_ID = typer.Option(None, "--worker-id", envvar="KTRDR_WORKER_ID", help="Stable id (default: generated).",
                         callback=checks.namespace)
GRACE = typer.Option(10.0, "--grace", envvar="KTRDR_WORKER_GRACE_S",
                     help="Seconds a cancelled operation may take to stop before it is abandoned.")
BURST = typer.Option(False, "--burst", help="Exit once the queue is empty.")
SETUP = typer.Option(True, "--setup/--no-setup", envvar="KTRDR_WORKER_SETUP",
                     help="Create missing streams and buckets first (needs admin rights on secured servers).")


def start(ctx: typer.Context, **kw: Any) -> None:
    """Serve with the given options; re-exec when an operation had to be abandoned."""
    from ktrdr.workers.serve import reexec, serve, setup_logging

    setup_logging()
    settings = state(ctx).settings
    worker = run(lambda: serve(settings, **kw), loop=settings.event_loop)
    if worker.restart_required:
        reexec()


def _generic(name: str) -> None:
    """Register `ktrdr worker <name>` for a kind that needs no options of its own."""

    def command(ctx: typer.Context, capacity: int = CAPACITY, worker_id: Optional[str] = WORKER_ID,
                grace: float = GRACE, burst: bool = BURST, setup: bool = SETUP) -> None:
        from ktrdr.workers.serve import handler_of

        kind = kinds.get(name)
        start(ctx, kind=name, op_type=name, pool=kind.default_pool, handler=handler_of(kind), capacity=capacity,
              worker_id=worker_id, grace_s=grace, burst=burst, setup=setup)

    kind = kinds.get(name)
    app.command(name=name, help=f"Serve `{name}` operations (pool {kind.default_pool}). {kind.summary}")(command)


@app.command()
def training(ctx: typer.Context,
             pool: Optional[str] = typer.Option(None, "--pool", envvar="KTRDR_TRAINING_POOL",
                                                help="gpu or cpu (default: gpu when CUDA/MPS works, else cpu)."),
             capacity: int = CAPACITY, worker_id: Optional[str] = WORKER_ID, grace: float = GRACE,
             burst: bool = BURST, setup: bool = SETUP) -> None:
    """Serve `training` operations; a gpu-pool worker refuses to start without a usable GPU."""
    from ktrdr.cli.common import fail
    from ktrdr.training.errors import DeviceUnavailable
    from ktrdr.workers.serve import handler_of
    from ktrdr.workers.training import worker_gpu

    try:
        pool_name, gpu = worker_gpu(pool)
    except DeviceUnavailable as exc:
        fail(f"cannot join the gpu pool: {exc.message}", exc.hint)
    except ValueError as exc:
        fail(str(exc))
    start(ctx, kind="training", op_type="training", pool=pool_name, handler=handler_of(kinds.get("training")), capacity=capacity,
          worker_id=worker_id, grace_s=grace, burst=burst, setup=setup, gpu=gpu)


@app.command()
def data(ctx: typer.Context,
         ib_host: str = typer.Option("127.0.0.1", "--ib-host", envvar="KTRDR_IB_HOST", help="IB Gateway / TWS host."),
         ib_port: int = typer.Option(4002, "--ib-port", envvar="KTRDR_IB_PORT",
                                     help="IB API port (Gateway 4001 live / 4002 paper, TWS 7496 / 7497)."),
         ib_client_id: int = typer.Option(1, "--ib-client-id", envvar="KTRDR_IB_CLIENT_ID",
                                          help="API client id, unique among this account's connections."),
         ib_timeout: float = typer.Option(5.0, "--ib-timeout", envvar="KTRDR_IB_TIMEOUT_S",
                                          help="Seconds to wait for IB when connecting."),
         allow_no_ib: bool = typer.Option(False, "--allow-no-ib", envvar="KTRDR_ALLOW_NO_IB",
                                          help="Start even where ib_insync cannot run (an unreachable IB never stops "
                                               "the worker: it serves synthetic and csv loads and keeps retrying)."),
         ib_pacing: Optional[str] = typer.Option(None, "--ib-pacing", envvar="KTRDR_IB_PACING",
                                                 help='IB pacing limits as JSON, e.g. \'{"min_interval_s": 3}\' '
                                                      "(default: IB's documented limits)."),
         retry_delay: float = typer.Option(30.0, "--retry-delay", envvar="KTRDR_DATA_RETRY_DELAY_S", min=0.0,
                                           help="Seconds before a load that failed retryably (IB down, pacing) "
                                                "is tried again."),
         capacity: int = CAPACITY, worker_id: Optional[str] = WORKER_ID, grace: float = GRACE,
         burst: bool = BURST, setup: bool = SETUP) -> None:
    """Serve `data` loads (pool ib): the one process that talks to IB Gateway."""
    from ktrdr.cli.common import fail
    from ktrdr.data.pacing import parse_rules
    from ktrdr.errors import ConfigError
    from ktrdr.workers.ib_session import IbSession, IbUnavailable
    from ktrdr.workers.serve import handler_of, setup_logging

    setup_logging()
    services: dict[str, Any] = {"retry_delay_s": retry_delay}
    try:
        services["ib_pacing"] = parse_rules(ib_pacing) if ib_pacing else None
    except ConfigError as exc:
        fail(f"--ib-pacing: {exc.message}", exc.hint)
    session: IbSession | None = IbSession(ib_host, ib_port, ib_client_id, connect_timeout_s=ib_timeout)
    try:  # IB down is no reason to refuse synthetic and csv loads: connect in the background meanwhile
        session.start(keep_trying=True)
    except IbUnavailable as exc:  # ib_insync itself is unusable here
        if not allow_no_ib:
            fail(exc.message, exc.hint)
        typer.echo(f"warning: {exc.message}; serving synthetic and csv loads only (--allow-no-ib)", err=True)
        session = None
    if session is not None and not session.connected:
        typer.echo(f"warning: IB at {ib_host}:{ib_port} does not answer; serving synthetic and csv loads now, "
                   "IB loads once it connects (retrying in the background)", err=True)
    try:
        start(ctx, kind="data", op_type="data", pool="ib", handler=handler_of(kinds.get("data")), capacity=capacity,
              worker_id=worker_id, grace_s=grace, burst=burst, setup=setup, services={**services, "ib": session})
    finally:
        if session is not None:
            session.close()


# Kinds with their own command above keep it; every other worker kind gets the plain one.
for _kind in kinds.worker_kinds():
    if _kind.name not in ("training", "data"):
        _generic(_kind.name)
