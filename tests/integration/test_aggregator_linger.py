"""The events consumer lingers after a short batch: a stream of events is folded in a few writes, none lost."""

from __future__ import annotations

import time

from ktrdr.bus.handle import Bus
from ktrdr.operations import transitions as tr
from ktrdr.operations.aggregator import EVENTS_LINGER_S, Aggregator
from ktrdr.operations.record import new_record
from ktrdr.protocol.codec import encode
from ktrdr.protocol.messages import OperationMetric
from tests.helpers import wait_record


async def test_events_that_trickle_in_are_folded_a_batch_per_write(bus: Bus, aggregator: Aggregator) -> None:
    op_id = "op_trickle"
    await bus.ops.create(tr.claim(1, 1, "w1")(new_record("dummy", "cpu", {}, op_id=op_id)))

    async def metric(seq: int) -> None:
        await bus.js.publish(bus.names.event(op_id, "metric"),
                             encode(OperationMetric(operation_id=op_id, attempt=1, seq=seq, values={"i": seq})))

    await metric(1)
    await wait_record(bus, op_id, lambda r: r.metrics_count == 1)
    writes_before, t0 = aggregator.stats["writes"], time.monotonic()
    for seq in range(2, 42):  # one at a time, each acked: without the linger each would be fetched and written alone
        await metric(seq)
    windows = (time.monotonic() - t0) / EVENTS_LINGER_S + 1
    await wait_record(bus, op_id, lambda r: r.metrics_count == 41)
    writes = aggregator.stats["writes"] - writes_before
    assert writes <= windows + 1, f"{writes} writes for 40 events published over {windows:.1f} linger windows"

