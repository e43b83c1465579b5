"""The aggregator keeps folding when one fold raises: the others are written, the failed one is retried."""

from __future__ import annotations

import asyncio

import msgspec

from ktrdr.bus.handle import Bus
from ktrdr.operations import transitions as tr
from ktrdr.operations.aggregator import Aggregator
from ktrdr.operations.record import new_record
from ktrdr.protocol.codec import encode
from ktrdr.protocol.messages import OperationCompleted, OperationEvent, OperationMetric, OperationProgress, event_kind
from tests.helpers import wait_record


async def running(bus: Bus, op_id: str) -> None:
    """A running record, as a worker's claim leaves it."""
    await bus.ops.create(tr.claim(1, 1, "w1")(new_record("dummy", "cpu", {}, op_id=op_id)))


async def complete(bus: Bus, op_id: str) -> None:
    """The worker's durable `completed` event."""
    await bus.js.publish(bus.names.event(op_id, "completed"),
                         encode(OperationCompleted(operation_id=op_id, attempt=1, seq=1, result={"ok": op_id})))


async def test_a_fold_that_raises_is_counted_retried_and_holds_back_no_other(bus: Bus,
                                                                            aggregator: Aggregator) -> None:
    await running(bus, "op_good")
    await bus.ops.kv.put("op_broken", b"{not a record")  # an unreadable value: get() raises on every fold
    await complete(bus, "op_broken")
    await complete(bus, "op_good")
    good = await wait_record(bus, "op_good", lambda r: r.terminal)
    assert good.status == "completed" and good.result == {"ok": "op_good"}

    await running(bus, "op_later")  # the loop is still folding after the error
    await complete(bus, "op_later")
    assert (await wait_record(bus, "op_later", lambda r: r.terminal)).status == "completed"
    assert aggregator.stats["errors"] >= 1

    repaired = tr.claim(1, 1, "w1")(new_record("dummy", "cpu", {}, op_id="op_broken"))
    await bus.ops.kv.put("op_broken", msgspec.json.encode(repaired))  # the naked event comes back and folds
    done = await wait_record(bus, "op_broken", lambda r: r.terminal, timeout=30)
    assert done.status == "completed" and done.result == {"ok": "op_broken"}


async def test_a_record_changed_since_our_last_write_is_read_back_and_nothing_is_lost(
        bus: Bus, aggregator: Aggregator) -> None:
    op_id = "op_changed"
    await running(bus, op_id)

    async def publish(ev: OperationEvent) -> None:
        await bus.js.publish(bus.names.event(op_id, event_kind(ev)), encode(ev))

    await publish(OperationMetric(operation_id=op_id, attempt=1, seq=1, values={"loss": 1.0}))
    await wait_record(bus, op_id, lambda r: r.metrics_count == 1)  # our write: the next fold starts from it
    record, revision = await bus.ops.get(op_id)
    await bus.ops.put_if(msgspec.structs.replace(record, cancel_reason="someone else"), revision)
    await publish(OperationMetric(operation_id=op_id, attempt=1, seq=2, values={"loss": 0.5}))
    await publish(OperationProgress(operation_id=op_id, attempt=1, seq=3, percentage=40.0))
    done = await wait_record(bus, op_id, lambda r: r.progress_seq == 3 and r.metrics_count >= 2)
    assert done.cancel_reason == "someone else" and done.metrics_count == 2
    await asyncio.sleep(0.2)  # a second count of the metric would have landed by now
    assert (await bus.ops.get(op_id))[0].metrics_count == 2
