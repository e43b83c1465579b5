"""Run one worker process: connect, serve until SIGTERM/SIGINT (graceful), re-exec if an operation got stuck."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from importlib import import_module
from typing import Any

from ktrdr.bus.handle import Bus
from ktrdr.bus.resolve import resolve_url
from ktrdr.bus.tasks import loop_name
from ktrdr.config import Settings
from ktrdr.operations.kinds import OperationKind
from ktrdr.protocol.messages import GpuInfo
from ktrdr.workers.context import Handler
from ktrdr.workers.runtime import Worker

log = logging.getLogger("ktrdr.workers")


def handler_of(kind: OperationKind) -> Handler:
    """The kind's handler (`module:function`), imported only by the worker that serves it."""
    module, _, function = kind.handler.partition(":")
    return getattr(import_module(module), function)


def setup_logging(level: int = logging.INFO) -> None:
    """One-line log records on stderr."""
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


async def serve(settings: Settings, *, kind: str, op_type: str, pool: str, handler: Handler,
                capacity: int = 1, worker_id: str | None = None, grace_s: float = 10.0, burst: bool = False,
                setup: bool = True, services: dict[str, Any] | None = None, gpu: GpuInfo | None = None) -> Worker:
    """Serve until stopped; returns the worker (its `restart_required` says whether to re-exec)."""
    bus = await Bus.open(settings, resolve_url(settings), name=f"ktrdr-worker-{kind}", setup=setup)
    worker = Worker(bus, kind=kind, op_type=op_type, pool=pool, handler=handler, capacity=capacity,
                    worker_id=worker_id, grace_s=grace_s, services=services, gpu=gpu)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    log.info("worker %s serving %s/%s (capacity %d) on %s, %s loop", worker.worker_id, op_type, pool, capacity,
             bus.nc.connected_url.netloc if bus.nc.connected_url else "?", loop_name())
    try:
        await worker.run(burst=burst)
    finally:
        await bus.close()
    log.info("worker %s stopped (%s)", worker.worker_id, worker.counters)
    return worker


def reexec() -> None:
    """Replace this process with a fresh copy of itself (the only way to end an abandoned thread)."""
    log.warning("an operation ignored cancellation; restarting the worker process")
    os.execv(sys.executable, [sys.executable, "-m", "ktrdr", *sys.argv[1:]])
