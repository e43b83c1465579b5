"""Real worker processes: SIGKILL mid-operation fails over to another worker; SIGTERM requeues gracefully."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from ktrdr.bus.handle import Bus
from ktrdr.config import Settings
from ktrdr.operations.record import new_record
from ktrdr.operations.submit import submit
from ktrdr.protocol.codec import decode, encode
from ktrdr.protocol.messages import OperationFailed, OperationMetric, OperationProgress, WorkerHeartbeat
from tests.helpers import spawn_ktrdr, spawn_worker_process, wait_record
from tests.integration.conftest import WorkerPool

pytestmark = pytest.mark.slow
STEPS = {"steps": 40, "step_seconds": 0.1}


async def running_on(bus: Bus, op_id: str, worker_id: str) -> None:
    """Wait until `worker_id` runs the operation and has checkpointed a few steps."""
    await wait_record(bus, op_id, lambda r: r.worker_id == worker_id and r.progress.steps_completed >= 3)


async def test_sigkill_mid_operation_fails_over_and_completes_once(fast: tuple[Bus, Settings],
                                                                  tmp_path: Path) -> None:
    bus, s = fast
    op = await submit(bus, "dummy", "cpu", STEPS)
    victim = spawn_worker_process(s, "dummy", "victim", tmp_path)
    pool = WorkerPool(s)
    try:
        await running_on(bus, op.id, "victim")
        victim.kill()
        victim.wait(10)
        survivor = await pool.start(checkpoints=None, worker_id="survivor")
        # how soon after the kill the survivor takes over: bench/bench_liveness.py
        record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=30)
    finally:
        victim.kill()
        await pool.close()
    assert record.status == "completed" and record.attempt == 2 and record.worker_id == "survivor"
    assert record.result["resumed_from"] >= 3, "the survivor did not resume from the checkpoint"
    assert survivor.counters["acked"] == 1
    info = await bus.js.stream_info(bus.names.events_stream, subjects_filter=bus.names.event(op.id, "completed"))
    assert info.state.subjects == {bus.names.event(op.id, "completed"): 1}
    # the dead attempt's late events must not regress the record
    await bus.nc.publish(bus.names.event(op.id, "progress"),
                         encode(OperationProgress(operation_id=op.id, attempt=1, seq=10**6, percentage=3.0)))
    await bus.js.publish(bus.names.event(op.id, "failed"), encode(OperationFailed(operation_id=op.id, attempt=1)))
    sentinel = new_record("dummy", "cpu", {})
    await bus.ops.create(sentinel)  # the aggregator reads one ordered stream: once this lands, so did the above
    await bus.js.publish(bus.names.event(sentinel.id, "metric"), encode(OperationMetric(operation_id=sentinel.id)))
    await wait_record(bus, sentinel.id, lambda r: r.metrics_count == 1)
    after, _ = await bus.ops.get(op.id)
    assert after.status == "completed" and after.attempt == 2 and after.progress.percentage == 100.0


async def test_an_operation_longer_than_the_ack_wait_keeps_its_one_delivery(fast: tuple[Bus, Settings],
                                                                           tmp_path: Path) -> None:
    """The keep-alive tells JetStream every third of the 2 s ack wait that the order is still being worked on:
    an idle second worker, which would take a redelivery over, never gets one."""
    bus, s = fast
    op = await submit(bus, "dummy", "cpu", {"steps": 25, "step_seconds": 0.2})  # 5 s: 2.5 ack waits
    steady = spawn_worker_process(s, "dummy", "steady", tmp_path / "steady")
    try:
        await wait_record(bus, op.id, lambda r: r.worker_id == "steady")
        idle = spawn_worker_process(s, "dummy", "idle", tmp_path / "idle")
        try:
            record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=60)
        finally:
            idle.terminate()
            await asyncio.to_thread(idle.wait, 15)
    finally:
        steady.terminate()
        await asyncio.to_thread(steady.wait, 15)
    assert record.status == "completed" and record.attempt == 1 and record.delivery == 1
    assert record.worker_id == "steady" and record.result["resumed_from"] == 0


async def test_sigterm_requeues_and_another_worker_resumes(fast: tuple[Bus, Settings], tmp_path: Path) -> None:
    bus, s = fast
    stopped = asyncio.Event()

    async def on_beat(msg) -> None:
        beat = decode(msg.data, WorkerHeartbeat)
        if beat.worker_id == "leaving" and beat.status == "stopped":
            stopped.set()

    await bus.nc.subscribe(bus.names.heartbeat("dummy", "leaving"), cb=on_beat)
    op = await submit(bus, "dummy", "cpu", STEPS)
    leaving = spawn_worker_process(s, "dummy", "leaving", tmp_path)
    pool = WorkerPool(s)
    try:
        await running_on(bus, op.id, "leaving")
        t0 = time.monotonic()
        leaving.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(leaving.wait, 20)
        exit_s = time.monotonic() - t0
        requeued = await wait_record(bus, op.id, lambda r: r.status == "pending")
        await asyncio.wait_for(stopped.wait(), 5)
        await pool.start(checkpoints=None, worker_id="next")
        record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=30)
    finally:
        leaving.kill()
        await pool.close()
    assert code == 0 and exit_s < 10, (code, exit_s, leaving.stderr.read().decode()[-2000:])
    assert requeued.worker_id == "leaving"  # the last worker stays on record while it waits
    assert record.status == "completed" and record.attempt == 2 and record.result["resumed_from"] >= 3


@pytest.mark.parametrize("setting, expected", [(None, "uvloop"), ("asyncio", "asyncio")])
async def test_a_worker_process_runs_its_operations_on_the_configured_event_loop(
        fast: tuple[Bus, Settings], tmp_path: Path, setting: str | None, expected: str) -> None:
    pytest.importorskip("uvloop", reason="uvloop is not installed here: every loop is asyncio's")
    bus, s = fast
    op = await submit(bus, "dummy", "cpu", {"steps": 2, "step_seconds": 0.01})
    env = {"KTRDR_EVENT_LOOP": setting} if setting else {}
    worker = spawn_ktrdr(s, tmp_path, "worker", "dummy", "--worker-id", f"on-{expected}", "--burst", env=env)
    try:
        record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=60)
        code = await asyncio.to_thread(worker.wait, 30)
    finally:
        worker.kill()
    log = worker.stderr.read().decode() if worker.stderr else ""
    serving = [line for line in log.splitlines() if " serving dummy/cpu " in line]
    assert record.status == "completed" and record.worker_id == f"on-{expected}" and code == 0, log[-2000:]
    assert serving and serving[0].endswith(f", {expected} loop"), log[-2000:]
