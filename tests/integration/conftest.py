"""Fixtures for the operation-life tests: a bus with topology, an aggregator, in-process dummy workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest_asyncio

from ktrdr.bus.handle import Bus
from ktrdr.config import Settings
from ktrdr.context import MemoryCheckpointer
from ktrdr.operations.aggregator import Aggregator
from ktrdr.workers.context import Handler
from ktrdr.workers.dummy import run_dummy
from ktrdr.workers.runtime import Worker


@pytest_asyncio.fixture
async def bus(settings: Settings) -> AsyncIterator[Bus]:
    """A connected bus with this test's topology created."""
    b = await Bus.open(settings, name="test-bus", setup=True)
    yield b
    await b.close()


@pytest_asyncio.fixture
async def aggregator(bus: Bus) -> AsyncIterator[Aggregator]:
    """The event aggregator folding into the operations bucket."""
    agg = Aggregator(bus)
    await agg.start()
    yield agg
    await agg.stop()


class WorkerPool:
    """Starts in-process workers on their own connections and stops them at the end of the test."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.items: list[tuple[Worker, asyncio.Task, Bus]] = []

    async def start(self, handler: Handler = run_dummy, *, op_type: str = "dummy", pool: str = "cpu",
                    burst: bool = False, **kw: Any) -> Worker:
        """A running worker; `burst` returns when the queue is empty."""
        b = await Bus.open(self.settings, name="test-worker")
        kw.setdefault("checkpoints", _memory_checkpoints())
        worker = Worker(b, kind=op_type, op_type=op_type, pool=pool, handler=handler, **kw)
        task = asyncio.create_task(worker.run(burst=burst))
        self.items.append((worker, task, b))
        return worker

    async def close(self) -> None:
        """Stop every worker and close its connection."""
        for worker, task, b in self.items:
            worker.stop()
            try:
                await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)
            except TimeoutError:
                import sys
                for t in asyncio.all_tasks():
                    t.print_stack(file=sys.stderr)
                raise
            await b.close()


def _memory_checkpoints() -> Callable[..., MemoryCheckpointer]:
    store: dict[str, MemoryCheckpointer] = {}
    return lambda op_id, loop: store.setdefault(op_id, MemoryCheckpointer())


@pytest_asyncio.fixture
async def workers(settings: Settings) -> AsyncIterator[WorkerPool]:
    """Factory of in-process workers."""
    pool = WorkerPool(settings)
    yield pool
    await pool.close()


class BackendPool:
    """Starts backends on their own connections; `kill` drops one without a clean stop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.items: list[tuple[Any, Bus]] = []

    async def start(self, **kw: Any) -> Any:
        """A running backend."""
        from ktrdr.backend.service import Backend

        b = await Bus.open(self.settings, name="test-backend", setup=True)
        backend = Backend(b, **kw)
        await backend.start()
        self.items.append((backend, b))
        await self._answers(b)
        return backend

    async def _answers(self, b: Bus) -> None:
        """Wait until a request from another connection reaches the new backend (its subscriptions are live)."""
        probe = await Bus.open(self.settings, name="test-probe")
        try:
            async with asyncio.timeout(10):
                while True:
                    try:
                        await probe.nc.request(b.names.api("system", "health"), b"", timeout=2)
                        return
                    except Exception:  # not yet routed to it: ask again
                        await asyncio.sleep(0.05)
        finally:
            await probe.close()

    async def kill(self, backend: Any) -> None:
        """Close its connection abruptly (as if the process died)."""
        for item in self.items:
            if item[0] is backend:
                await item[1].nc.close()
                await backend.stop()
                self.items.remove(item)
                return

    async def close(self) -> None:
        """Stop every backend."""
        for backend, b in self.items:
            await backend.stop()
            await b.close()


@pytest_asyncio.fixture
async def backends(settings: Settings) -> AsyncIterator[BackendPool]:
    """Factory of in-process backends."""
    pool = BackendPool(settings)
    yield pool
    await pool.close()


@pytest_asyncio.fixture
async def client(bus: Bus) -> Any:
    """A client over the test's bus."""
    from ktrdr.client import KtrdrClient

    return KtrdrClient(bus)


@pytest_asyncio.fixture
async def fast(settings: Settings) -> AsyncIterator[tuple[Bus, Settings]]:
    """A bus whose work consumers redeliver after 2 s, with an aggregator running (failover tests)."""
    quick = msgspec.structs.replace(settings, ack_wait_s=2.0)
    bus = await Bus.open(quick, setup=True)
    agg = Aggregator(bus)
    await agg.start()
    yield bus, quick
    await agg.stop()
    await bus.close()
