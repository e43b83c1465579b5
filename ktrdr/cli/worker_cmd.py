"""`ktrdr worker <kind>`: run a worker process of one kind."""

from __future__ import annotations

from typing import Any, Optional

import typer

from ktrdr.cli.common import run, state

app = typer.Typer(no_args_is_help=True, help="Run a worker (it takes work from its pool until stopped).")

CAPACITY = typer.Option(1, "--capacity", envvar="KTRDR_WORKER_CAPACITY", min=1, help="Operations at once.")
WORKER_ID = typer.Option(None, "--worker-id", envvar="KTRDR_WORKER_ID", help="Stable id (default: generated).")
GRACE = typer.Option(10.0, "--grace", envvar="KTRDR_WORKER_GRACE_S",
                     help="Seconds a cancelled operation may take to stop before it is abandoned.")
BURST = typer.Option(False, "--burst", help="Exit once the queue is empty.")
SETUP = typer.Option(True, "--setup/--no-setup", envvar="KTRDR_WORKER_SETUP",
                     help="Create missing streams and buckets first (needs admin rights on secured servers).")


def start(ctx: typer.Context, **kw: Any) -> None:
    """Serve with the given options; re-exec when an operation had to be abandoned."""
    from ktrdr.workers.serve import reexec, serve, setup_logging

    setup_logging()
    worker = run(lambda: serve(state(ctx).settings, **kw))
    if worker.restart_required:
        reexec()


@app.command()
def dummy(ctx: typer.Context, capacity: int = CAPACITY, worker_id: Optional[str] = WORKER_ID,
          grace: float = GRACE, burst: bool = BURST, setup: bool = SETUP) -> None:
    """Serve `dummy` operations (pool cpu): for trying the system, tests and benchmarks."""
    from ktrdr.workers.dummy import run_dummy

    start(ctx, kind="dummy", op_type="dummy", pool="cpu", handler=run_dummy, capacity=capacity,
          worker_id=worker_id, grace_s=grace, burst=burst, setup=setup)
