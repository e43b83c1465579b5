"""Backend orchestration on a real server: GPU-first routing, dead letters, parents, registry, retention."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import msgspec

from ktrdr.bus.handle import Bus
from ktrdr.client import KtrdrClient
from ktrdr.errors import RetryableError
from ktrdr.operations.record import new_record
from ktrdr.workers.context import OperationContext
from tests.helpers import eventually, wait_record
from tests.integration.conftest import BackendPool, WorkerPool

STRATEGY = (Path(__file__).resolve().parents[2] / "strategies" / "rsi_mean_reversion.yaml").read_text()


def where(ctx: OperationContext) -> dict:
    """A training stand-in that only reports which pool ran it (routing is under test, not training)."""
    return {"worker": ctx.worker_id}


async def wait_alive(backend, kind: str, pool: str, n: int = 1) -> None:
    """Wait until the backend's registry has seen n live workers of (kind, pool)."""
    await eventually(lambda: len(backend.registry.alive(kind, pool)) >= n, what=f"{n} live {kind}/{pool} workers")


async def test_training_goes_to_gpu_when_a_gpu_worker_lives_else_cpu(
        bus: Bus, client: KtrdrClient, backends: BackendPool, workers: WorkerPool) -> None:
    backend = await backends.start()
    cpu = await workers.start(where, op_type="training", pool="cpu", worker_id="cpu-1")
    await wait_alive(backend, "training", "cpu")
    first = await client.start("training", {"strategy_yaml": STRATEGY})
    assert first["pool"] == "cpu" and not first["warnings"]
    gpu = await workers.start(where, op_type="training", pool="gpu", worker_id="gpu-1")
    await wait_alive(backend, "training", "gpu")
    second = await client.start("training", {"strategy_yaml": STRATEGY})
    forced = await client.start("training", {"strategy_yaml": STRATEGY, "device": "cpu"})
    assert (second["pool"], forced["pool"]) == ("gpu", "cpu")
    assert (await wait_record(bus, second["operation_id"], lambda r: r.terminal)).result["worker"] == "gpu-1"
    assert (await wait_record(bus, first["operation_id"], lambda r: r.terminal)).result["worker"] == "cpu-1"
    assert cpu.counters["acked"] >= 1 and gpu.counters["acked"] == 1


async def test_order_waiting_in_gpu_moves_to_an_idle_cpu_worker(
        bus: Bus, client: KtrdrClient, backends: BackendPool, workers: WorkerPool, settings) -> None:
    backends.settings = msgspec.structs.replace(settings, gpu_wait_s=0.5)
    backend = await backends.start()

    def busy_gpu(ctx: OperationContext) -> dict:
        ctx.cancel.wait(30)
        return {"worker": ctx.worker_id}

    await workers.start(busy_gpu, op_type="training", pool="gpu", worker_id="gpu-busy")
    await wait_alive(backend, "training", "gpu")
    blocker = await client.start("training", {"strategy_yaml": STRATEGY, "device": "gpu"})
    await wait_record(bus, blocker["operation_id"], lambda r: r.status == "running")
    waiting = await client.start("training", {"strategy_yaml": STRATEGY})
    assert waiting["pool"] == "gpu"
    await workers.start(where, op_type="training", pool="cpu", worker_id="cpu-idle")
    done = await wait_record(bus, waiting["operation_id"], lambda r: r.terminal, timeout=20)
    assert done.result["worker"] == "cpu-idle" and done.pool == "cpu" and done.dispatch == 2
    await client.cancel(blocker["operation_id"])


async def test_max_deliveries_fails_the_operation_and_dead_letters_the_order(
        bus: Bus, client: KtrdrClient, backends: BackendPool, workers: WorkerPool) -> None:
    await backends.start()

    def always_retry(ctx: OperationContext) -> dict:
        raise RetryableError("the disk is on fire", delay_s=0.05)

    await workers.start(always_retry)
    op_id = (await client.start("dummy", {"steps": 1}))["operation_id"]
    record = await wait_record(bus, op_id, lambda r: r.terminal, timeout=30)
    assert record.status == "failed" and record.error.code == "max_deliveries"
    assert f"after {bus.settings.max_deliver} deliveries" in record.error.message and "last worker" in record.error.message
    async def dead_letters() -> list:
        return (await client.request("dead", "list"))["entries"]

    dead = await eventually(dead_letters, what="a dead letter")
    assert dead[0]["order"]["operation_id"] == op_id and "deliveries" in dead[0]["reason"]
    info = await bus.js.stream_info(bus.names.work_stream)
    assert info.state.messages == 0


async def test_parent_runs_children_in_order_and_completes(
        bus: Bus, client: KtrdrClient, backends: BackendPool, workers: WorkerPool) -> None:
    await backends.start()
    await workers.start(capacity=2)
    steps = [{"type": "dummy", "parameters": {"steps": 3, "step_seconds": 0.02}, "weight": 3},
             {"type": "dummy", "parameters": {"steps": 2, "step_seconds": 0.02}, "inputs": {"steps": "0.result.steps"}}]
    parent_id = (await client.start("pipeline", {"steps": steps}))["operation_id"]
    parent = await wait_record(bus, parent_id, lambda r: r.terminal, timeout=30)
    assert parent.status == "completed" and parent.progress.percentage == 100.0 and len(parent.children) == 2
    first, second = [await bus.ops.get(c) for c in parent.children]
    assert first[0].finished_at <= second[0].started_at, "children must run one after the other"
    assert second[0].parameters["steps"] == 3 and second[0].parent_id == parent_id


async def test_child_failure_fails_the_parent_and_cancel_reaches_children(
        bus: Bus, client: KtrdrClient, backends: BackendPool, workers: WorkerPool) -> None:
    await backends.start()
    await workers.start(capacity=2)
    failing = [{"type": "dummy", "parameters": {"steps": 3, "fail_at": 1, "step_seconds": 0.01}}]
    failed = await wait_record(bus, (await client.start("pipeline", {"steps": failing}))["operation_id"],
                               lambda r: r.terminal)
    assert failed.status == "failed" and "dummy step failed" in failed.error.message
    slow = [{"type": "dummy", "parameters": {"steps": 200, "step_seconds": 0.05}}]
    parent_id = (await client.start("pipeline", {"steps": slow}))["operation_id"]
    child_id = (await wait_record(bus, parent_id, lambda r: len(r.children) == 1)).children[0]
    await wait_record(bus, child_id, lambda r: r.status == "running")
    await client.cancel(parent_id)
    assert (await wait_record(bus, child_id, lambda r: r.terminal)).status == "cancelled"
    assert (await wait_record(bus, parent_id, lambda r: r.terminal)).status == "cancelled"


async def test_registry_marks_a_silent_worker_unavailable(
        bus: Bus, client: KtrdrClient, backends: BackendPool, workers: WorkerPool) -> None:
    backend = await backends.start()
    await workers.start(worker_id="doomed")
    await wait_alive(backend, "dummy", "cpu")
    worker, task, wbus = workers.items[-1]
    worker.heartbeat._task.cancel()  # silence without a final 'stopped' beat, as a dead process would be
    # how soon is measured by bench/bench_liveness.py; here only that it happens (3 beats are 1.5 s)
    await eventually(lambda: backend.registry.workers["doomed"].status == "unavailable", what="unavailable")
    listed = {w["worker_id"]: w for w in await client.workers()}
    assert listed["doomed"]["status"] == "unavailable"


async def test_retention_deletes_old_terminal_operations_only(bus: Bus, backends: BackendPool) -> None:
    backend = await backends.start()
    def record(status: str, **times: int):
        return msgspec.structs.replace(new_record("dummy", "cpu", {}), status=status, **times)

    old_done, old_failed = record("completed", finished_at=1), record("failed", finished_at=1)
    running, recent = record("running", created_at=1), record("completed", finished_at=time.time_ns())
    for r in (old_done, old_failed, running, recent):
        await bus.ops.create(r)
    await eventually(lambda: {old_done.id, old_failed.id, running.id, recent.id} <= set(backend.index.records),
                     what="every record indexed")
    assert sorted(await backend.retention_sweep()) == sorted([old_done.id, old_failed.id])
    assert await bus.ops.find(old_done.id) is None and await bus.ops.find(old_failed.id) is None
    assert await bus.ops.find(running.id) is not None and await bus.ops.find(recent.id) is not None


async def test_worker_that_beats_but_never_fetches_while_work_waits_is_flagged_stuck(
        bus: Bus, client: KtrdrClient, backends: BackendPool) -> None:
    from ktrdr.protocol.codec import encode
    from ktrdr.protocol.messages import WorkerHeartbeat

    backend = await backends.start(stuck_after_s=0.5)
    await client.start("dummy", {"steps": 1})  # waits in the dummy/cpu queue: nobody fetches it

    async def beats() -> None:  # alive and idle at its interval, but its fetch loop is wedged
        for seq in itertools.count(1):
            await bus.nc.publish(bus.names.heartbeat("dummy", "wedged"), encode(WorkerHeartbeat(
                worker_id="wedged", kind="dummy", pool="cpu", interval_s=bus.settings.heartbeat_s, seq=seq)))
            await asyncio.sleep(bus.settings.heartbeat_s)  # the simulated worker's cadence, not a wait

    wedged = asyncio.create_task(beats())
    try:
        await eventually(lambda: getattr(backend.registry.workers.get("wedged"), "status", "") == "stuck",
                         timeout=15, what="flagged stuck")
    finally:
        wedged.cancel()
    listed = {w["worker_id"]: w for w in await client.workers()}
    assert listed["wedged"]["status"] == "stuck"
