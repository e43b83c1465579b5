"""One handle on the bus for a process: connection, JetStream, names, settings and the operations store."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError

from ktrdr.bus.connection import connect
from ktrdr.bus.mux import RequestMux
from ktrdr.bus.retry import persist
from ktrdr.bus.topology import ensure_topology
from ktrdr.config import Settings
from ktrdr.errors import BusError
from ktrdr.operations.store import OperationStore
from ktrdr.protocol.subjects import Names

log = logging.getLogger("ktrdr.bus")
SETUP_DEADLINE_S = 60.0  # a server restart or leader election during start-up is waited out, not fatal


@dataclass
class Bus:
    """What every service needs to talk to NATS."""

    nc: Client
    js: JetStreamContext
    names: Names
    settings: Settings
    ops: OperationStore
    mux: RequestMux  # API requests and acked publishes on the hot paths (orders, events, records)

    @classmethod
    async def attach(cls, nc: Client, settings: Settings, *, setup: bool = False) -> Bus:
        """Bind to an open connection; `setup` first creates or updates the topology (idempotent, so it is simply
        tried again when the server goes away midway)."""
        names = Names(settings.namespace)
        js = nc.jetstream()
        if setup:
            await persist(lambda: ensure_topology(js, names, settings), "topology setup", deadline_s=SETUP_DEADLINE_S)
        try:
            kv = await persist(lambda: js.key_value(names.bucket("operations")), "operations bucket",
                               deadline_s=SETUP_DEADLINE_S)
        except BucketNotFoundError:
            raise BusError(f"nothing is set up for namespace {names.ns!r} on this server yet",
                           hint="`ktrdr up` starts the stack and sets it up") from None
        mux = RequestMux(nc)
        return cls(nc=nc, js=js, names=names, settings=settings, mux=mux,
                   ops=OperationStore(kv, mux, names.bucket("operations")))

    @classmethod
    async def open(cls, settings: Settings, url: str | None = None, *, name: str = "ktrdr",
                   setup: bool = False) -> Bus:
        """Connect and bind."""
        nc = await connect(settings, url, name=name)
        try:
            return await cls.attach(nc, settings, setup=setup)
        except BaseException:
            await nc.close()
            raise

    async def close(self, timeout: float = 5.0) -> None:
        """Drain (flushing pending acks and publishes) and close; a drain that stalls is cut short."""
        if self.nc.is_closed:
            return
        try:
            async with asyncio.timeout(timeout):
                await self.nc.drain()
        except Exception as exc:  # a stalled or failed drain must not hang a shutdown
            log.debug("drain failed (%s); closing", exc)
        if not self.nc.is_closed:
            await self.nc.close()
