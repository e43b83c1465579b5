"""Failover: 100 operations on an R3 topology, the work stream's leader SIGKILLed mid-run; none lost, none run twice."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from ktrdr.bus.cluster import ClusterHandle, LocalCluster
from ktrdr.bus.handle import Bus
from ktrdr.config import Settings
from ktrdr.operations.aggregator import Aggregator
from ktrdr.operations.submit import submit
from ktrdr.workers.context import OperationContext
from ktrdr.workers.dummy import run_dummy
from tests.integration.conftest import WorkerPool

pytestmark = [
    pytest.mark.slow, pytest.mark.chaos,
]
OPS, WORKERS, CAPACITY = 100, 4, 2


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, ClusterHandle]]:
    """A three-node cluster of its own (a node of it gets killed)."""
    local = LocalCluster(tmp_path_factory.mktemp("home"))
    handle, _ = asyncio.run(local.up(timeout=20))
    yield local, handle
    local.down(purge=True)


async def records(bus: Bus, ids: list[str]) -> dict[str, object]:
    """The current record of every operation (None where the read failed during an election)."""
    async def one(op_id: str) -> object:
        try:
            return (await bus.ops.get(op_id))[0]
        except Exception:  # a read may time out while a stream elects its leader; the next round retries
            return None
    return dict(zip(ids, await asyncio.gather(*(one(i) for i in ids))))


async def wait_terminal(bus: Bus, ids: list[str], at_least: int, timeout: float) -> dict[str, object]:
    """Read the records until `at_least` are terminal; a watch would sit on a consumer the failover may kill."""
    deadline = time.monotonic() + timeout
    while True:
        now = await records(bus, ids)
        done = [r for r in now.values() if r is not None and r.terminal]
        if len(done) >= at_least or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.25)


async def test_no_operation_is_lost_or_completed_twice_when_the_work_leader_dies(
        cluster: tuple[LocalCluster, ClusterHandle], tmp_path: Path) -> None:
    local, handle = cluster
    settings = Settings(nats_url=handle.urls, namespace=f"f{secrets.token_hex(3)}", home=str(tmp_path),
                        # ack_wait must outlast a client's reconnect plus the election: a worker cut off for longer
                        # is indistinguishable from a dead one, and its order is rightly taken over and rerun
                        replicas=3, ack_wait_s=20.0, heartbeat_s=0.5, max_deliver=5)
    completed: Counter[str] = Counter()

    def counting(ctx: OperationContext) -> dict:
        result = run_dummy(ctx)
        completed[ctx.operation_id] += 1
        return result

    backend = await Bus.open(settings, name="backend", setup=True)
    aggregator = Aggregator(backend)
    await aggregator.start()
    pool = WorkerPool(settings)
    try:
        ops = [await submit(backend, "dummy", "cpu", {"steps": 4, "step_seconds": 0.05}) for _ in range(OPS)]
        ids = [o.id for o in ops]
        for _ in range(WORKERS):
            await pool.start(counting, capacity=CAPACITY)
        await wait_terminal(backend, ids, at_least=OPS // 5, timeout=60)
        leader = (await backend.js.stream_info(backend.names.work_stream)).cluster.leader
        killed = local.kill(handle.node_of_server(leader).name)
        final = await wait_terminal(backend, ids, at_least=OPS, timeout=120)
    finally:
        await pool.close()
        await aggregator.stop()
        await backend.close()
        local.restart(killed.name) if "killed" in locals() else None
    statuses = Counter(r.status if r is not None else "unreadable" for r in final.values())
    assert sum(statuses[s] for s in ("completed", "failed", "cancelled")) == OPS, statuses
    assert max(completed.values()) == 1, [i for i, n in completed.items() if n > 1]
    assert statuses["completed"] == len(completed), (statuses, len(completed))
