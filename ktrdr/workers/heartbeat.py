"""Periodic heartbeats on `heartbeat.<kind>.<worker_id>`, and a final one with status `stopped`."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import TYPE_CHECKING

from ktrdr.bus.tasks import stop_tasks
from ktrdr.protocol.codec import encode
from ktrdr.protocol.messages import Capabilities, GpuInfo, WorkerCounters, WorkerHeartbeat

if TYPE_CHECKING:
    from ktrdr.workers.runtime import Worker

log = logging.getLogger("ktrdr.workers.heartbeat")
VERSION = "0.1.0"


def machine_capabilities(gpu: GpuInfo | None = None) -> Capabilities:
    """CPU count, memory and (when given) the GPU of this machine."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory_mb = pages * size // (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        memory_mb = 0
    return Capabilities(cpus=os.cpu_count() or 1, memory_mb=memory_mb, gpu=gpu)


class Heartbeater:
    """Publishes the worker's state every `heartbeat_s`, on time even while operations burn CPU."""

    def __init__(self, worker: Worker, gpu: GpuInfo | None = None) -> None:
        self.worker = worker
        self.capabilities = machine_capabilities(gpu)
        self.seq = 0
        self._task: asyncio.Task | None = None
        self.sent_at: list[float] = []

    def message(self, status: str | None = None) -> WorkerHeartbeat:
        """The heartbeat as of now."""
        w = self.worker
        self.seq += 1
        return WorkerHeartbeat(
            worker_id=w.worker_id, kind=w.kind, pool=w.pool, status=status or w.status, capacity=w.capacity,
            running=list(w.running), capabilities=self.capabilities, counters=WorkerCounters(**w.counters),
            interval_s=w.bus.settings.heartbeat_s, version=VERSION, host=socket.gethostname(), pid=os.getpid(),
            seq=self.seq, sent_at=time.time_ns())

    async def beat(self, status: str | None = None) -> None:
        """Publish one heartbeat now."""
        w = self.worker
        await w.bus.nc.publish(w.bus.names.heartbeat(w.kind, w.worker_id), encode(self.message(status)))
        self.sent_at.append(time.monotonic())
        del self.sent_at[:-1000]

    async def _loop(self) -> None:
        interval = self.worker.bus.settings.heartbeat_s
        next_at = time.monotonic()
        while True:
            try:
                await self.beat()
            except Exception as exc:  # disconnected: the next beat goes out after reconnect
                log.debug("heartbeat failed: %s", exc)
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    def start(self) -> None:
        """Start beating."""
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop beating and say `stopped`."""
        if self._task is not None:
            await stop_tasks([self._task])
        try:
            await self.beat("stopped")
            await self.worker.bus.nc.flush(timeout=2)
        except Exception as exc:
            log.debug("final heartbeat failed: %s", exc)
