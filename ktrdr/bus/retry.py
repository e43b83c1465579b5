"""Retry through a JetStream leader election or a reconnect: transient errors wait, others raise at once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats.errors
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

log = logging.getLogger("ktrdr.bus.retry")
T = TypeVar("T")
TRANSIENT = (nats.errors.TimeoutError, asyncio.TimeoutError, TimeoutError, nats.errors.NoRespondersError,
             ServiceUnavailableError, NoStreamResponseError, nats.errors.ConnectionReconnectingError,
             nats.errors.StaleConnectionError)


async def persist(call: Callable[[], Awaitable[T]], what: str, *, deadline_s: float = 60.0) -> T:
    """Await `call()` until it succeeds, backing off on transient errors for up to `deadline_s`."""
    end, delay = time.monotonic() + deadline_s, 0.05
    while True:
        try:
            return await call()
        except TRANSIENT as exc:
            if time.monotonic() + delay > end:
                raise
            log.info("%s: %s; retrying in %.2fs", what, type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
