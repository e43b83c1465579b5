"""Stopping background tasks reliably: in Python 3.11 a cancel can be swallowed by an await that completes
in the same step (asyncio.wait_for inside nats-py), so cancel again until the task really ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger("ktrdr.bus.tasks")


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
