"""The backend process: the `ktrdr-backend` NATS service plus registry, aggregator, routing, dead letters, parents."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nats.micro import add_service
from nats.micro.request import Request

from ktrdr.backend.deadletter import DeadLetters
from ktrdr.backend.endpoints import BackendParts, Endpoints
from ktrdr.backend.errors import to_failure
from ktrdr.backend.index import OperationsIndex
from ktrdr.backend.parents import ParentDriver
from ktrdr.backend.registry import Registry
from ktrdr.backend.routing import move_waiting_gpu_orders, pool_for
from ktrdr.backend.takeover import take_over_lost
from ktrdr.bus.connection import flush
from ktrdr.bus.handle import Bus
from ktrdr.operations.aggregator import Aggregator
from ktrdr.operations.cancel import CancelIntents
from ktrdr.operations.kinds import api_endpoints
from ktrdr.protocol.codec import decode, encode
from ktrdr.bus.tasks import Concurrently, loop_name, stop_tasks

log = logging.getLogger("ktrdr.backend")
VERSION = "0.1.0"


class Backend:
    """Orchestrates; never runs an operation. Any number may run side by side."""

    def __init__(self, bus: Bus, *, backend_id: str | None = None, stuck_after_s: float = 30.0,
                 retention_every_s: float = 3600.0) -> None:
        self.bus = bus
        self.backend_id = backend_id or f"backend-{socket.gethostname().split('.')[0]}-{secrets.token_hex(3)}"
        self.started = time.monotonic()
        self.index = OperationsIndex(bus)
        self.registry: Registry | None = None  # type: ignore[assignment]
        self.aggregator = Aggregator(bus, known=self.index.records.get)
        self.dead = DeadLetters(bus)
        self.cancels = CancelIntents(bus)
        self.parents = ParentDriver(bus, self.index, lambda t, d: pool_for(t, d, self.registry))
        self.endpoints: Endpoints | None = None  # built once the registry is open
        self.retention_every_s = retention_every_s
        self.stuck_after_s = stuck_after_s
        self._service: Any = None
        self._tasks: list[asyncio.Task] = []
        self._requests = Concurrently(256)  # requests in flight at once

    async def start(self) -> None:
        """Bring every part up; the API answers last, once the views are loaded."""
        self.registry = await Registry.open(self.bus, stuck_after_s=self.stuck_after_s)
        await self.registry.start()
        self.endpoints = Endpoints(BackendParts(bus=self.bus, registry=self.registry, index=self.index,
                                                parents=self.parents, backend_id=self.backend_id,
                                                started=self.started))
        await self.index.start()
        self.index.listeners.append(self.parents.on_change)
        await self.aggregator.start()
        await self.dead.start()
        await self.cancels.start()
        self._tasks = [asyncio.create_task(self._every(1.0, self._route)),
                       asyncio.create_task(self._every(max(0.2, self.bus.settings.heartbeat_s / 4), self._take_over)),
                       asyncio.create_task(self._every(self.retention_every_s, self.retention_sweep))]
        self._service = await self._start_service()
        await flush(self.bus.nc)  # the server knows our subscriptions before anyone is told we are up
        log.info("backend %s serving %s.api.* (service %s, %s loop)", self.backend_id, self.bus.names.ns,
                 self.bus.names.service_name(), loop_name())

    async def _start_service(self) -> Any:
        n = self.bus.names
        service = await add_service(self.bus.nc, name=n.service_name(), version=VERSION,
                                    description="KTRDR backend API", queue_group=n.service_name(),
                                    metadata={"backend_id": self.backend_id})
        assert self.endpoints is not None, "start() builds the endpoints first"
        group = service.add_group(name=f"{n.ns}.api")
        for (area, verb), req_type in api_endpoints().items():
            method = self.endpoints.method(area, verb)
            await group.add_endpoint(name=f"{area}-{verb}", subject=f"{area}.{verb}",
                                     handler=self._requests(self._handler(req_type, method)))
        return service

    def _handler(self, req_type: type, method: Callable[[Any], Awaitable[Any]]) -> Callable[[Request], Awaitable[None]]:
        async def handle(req: Request) -> None:
            try:
                typed = decode(req.data.strip() or b"{}", req_type, subject=req.subject)
                reply = await method(typed)
                await req.respond(encode(reply))
            except Exception as exc:  # every failure becomes an error reply; the service lives on
                failure = to_failure(exc)
                if failure.code >= 500:
                    log.exception("endpoint %s failed", req.subject)
                # the header is one line: a CR/LF echoed from the request would break the protocol
                await req.respond_error(str(failure.code), " ".join(failure.message.split())[:300],
                                        data=encode(failure.body()))
        return handle

    async def _every(self, period: float, job: Callable[[], Awaitable[Any]]) -> None:
        while True:
            await asyncio.sleep(period)
            try:
                await job()
            except Exception:  # a periodic job must not die of one bad round
                log.exception("periodic job %s failed", getattr(job, "__name__", job))

    async def _route(self) -> None:
        assert self.registry is not None
        await move_waiting_gpu_orders(self.bus, self.index, self.registry)

    async def _take_over(self) -> None:
        assert self.registry is not None
        await take_over_lost(self.bus, self.index, self.registry)

    async def retention_sweep(self) -> list[str]:
        """Delete terminal operations older than retention_days (never active ones)."""
        cutoff = time.time_ns() - int(self.bus.settings.retention_days * 86400e9)
        doomed = [r.id for r in self.index.records.values() if r.terminal and 0 < r.finished_at < cutoff]
        for op_id in doomed:
            await self.bus.ops.delete(op_id)
        if doomed:
            log.info("retention: deleted %d operations finished over %.1f days ago", len(doomed),
                     self.bus.settings.retention_days)
        return doomed

    async def stop(self) -> None:
        """Stop answering and folding; nothing is lost (durable consumers keep the rest)."""
        await stop_tasks(self._tasks)
        parts = [self._service.stop() if self._service else None, self._requests.drain(), self.dead.stop(),
                 self.cancels.stop(), self.aggregator.stop(), self.index.stop(),
                 self.registry.stop() if self.registry else None]
        for part in parts:
            if part is None:
                continue
            try:
                await part
            except Exception as exc:  # stopping after the connection died: nothing left to undo
                log.debug("backend stop: %s", exc)
