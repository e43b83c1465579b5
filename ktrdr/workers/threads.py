"""The threads operations run on: one hand-off to a thread and one back to the loop per operation.

`ThreadPoolExecutor.submit` wrapped by `asyncio.wrap_future` and awaited through `asyncio.wait` costs about
120 µs of CPU per no-op call on this project's 2-core bench machine: a work item, two futures chained by callbacks,
a waiter and a timer per wait. A fixed set of threads reading one queue, each handing its outcome straight to an
asyncio future, costs about 70 µs. The threads are daemons: one running an abandoned operation (it ignored its
cancel past the grace period) must not hold the process at exit, since the worker restarts itself to get rid of it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("ktrdr.workers.threads")
Job = tuple[Callable[[Any], Any], Any, asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


def _resolve(fut: asyncio.Future[Any], outcome: Any) -> None:
    """Hand the outcome over, unless the operation was given up on meanwhile (abandoned, or its task cancelled)."""
    if not fut.done():
        fut.set_result(outcome)


class OperationThreads:
    """`size` threads running handlers; each call's outcome is its return value or the exception it raised."""

    def __init__(self, size: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._serve, name=f"{name}_{i}", daemon=True) for i in range(size)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> asyncio.Future[Any]:
        """Run `fn(arg)` on a free thread; a future (of this loop) of its return value or its exception."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((fn, arg, loop, fut))
        return fut

    def shutdown(self) -> None:
        """Let every thread end once it is idle (one still running an operation ends when that returns)."""
        for _ in self._threads:
            self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, arg, loop, fut = job
            try:
                outcome = fn(arg)
            except BaseException as exc:  # the operation's outcome, reported like any other
                outcome = exc
            try:
                loop.call_soon_threadsafe(_resolve, fut, outcome)
            except RuntimeError:  # the loop closed while the operation ran: nobody is left to tell
                log.debug("operation outcome dropped: its loop is closed")
            del job, fn, arg, fut, outcome  # hold nothing of a finished operation while idle
