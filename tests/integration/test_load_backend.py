"""Bounded load on one backend: hundreds of heartbeating workers and bursts of progress (full figures: bench_load)."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from ktrdr.backend.registry import WorkerRecord
from ktrdr.bus.handle import Bus
from ktrdr.operations.record import new_record
from ktrdr.protocol.codec import decode, encode
from ktrdr.protocol.messages import OperationProgress, WorkerHeartbeat
from tests.helpers import eventually, wait_record

pytestmark = pytest.mark.slow
WORKERS, ROUNDS = 300, 3
OPS, EVENTS = 20, 100


async def test_every_simulated_worker_is_registered_and_none_goes_stale(bus: Bus, backends) -> None:
    backend = await backends.start()
    ids = [f"sim-{i:04d}" for i in range(WORKERS)]
    kv = await bus.js.key_value(bus.names.bucket("workers"))
    watcher = await kv.watchall()
    statuses: dict[str, set[str]] = {}

    async def record_statuses() -> None:  # every status the registry ever writes, not only the last
        async for entry in watcher:
            if entry is not None and entry.value:
                statuses.setdefault(entry.key, set()).add(decode(entry.value, WorkerRecord).status)

    recorder = asyncio.create_task(record_statuses())
    try:
        for round_ in range(ROUNDS):  # one beat per worker per round
            if round_:
                await asyncio.sleep(1.0)  # the simulated workers' 1 Hz cadence, not a wait for the backend
            for wid in ids:
                await bus.nc.publish(bus.names.heartbeat("dummy", wid), encode(
                    WorkerHeartbeat(worker_id=wid, kind="dummy", pool="cpu", interval_s=1.0, seq=round_ + 1)))
            await bus.nc.flush()
        await eventually(lambda: backend.registry.stats["beats"] >= WORKERS * ROUNDS, timeout=30,
                         what="every beat folded")
        await backend.registry.sweep()
        await eventually(lambda: set(ids) <= set(statuses), what="every worker in the bucket")
    finally:
        recorder.cancel()
        await watcher.stop()
    seen = backend.registry.workers
    assert set(ids) <= set(seen), f"{len(set(ids) - set(seen))} workers missing"
    assert {seen[w].status for w in ids} == {"available"}
    stale = sorted(w for w in ids if "unavailable" in statuses[w])
    assert not stale, f"{len(stale)} workers were marked unavailable while beating, e.g. {stale[:3]}"


async def test_a_burst_of_progress_ends_with_every_record_at_its_latest_event(bus: Bus, backends) -> None:
    await backends.start()
    records = [msgspec.structs.replace(new_record("dummy", "cpu", {}), status="running", attempt=1)
               for _ in range(OPS)]
    await asyncio.gather(*(bus.ops.create(r) for r in records))
    for seq in range(1, EVENTS + 1):
        for r in records:
            await bus.nc.publish(bus.names.event(r.id, "progress"), encode(OperationProgress(
                operation_id=r.id, attempt=1, seq=seq, percentage=float(seq), steps_completed=seq)))
    await bus.nc.flush()
    done = await asyncio.gather(*(wait_record(bus, r.id, lambda x: x.progress_seq == EVENTS) for r in records))
    assert {d.progress.steps_completed for d in done} == {EVENTS}
    assert {d.status for d in done} == {"running"}
