"""One backend folds at a time: the server pins the aggregator's consumers to one of them, hands them over at a
graceful stop at once and after the pin's timeout when a backend dies, and a pin the server dropped sends the
puller back to the queue of standbys."""

from __future__ import annotations

import json
import time

import msgspec
import pytest
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig

from ktrdr.bus.handle import Bus
from ktrdr.bus.pull import BatchPuller, PullError
from ktrdr.bus.topology import FOLD_PIN_S, ensure_topology
from ktrdr.config import Settings
from ktrdr.operations import transitions as tr
from ktrdr.operations.aggregator import Aggregator
from ktrdr.operations.record import new_record
from ktrdr.protocol.codec import encode
from ktrdr.protocol.messages import OperationProgress
from tests.helpers import eventually, wait_record


async def _running(bus: Bus, op_id: str) -> None:
    await bus.ops.create(tr.claim(1, 1, "w1")(new_record("dummy", "cpu", {}, op_id=op_id)))


async def _progress(bus: Bus, op_id: str, seq: int) -> None:
    ev = OperationProgress(operation_id=op_id, attempt=1, seq=seq, percentage=float(seq))
    await bus.nc.publish(bus.names.event(op_id, "progress"), encode(ev))


async def test_one_of_two_backends_folds_and_the_other_takes_over_at_once_when_it_stops(
        bus: Bus, settings: Settings) -> None:
    other_bus = await Bus.open(settings, name="test-other-backend")
    first, second = Aggregator(bus), Aggregator(other_bus)
    await first.start()
    await second.start()
    try:
        await _running(bus, "op_pinned")
        for seq in range(1, 21):
            await _progress(bus, "op_pinned", seq)
        await wait_record(bus, "op_pinned", lambda r: r.progress_seq == 20)
        folders = [a for a in (first, second) if a.stats["events"]]
        assert len(folders) == 1, f"events folded by {[a.stats for a in (first, second)]}"
        pinned, standby = folders[0], (second if folders[0] is first else first)

        await pinned.stop()  # gives the pin up: the standby is fed long before the pin's timeout
        t0 = time.monotonic()
        await _progress(bus, "op_pinned", 21)
        await wait_record(bus, "op_pinned", lambda r: r.progress_seq == 21, timeout=FOLD_PIN_S * 3)
        assert time.monotonic() - t0 < FOLD_PIN_S / 2 and standby.stats["events"] >= 1
    finally:
        await first.stop()
        await second.stop()
        await other_bus.close()


async def test_a_pin_the_server_dropped_ends_the_pull_and_the_next_pull_waits_its_turn(bus: Bus) -> None:
    n = bus.names
    puller = BatchPuller(bus.nc, n.progress_stream, n.progress_consumer, group=n.fold_group)
    await puller.start()
    await _progress(bus, "op_a", 1)
    first = await puller.fetch_ready(10, timeout=5.0)
    assert len(first) == 1 and puller.pin
    await first[0].ack()
    old_pin = puller.pin
    # an operator (or the pin's timeout) unpins the consumer: our pin is no longer honoured
    reply = await bus.nc.request(f"$JS.API.CONSUMER.UNPIN.{n.progress_stream}.{n.progress_consumer}",
                                 json.dumps({"group": n.fold_group}).encode(), timeout=5)
    assert "error" not in json.loads(reply.data), reply.data
    await _progress(bus, "op_b", 1)
    with pytest.raises(NatsTimeoutError):  # the server answers the old pin with 423: an empty pull, not an error
        await puller.fetch_ready(10, timeout=5.0)
    assert puller.pin == ""
    got = await puller.fetch_ready(10, timeout=5.0)  # without a pin it is pinned afresh
    assert [m.subject for m in got][-1] == n.event("op_b", "progress") and puller.pin not in ("", old_pin)
    await puller.stop()


async def test_a_pull_that_names_no_group_is_refused(bus: Bus) -> None:
    n = bus.names
    puller = BatchPuller(bus.nc, n.progress_stream, n.progress_consumer)
    await puller.start()
    with pytest.raises(PullError, match="400"):
        await puller.fetch_ready(10, timeout=1.0)
    await puller.stop()


async def test_an_older_unpinned_consumer_is_updated_to_the_pinned_policy(bus: Bus, settings: Settings) -> None:
    n = bus.names
    await bus.js.delete_consumer(n.progress_stream, n.progress_consumer)
    await bus.js.add_consumer(n.progress_stream, ConsumerConfig(  # as an earlier version made it
        durable_name=n.progress_consumer, ack_policy=AckPolicy.EXPLICIT, ack_wait=30.0, max_deliver=-1,
        max_ack_pending=20000, description="backend aggregator"))
    report = await ensure_topology(bus.js, n, settings)
    assert any(n.progress_consumer in u for u in report.updated), report
    info = await bus.nc.request(f"$JS.API.CONSUMER.INFO.{n.progress_stream}.{n.progress_consumer}", b"", timeout=5)
    config = msgspec.json.decode(info.data)["config"]
    assert config["priority_policy"] == "pinned_client" and config["priority_groups"] == [n.fold_group]
    assert config["priority_timeout"] == int(FOLD_PIN_S * 1e9)
    assert not (await ensure_topology(bus.js, n, settings)).changed


async def test_a_backend_that_dies_pinned_hands_over_after_the_pin_timeout(bus: Bus, settings: Settings) -> None:
    doomed_bus = await Bus.open(settings, name="test-doomed-backend")
    doomed = Aggregator(doomed_bus)
    await doomed.start()  # alone: it is pinned as soon as something comes
    await _running(bus, "op_orphaned")
    await _progress(bus, "op_orphaned", 1)
    await wait_record(bus, "op_orphaned", lambda r: r.progress_seq == 1)
    assert doomed.stats["events"] == 1
    await doomed_bus.nc.close()  # dies: no stop, no unpin
    standby = Aggregator(bus)
    await standby.start()
    try:
        t0 = time.monotonic()
        await _progress(bus, "op_orphaned", 2)
        await wait_record(bus, "op_orphaned", lambda r: r.progress_seq == 2, timeout=FOLD_PIN_S * 4)
        took = time.monotonic() - t0
        assert standby.stats["events"] >= 1 and took < FOLD_PIN_S * 2, f"took over after {took:.1f}s"
    finally:
        await standby.stop()
        await doomed.stop()
