"""Regression: a cancel that lands in the middle of the runtime's poll tick still gets the full grace period."""

from __future__ import annotations

import asyncio
import time

import pytest

from ktrdr.bus.handle import Bus
from ktrdr.operations.submit import submit
from ktrdr.workers.context import OperationContext
from tests.helpers import wait_record

pytestmark = pytest.mark.chaos


async def test_slow_to_stop_operation_is_cancelled_within_grace_not_abandoned(bus: Bus, workers) -> None:
    loop = asyncio.get_running_loop()
    running = asyncio.Event()

    def handler(ctx: OperationContext) -> dict:
        loop.call_soon_threadsafe(running.set)
        ctx.cancel.wait(30)
        time.sleep(0.6)  # e.g. a checkpoint write stuck on a reconnecting connection: longer than one tick
        ctx.cancel.check()
        return {}

    worker = await workers.start(handler, grace_s=5.0)
    op = await submit(bus, "dummy", "cpu", {})
    await asyncio.wait_for(running.wait(), 10)
    await bus.nc.publish(bus.names.cancel(op.id), b'{"reason": "stop"}')
    record = await wait_record(bus, op.id, lambda r: r.terminal)
    assert record.status == "cancelled" and record.cancel_reason == "stop"
    assert not worker.restart_required, "the operation was abandoned before its grace period ran out"
