"""An operation's life on a real server: dispatch, exactly-once, cancel, bad orders, heartbeats on time."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

import pytest

from ktrdr.backend.registry import MISSED_BEATS
from ktrdr.bus.handle import Bus
from ktrdr.operations.aggregator import Aggregator
from ktrdr.operations.record import new_record
from ktrdr.operations.submit import cancel, submit
from ktrdr.operations.transitions import IllegalTransition
from ktrdr.protocol.codec import decode, decode_event, encode
from ktrdr.protocol.messages import OperationProgress, WorkerHeartbeat, WorkOrder
from ktrdr.workers.context import OperationContext
from ktrdr.workers.dummy import run_dummy
from tests.helpers import wait_all_terminal, wait_record
from tests.integration.conftest import WorkerPool


async def test_twenty_operations_over_two_workers_run_exactly_once(bus: Bus, workers: WorkerPool,
                                                                   aggregator: Aggregator) -> None:
    ran: Counter[str] = Counter()
    held: list[int] = []

    def pending(ctx: OperationContext) -> int:
        info = ctx.call(lambda: bus.js.consumer_info(bus.names.work_stream, bus.names.work_consumer("dummy", "cpu")))
        return info.num_ack_pending

    def handler(ctx: OperationContext) -> dict:
        ran[ctx.operation_id] += 1
        counts = [pending(ctx)]
        time.sleep(0.05)  # the first half of the operation's work
        counts.append(pending(ctx))
        result = run_dummy(ctx)
        counts.append(pending(ctx))
        # Besides the running orders, the server still counts, for a moment, the order a worker has just finished
        # (its slot pulls the next one as the handler returns; the ack follows the record) and any ack it has not
        # applied yet. A message fetched while busy stays counted for the whole run, so in every sample. The two
        # workers run alike and can fall into step, each finishing as the other starts; the sample halfway
        # through then still falls between the neighbour's transients, however long a loaded machine makes them.
        held.append(min(counts))
        return result

    ops = [await submit(bus, "dummy", "cpu", {"steps": 2, "step_seconds": 0.025}) for _ in range(20)]
    w1 = await workers.start(handler)
    w2 = await workers.start(handler)
    records = await wait_all_terminal(bus, [o.id for o in ops])
    assert {r.status for r in records.values()} == {"completed"}
    assert all(r.attempt == 1 and r.progress.percentage == 100.0 for r in records.values())
    assert set(ran.values()) == {1} and len(ran) == 20
    assert max(held) <= 2, "a worker fetched while busy: more messages in flight than free slots"
    assert w1.counters["acked"] > 0 and w2.counters["acked"] > 0
    assert w1.counters["acked"] + w2.counters["acked"] == 20


async def test_progress_reaches_the_record_and_is_throttled(bus: Bus, workers: WorkerPool,
                                                            aggregator: Aggregator) -> None:
    seen: list[OperationProgress] = []
    arrived = threading.Event()  # set from the loop, waited on by the operation's thread
    burst_s: list[float] = []

    async def on_progress(msg) -> None:  # a plain subscriber, as a user would write one
        seen.append(decode(msg.data, OperationProgress))
        arrived.set()

    op = await submit(bus, "dummy", "cpu", {"steps": 0})
    sub = await bus.nc.subscribe(bus.names.event(op.id, "progress"), cb=on_progress)

    def chatty(ctx: OperationContext) -> dict:
        t0, n = time.monotonic(), 0
        while n < 20000 or time.monotonic() - t0 < 0.5:  # a steady stream of updates for at least 0.5 s
            n += 1
            ctx.progress.update(percentage=min(99.0, n / 1000), items_processed=n)
        burst_s.append(time.monotonic() - t0)
        # progress reaches subscribers while the operation runs, not only when it ends
        assert arrived.wait(10), "no progress published while the operation ran"
        ctx.progress.update(current_step="done", percentage=100.0, items_processed=n)
        return {"n": n}

    await workers.start(chatty)
    record = await wait_record(bus, op.id, lambda r: r.terminal)
    await bus.nc.flush()
    await sub.unsubscribe()
    assert record.status == "completed" and record.result["n"] >= 20000
    # at most one message per ~100 ms window of the burst, plus its last state and the final step change
    allowed = 3 + int(burst_s[0] / 0.1)
    assert 2 <= len(seen) <= allowed, (f"{len(seen)} progress messages for {record.result['n']} updates "
                                       f"in {burst_s[0]:.2f}s")
    assert seen[-1].current_step == "done" and seen[-1].items_processed == record.result["n"]


async def test_cancel_running_with_an_empty_core_publish(bus: Bus, workers: WorkerPool,
                                                         aggregator: Aggregator) -> None:
    op = await submit(bus, "dummy", "cpu", {"steps": 200, "step_seconds": 0.05})
    await workers.start()
    await wait_record(bus, op.id, lambda r: r.status == "running")
    await bus.nc.publish(bus.names.cancel(op.id), b"")
    # stopped well before its 200 steps (10 s) would end; how fast: bench_operations.py's cancel latency
    record = await wait_record(bus, op.id, lambda r: r.terminal)
    assert record.status == "cancelled" and record.progress.steps_completed < 200


async def test_a_cancel_reaches_only_its_operation_through_the_workers_one_subscription(
        bus: Bus, workers: WorkerPool, aggregator: Aggregator) -> None:
    worker = await workers.start(capacity=2)
    warm = await submit(bus, "dummy", "cpu", {"steps": 0})
    await wait_record(bus, warm.id, lambda r: r.terminal)
    subscriptions = len(worker.bus.nc._subs)  # nats-py's table of this connection's subscriptions, all bound now
    ops = [await submit(bus, "dummy", "cpu", {"steps": 20, "step_seconds": 0.05}) for _ in range(2)]
    for op in ops:
        await wait_record(bus, op.id, lambda r: r.status == "running")
    assert len(worker.bus.nc._subs) == subscriptions, "an operation subscribed to its own cancel subject"
    await bus.nc.publish(bus.names.cancel(ops[0].id), b'{"reason": "only this one"}')
    first = await wait_record(bus, ops[0].id, lambda r: r.terminal)
    second = await wait_record(bus, ops[1].id, lambda r: r.terminal, timeout=30)
    assert first.status == "cancelled" and first.cancel_reason == "only this one"
    assert second.status == "completed" and second.progress.steps_completed == 20


async def test_cancel_pending_never_starts(bus: Bus, workers: WorkerPool) -> None:
    started: list[str] = []
    op = await submit(bus, "dummy", "cpu", {"steps": 1})
    record = await cancel(bus, op.id, reason="changed my mind")
    assert record.status == "cancelled" and record.cancel_reason == "changed my mind"
    worker = await workers.start(lambda ctx: started.append(ctx.operation_id) or {}, burst=True)
    await asyncio.wait_for(workers.items[-1][1], 20)
    assert started == [] and worker.counters["fetched"] == 1
    with pytest.raises(IllegalTransition, match="completed|cancelled"):
        await cancel(bus, op.id)


async def test_malformed_orders_fail_cleanly_and_the_worker_keeps_serving(bus: Bus, workers: WorkerPool) -> None:
    subject = bus.names.work("dummy", "cpu")
    bad_schema, wrong_type = new_record("dummy", "cpu", {}), new_record("dummy", "cpu", {})
    await bus.ops.create(bad_schema)  # records without their real orders: only the bad ones arrive
    await bus.ops.create(wrong_type)
    await bus.js.publish(subject, b"\xff\x00 not json")
    await bus.js.publish(subject, f'{{"operation_id": "{bad_schema.id}", "type": 5}}'.encode())
    await bus.js.publish(subject, encode(WorkOrder(operation_id=wrong_type.id, type="backtest", pool="cpu")))
    bad_params = await submit(bus, "dummy", "cpu", {"steps": "many"})
    good = await submit(bus, "dummy", "cpu", {"steps": 1, "step_seconds": 0})
    worker = await workers.start()
    assert (await wait_record(bus, bad_schema.id, lambda r: r.terminal)).error.code == "bad_order"
    assert (await wait_record(bus, wrong_type.id, lambda r: r.terminal)).error.code == "unknown_type"
    failed = await wait_record(bus, bad_params.id, lambda r: r.terminal)
    assert failed.status == "failed" and "steps" in failed.error.message
    assert (await wait_record(bus, good.id, lambda r: r.terminal)).status == "completed"
    assert worker.counters["failed"] >= 3


async def test_heartbeats_keep_a_worker_alive_while_an_operation_burns_the_cpu(bus: Bus, workers: WorkerPool) -> None:
    busy: list[float] = []  # arrival times of beats that say the operation is running
    stopped = asyncio.Event()

    async def on_beat(msg) -> None:
        beat = decode(msg.data, WorkerHeartbeat)
        if beat.running:
            busy.append(time.monotonic())
        if beat.status == "stopped":
            stopped.set()

    await bus.nc.subscribe(bus.names.heartbeat_all(), cb=on_beat)
    op = await submit(bus, "dummy", "cpu", {"steps": 6, "step_seconds": 0.5, "cpu_burn": True})
    worker = await workers.start()
    await wait_record(bus, op.id, lambda r: r.terminal, timeout=30)
    worker.stop()
    await asyncio.wait_for(stopped.wait(), 10)
    gaps = [b - a for a, b in zip(busy, busy[1:])]
    interval = bus.settings.heartbeat_s
    # beats flow during the 3 s burn, and never so late that the registry would call the worker dead;
    # how close to the interval they stay is measured by bench/bench_liveness.py
    assert len(busy) >= 3, f"{len(busy)} beats during a 3 s burn at a {interval}s interval"
    assert max(gaps) < MISSED_BEATS * interval, f"a {max(gaps):.2f}s gap: the registry would mark it unavailable"


async def test_operation_ignoring_cancel_is_abandoned_after_grace(bus: Bus, workers: WorkerPool) -> None:
    op = await submit(bus, "dummy", "cpu", {"steps": 100, "step_seconds": 0.1, "ignore_cancel": True})
    worker = await workers.start(grace_s=0.5)
    await wait_record(bus, op.id, lambda r: r.status == "running")
    await cancel(bus, op.id, reason="stop now")
    record = await wait_record(bus, op.id, lambda r: r.terminal)
    assert record.status == "cancelled"
    await asyncio.wait_for(workers.items[-1][1], 10)
    assert worker.restart_required


async def test_started_is_the_first_event_even_when_the_operation_reports_at_once(bus: Bus,
                                                                                  workers: WorkerPool) -> None:
    def eager(ctx: OperationContext) -> dict:
        ctx.progress.metric({"loss": 1.0})  # before the loop has had a turn after handing the operation over
        ctx.progress.log("first words")
        return {"ok": True}

    op = await submit(bus, "dummy", "cpu", {})
    await workers.start(eager)
    await wait_record(bus, op.id, lambda r: r.terminal)
    log = bus.names.events_stream
    events, seq = [], 0
    while len(events) < 4:  # started, metric, log, completed: the stream's order is the order sent
        raw = await bus.js.get_msg(log, seq=seq + 1, subject=f"{bus.names.ns}.ops.{op.id}.*", next=True)
        events.append(decode_event(raw.data))
        seq = raw.seq
    assert [type(e).__name__ for e in events] == ["OperationStarted", "OperationMetric", "OperationLog",
                                                  "OperationCompleted"]
    assert [e.seq for e in events] == [1, 2, 3, 4]


async def test_a_long_operation_announces_its_start_while_it_runs(bus: Bus, workers: WorkerPool) -> None:
    """`started` waits a few ms for a short operation's end (one send for both); a long one's is not held to its end."""
    release = threading.Event()
    op = await submit(bus, "dummy", "cpu", {})
    await workers.start(lambda ctx: release.wait(10) and {})
    try:
        raw = None
        for _ in range(100):
            try:
                raw = await bus.js.get_msg(bus.names.events_stream, seq=1, subject=f"{bus.names.ns}.ops.{op.id}.*",
                                           next=True)
                break
            except Exception:
                await asyncio.sleep(0.05)
        assert raw is not None, "no started event while the operation runs"
        started = decode_event(raw.data)
        record, _ = await bus.ops.get(op.id)
        assert type(started).__name__ == "OperationStarted" and started.seq == 1 and record.status == "running"
        assert record.started_at <= started.ts <= time.time_ns()
    finally:
        release.set()
    await wait_record(bus, op.id, lambda r: r.status == "completed")
