"""Hostile messages on every subject we subscribe to: heartbeats, cancels, work orders, events into the aggregator."""

from __future__ import annotations

import msgspec
import pytest

from ktrdr.bus.handle import Bus
from ktrdr.client import KtrdrClient
from ktrdr.operations.record import new_record
from ktrdr.protocol.codec import encode
from ktrdr.protocol.messages import OperationProgress, WorkerHeartbeat, WorkOrder
from tests.chaos.payloads import HUGE, fuzz, hostile, sample
from tests.helpers import wait_record

pytestmark = pytest.mark.slow
EXAMPLES = 50
LONG = {"steps": 400, "step_seconds": 0.05}


def fields(type_: type) -> list[str]:
    """A struct's field names (where hostile values go)."""
    return [f.name for f in msgspec.structs.fields(type_)]


async def fuzz_core(bus: Bus, subject: str, type_: type) -> None:
    """Core-publish hostile bodies on `subject`, then flush so the server has them all."""
    async def send(body: bytes) -> None:
        await bus.nc.publish(subject, body)

    await fuzz(hostile(sample(type_), fields(type_)), send, EXAMPLES)
    await bus.nc.flush()


async def fuzz_stream(bus: Bus, subject: str, type_: type) -> None:
    """Publish hostile bodies into the stream behind `subject` (each acked by JetStream)."""
    async def send(body: bytes) -> None:
        await bus.js.publish(subject, body)

    await fuzz(hostile(sample(type_), fields(type_)), send, EXAMPLES)


@pytest.mark.timeout(300)
async def test_hostile_messages_leave_backend_worker_and_operations_unharmed(bus: Bus, backends, workers) -> None:
    backend = await backends.start()
    worker = await workers.start(capacity=2, worker_id="steady")
    client = KtrdrClient(bus)
    inflight = (await client.start("dummy", LONG))["operation_id"]
    victim = (await client.start("dummy", LONG))["operation_id"]
    await wait_record(bus, victim, lambda r: r.status == "running")
    n = bus.names
    await fuzz_core(bus, n.heartbeat("dummy", "steady"), WorkerHeartbeat)
    await fuzz_core(bus, n.heartbeat("dummy", "intruder"), WorkerHeartbeat)
    await fuzz_core(bus, n.event(inflight, "progress"), OperationProgress)
    for kind in ("started", "metric", "log", "completed", "failed", "cancelled"):
        await fuzz_stream(bus, n.event(inflight, kind), OperationProgress)
    # well-formed but oversized, for a running record of its own (well-formed events are trusted by design):
    # folding it makes a record at or past the KV bucket's limit, and the aggregator must live on either way
    bloated = msgspec.structs.replace(new_record("dummy", "cpu", {}), status="running", attempt=1)
    await bus.ops.create(bloated)
    await bus.nc.publish(n.event(bloated.id, "progress"), encode(OperationProgress(
        operation_id=bloated.id, attempt=1, seq=1, current_item="x" * (HUGE // 2), current_step="y" * (HUGE // 2))))
    await fuzz_stream(bus, n.work("dummy", "cpu"), WorkOrder)
    await fuzz_core(bus, n.cancel(victim), WorkOrder)  # garbled cancels still mean cancel: the victim stops

    cancelled = await wait_record(bus, victim, lambda r: r.terminal, timeout=30)
    assert cancelled.status == "cancelled" and not worker.restart_required
    before = (await bus.ops.get(inflight))[0]
    assert before.status == "running" and before.attempt == 1, before
    # the aggregator still folds progress (the worker's next report lands), the registry and API still serve
    later = await wait_record(bus, inflight, lambda r: r.progress.steps_completed > before.progress.steps_completed)
    assert later.attempt == 1 and later.progress.current_item == ""
    assert backend.aggregator.stats["garbage"] > 0 and backend.registry.stats["garbage"] > 0
    listed = {w["worker_id"]: w for w in await client.workers()}
    assert listed["steady"]["status"] in ("available", "busy")
    after = (await client.start("dummy", {"steps": 2, "step_seconds": 0.01}))["operation_id"]
    assert (await wait_record(bus, after, lambda r: r.terminal, timeout=60)).status == "completed"
    await client.cancel(inflight, "test over")
