"""Backends come and go: events published while none runs are folded by the next one; a backend SIGKILLed
while it holds a request leaves the call to another backend, and the operation exists once."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest

from ktrdr.backend.service import Backend
from ktrdr.bus.connection import flush
from ktrdr.bus.handle import Bus
from ktrdr.client import KtrdrClient, NoBackend
from ktrdr.config import Settings
from ktrdr.operations import transitions
from ktrdr.operations.submit import submit
from tests.helpers import spawn_ktrdr, wait_record
from tests.integration.conftest import BackendPool, WorkerPool


def no_record_write(*args: object, **kw: object) -> transitions.Mutation:
    """A worker's terminal record write that is lost (as when it dies right after its terminal event)."""

    def skip(record: object) -> object:
        raise transitions.Skip

    return skip


async def test_events_published_while_no_backend_runs_are_folded_when_one_starts(
        bus: Bus, workers: WorkerPool, backends: BackendPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transitions, "finish", no_record_write)  # only the events can settle the record now
    op = await submit(bus, "dummy", "cpu", {"steps": 4, "step_seconds": 0.01})
    completed = await bus.nc.subscribe(bus.names.event(op.id, "completed"))
    await flush(bus.nc)
    worker = await workers.start(worker_id="lonely")
    event = await completed.next_msg(timeout=30)
    await completed.unsubscribe()
    async with asyncio.timeout(10):  # the worker acks its order after the (skipped) record write
        while worker.counters["acked"] < 1:
            await asyncio.sleep(0.02)
    monkeypatch.undo()
    left_behind, _ = await bus.ops.get(op.id)
    await backends.start()  # its aggregator resumes the durable events consumer where it stood
    record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=20)
    assert event.subject == bus.names.event(op.id, "completed")
    assert left_behind.status == "running" and left_behind.progress.percentage < 100
    assert record.status == "completed" and record.result == {"steps": 4, "resumed_from": 0, "attempt": 1}
    assert record.progress.percentage == 100.0 and record.attempt == 1 and record.worker_id == "lonely"


async def first_answer(client: KtrdrClient, timeout: float = 30.0) -> dict[str, Any]:
    """The health reply of the first backend that answers (a process needs a moment to start)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                return await client.health()
            except NoBackend:
                await asyncio.sleep(0.1)


async def test_backend_sigkilled_holding_a_request_leaves_it_to_another(
        settings: Settings, bus: Bus, workers: WorkerPool, tmp_path: Path) -> None:
    """SIGSTOP holds the request inside the first backend deterministically; SIGKILL then ends it there."""
    doomed = spawn_ktrdr(settings, tmp_path, "backend", "--backend-id", "doomed")
    client, heir = KtrdrClient(bus, timeout=3), Backend(await Bus.open(settings, name="heir"), backend_id="heir")
    try:
        assert (await first_answer(client))["backend_id"] == "doomed"
        spy = await bus.nc.subscribe(bus.names.api("dummy", "start"))
        doomed.send_signal(signal.SIGSTOP)
        call = asyncio.create_task(client.start("dummy", {"steps": 2, "step_seconds": 0.01}))
        held = await spy.next_msg(timeout=10)  # routed to the only backend: the stopped one
        await spy.unsubscribe()
        await heir.start()  # its subscriptions are live when start() returns
        doomed.kill()
        await asyncio.to_thread(doomed.wait, 10)
        reply = await asyncio.wait_for(call, 30)
        await workers.start()
        record = await wait_record(bus, reply["operation_id"], lambda r: r.terminal, timeout=20)
        listed = await client.list(type=["dummy"])
    finally:
        doomed.kill()
        await heir.stop()
        await heir.bus.close()
    assert held.data and record.status == "completed"
    assert listed["total"] == 1 and [o["id"] for o in listed["operations"]] == [record.id]
