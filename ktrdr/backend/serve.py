"""Run one backend process until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

from ktrdr.backend.service import Backend
from ktrdr.bus.handle import Bus
from ktrdr.bus.resolve import resolve_url
from ktrdr.config import Settings

log = logging.getLogger("ktrdr.backend")


async def serve_backend(settings: Settings, *, backend_id: str | None = None) -> None:
    """Connect (creating the topology), serve the API, stop cleanly on a signal."""
    bus = await Bus.open(settings, resolve_url(settings), name="ktrdr-backend", setup=True)
    backend = Backend(bus, backend_id=backend_id)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await backend.start()
    try:
        await stop.wait()
    finally:
        log.info("backend %s stopping", backend.backend_id)
        await backend.stop()
        await bus.close()
