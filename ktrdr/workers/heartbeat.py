"""Periodic heartbeats on `heartbeat.<kind>.<worker_id>`, and a final one with status `stopped`."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from ktrdr.bus.handle import Bus
from ktrdr.bus.tasks import stop_tasks
from ktrdr.protocol.codec import encode
from ktrdr.protocol.messages import Capabilities, GpuInfo, WorkerCounters, WorkerHeartbeat

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


@dataclass(frozen=True)
class WorkerIdentity:
    """What a worker is: its id, the kind and pool it serves, how many operations it runs at once."""

    worker_id: str
    kind: str
    pool: str
    capacity: int


class Heartbeater:
    """Publishes the worker's state every `heartbeat_s`, on time even while operations burn CPU."""

    def __init__(self, bus: Bus, identity: WorkerIdentity, counters: dict[str, int],
                 state: Callable[[], tuple[str, list[str]]], gpu: GpuInfo | None = None) -> None:
        self.bus, self.identity, self.counters, self.state = bus, identity, counters, state
        self.capabilities = machine_capabilities(gpu)
        self.seq = 0
        self.notes: Callable[[], dict[str, str]] = dict  # the worker sets it when it has services to report
        self._task: asyncio.Task | None = None
        self.sent_at: list[float] = []

    def message(self, status: str | None = None) -> WorkerHeartbeat:
        """The heartbeat as of now."""
        me, (now_status, running) = self.identity, self.state()
        self.seq += 1
        return WorkerHeartbeat(
            worker_id=me.worker_id, kind=me.kind, pool=me.pool, status=status or now_status, capacity=me.capacity,
            running=running, capabilities=self.capabilities, counters=WorkerCounters(**self.counters),
            interval_s=self.bus.settings.heartbeat_s, version=VERSION, host=socket.gethostname(), pid=os.getpid(),
            seq=self.seq, sent_at=time.time_ns(), notes=self.notes())

    async def beat(self, status: str | None = None) -> None:
        """Publish one heartbeat now."""
        me = self.identity
        await self.bus.nc.publish(self.bus.names.heartbeat(me.kind, me.worker_id), encode(self.message(status)))
        self.sent_at.append(time.monotonic())
        del self.sent_at[:-1000]

    async def _loop(self) -> None:
        interval = self.bus.settings.heartbeat_s
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
            await self.bus.nc.flush(timeout=2)
        except Exception as exc:
            log.debug("final heartbeat failed: %s", exc)
