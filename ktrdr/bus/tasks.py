"""Background tasks: stopping them reliably (in Python 3.11 a cancel can be swallowed by an await that completes
in the same step, asyncio.wait_for inside nats-py, so cancel again until the task really ends), and handling a
subscription's messages concurrently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

log = logging.getLogger("ktrdr.bus.tasks")
T = TypeVar("T")


def loop_name() -> str:
    """The running event loop's implementation, for the logs: "uvloop" or "asyncio"."""
    return type(asyncio.get_running_loop()).__module__.partition(".")[0]


async def stop_tasks(tasks: Iterable[asyncio.Task], *, attempts: int = 20, every_s: float = 0.25) -> None:
    """Cancel every task and wait until all have finished, re-cancelling any that shrugged a cancel off."""
    pending = {t for t in tasks if not t.done()}
    for _ in range(attempts):
        if not pending:
            return
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every_s)
    if pending:
        log.warning("%d background task(s) did not stop: %s", len(pending), [t.get_name() for t in pending])


class Concurrently:
    """Runs a subscription's handler as a task per message, at most `limit` at once.

    nats-py calls a subscription's handler for one message at a time, so a request that waits on the server
    (the API's start: a record write, then an order) holds up every request behind it. As tasks, a burst of
    requests shares its round trips and its writes to the socket. Waiting for a free place holds the
    subscription back, so a flood is bounded.
    """

    def __init__(self, limit: int = 256) -> None:
        self._free = asyncio.Semaphore(limit)
        self._running: set[asyncio.Task] = set()

    def __call__(self, handler: Callable[[T], Awaitable[None]]) -> Callable[[T], Awaitable[None]]:
        """`handler`, started as a task (once a place is free) instead of awaited."""

        async def start(item: T) -> None:
            await self._free.acquire()
            task = asyncio.create_task(handler(item))
            self._running.add(task)
            task.add_done_callback(self._finished)

        return start

    def _finished(self, task: asyncio.Task) -> None:
        self._running.discard(task)
        self._free.release()
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("handler task failed: %r", exc)

    async def drain(self, timeout: float = 5.0) -> None:
        """Let the running handlers finish (those still running after `timeout` are cancelled)."""
        if self._running:
            _, late = await asyncio.wait(set(self._running), timeout=timeout)
            await stop_tasks(late)
