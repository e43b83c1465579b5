"""An in-memory mirror of the operations bucket, fed by one KV watch: fast lists and change callbacks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ktrdr.bus.handle import Bus
from ktrdr.bus.reading import Deleted, Loaded, watch_bucket
from ktrdr.bus.tasks import stop_tasks
from ktrdr.operations.record import OperationRecord

log = logging.getLogger("ktrdr.backend.index")
Listener = Callable[[OperationRecord], Awaitable[None]]


class OperationsIndex:
    """Every record, current to within one KV update; listeners hear each change after the initial load."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.records: dict[str, OperationRecord] = {}
        self.ready = asyncio.Event()
        self.listeners: list[Listener] = []
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Start watching; returns once the current records are loaded."""
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.ready.wait(), 60)

    async def stop(self) -> None:
        """Stop watching."""
        if self._task is not None:
            await stop_tasks([self._task])

    async def _run(self) -> None:
        async for item in watch_bucket(self.bus.ops.kv, OperationRecord):
            if isinstance(item, Loaded):
                self.ready.set()
            elif isinstance(item, Deleted):
                self.records.pop(item.key, None)
            else:
                await self._apply(item)

    async def _apply(self, record: OperationRecord) -> None:
        self.records[record.id] = record
        if self.ready.is_set():
            for listener in self.listeners:
                try:
                    await listener(record)
                except Exception:  # a listener's bug must not stop the mirror
                    log.exception("operations listener failed for %s", record.id)

    def query(self, *, status: list[str] | None = None, types: list[str] | None = None,
              active_only: bool = False) -> list[OperationRecord]:
        """Matching records, newest first."""
        out = [r for r in self.records.values()
               if (not status or r.status in status) and (not types or r.type in types)
               and (not active_only or r.active)]
        out.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return out
