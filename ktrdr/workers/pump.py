"""Moves an operation's reporter state onto the bus: progress latest-wins (≤ 1 per ~100 ms), metrics and logs durable."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ktrdr.context import ProgressReporter
from ktrdr.protocol.messages import OperationLog, OperationMetric, OperationProgress

log = logging.getLogger("ktrdr.workers.pump")
Publish = Callable[[Any, bool], Awaitable[None]]


class ProgressPump:
    """Wakes on reporter changes (thread-safe), throttles progress, never coalesces metrics."""

    def __init__(self, reporter: ProgressReporter, publish: Publish, loop: asyncio.AbstractEventLoop,
                 op_id: str, interval_s: float = 0.1) -> None:
        self._reporter, self._publish, self._loop = reporter, publish, loop
        self._op_id, self._interval = op_id, interval_s
        self._changed = asyncio.Event()
        self._urgent = asyncio.Event()
        self._signalled = False
        self._stopped = False
        self._last = 0.0
        self.latest: dict[str, Any] | None = None  # the progress fields last published (the terminal record keeps them)
        # started by the first change: an operation that reports nothing (most short ones) costs no task
        self.task: asyncio.Task | None = None
        reporter._on_change = self.notify  # the reporter calls this from the operation's thread

    def notify(self, urgent: bool) -> None:
        """Called from any thread on every change; schedules at most one wake-up at a time."""
        if urgent:
            self._loop.call_soon_threadsafe(self._wake, True)
        elif not self._signalled:
            self._signalled = True
            self._loop.call_soon_threadsafe(self._wake, False)

    def _wake(self, urgent: bool) -> None:
        self._signalled = False
        if self.task is None and not self._stopped:
            self.task = self._loop.create_task(self.run(), name=f"progress-{self._op_id}")
        self._changed.set()
        if urgent:
            self._urgent.set()

    async def run(self) -> None:
        """Publish until stop(); a flag, not task.cancel(): a cancel can be lost inside a finishing await (3.11)."""
        while not self._stopped:
            await self._changed.wait()
            self._changed.clear()
            delay = self._last + self._interval - time.monotonic()
            if delay > 0 and not self._urgent.is_set() and not self._stopped:
                try:  # throttle window; a step change, a metric or stop() ends it early
                    async with asyncio.timeout(delay):
                        await self._urgent.wait()
                except TimeoutError:
                    pass
            self._urgent.clear()
            if not self._stopped:
                await self.flush()

    def stop(self) -> None:
        """End run() at its next wake-up (now); the caller flushes what is left."""
        self._stopped = True
        self._changed.set()
        self._urgent.set()

    async def flush(self) -> None:
        """Publish whatever the reporter holds now (metrics and logs first, in order, durably)."""
        state, metrics, logs = self._reporter.drain()
        for m in metrics:
            await self._publish(OperationMetric(operation_id=self._op_id, name=m["name"], values=m["values"]), True)
        for level, message in logs:
            await self._publish(OperationLog(operation_id=self._op_id, level=level, message=message), True)
        if state is not None:
            self.latest = _progress_fields(state)
            await self._publish(OperationProgress(operation_id=self._op_id, **self.latest), False)
            self._last = time.monotonic()


def _progress_fields(state: dict[str, Any]) -> dict[str, Any]:
    out = dict(state)
    if "percentage" in out:
        out["percentage"] = float(out["percentage"] or 0.0)
    for key in ("current_step", "current_item"):
        if key in out and out[key] is not None:
            out[key] = str(out[key])
    return out
