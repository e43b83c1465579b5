"""A SIGKILLed worker's operation moves to another worker once the registry marks it unavailable, long before the
ack wait; a worker that only pauses for less than the missed-heartbeat deadline keeps its operation."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import pytest
from nats.aio.msg import Msg

from ktrdr.bus.handle import Bus
from ktrdr.config import Settings
from ktrdr.operations.submit import submit
from tests.helpers import spawn_worker_process, wait_record
from tests.integration.conftest import BackendPool, WorkerPool
from tests.integration.test_worker_process import running_on

pytestmark = pytest.mark.slow
ACK_WAIT_S = 120.0  # far beyond every bound below: only the registry-driven takeover can move the order in time
STEPS = {"steps": 60, "step_seconds": 0.1}


@asynccontextmanager
async def stack(settings: Settings, heartbeat_s: float, tmp_path: Path,
                worker_id: str) -> AsyncIterator[tuple[Bus, Settings, WorkerPool, subprocess.Popen]]:
    """A backend (registry, aggregator, takeover), a `ktrdr worker dummy` process and a pool of in-process
    workers, on a long ack wait; everything stopped afterwards."""
    s = msgspec.structs.replace(settings, ack_wait_s=ACK_WAIT_S, heartbeat_s=heartbeat_s)
    backends, pool = BackendPool(s), WorkerPool(s)
    await backends.start()
    bus = await Bus.open(s)
    proc = spawn_worker_process(s, "dummy", worker_id, tmp_path)
    try:
        yield bus, s, pool, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a test may have stopped it
            proc.kill()
        await pool.close()
        await backends.close()
        await bus.close()


async def test_a_killed_workers_operation_resumes_elsewhere_before_the_ack_wait(settings: Settings,
                                                                               tmp_path: Path) -> None:
    async with stack(settings, 0.5, tmp_path, "victim") as (bus, s, pool, victim):
        op = await submit(bus, "dummy", "cpu", STEPS)
        await running_on(bus, op.id, "victim")
        await pool.start(checkpoints=None, worker_id="survivor")
        victim.kill()
        victim.wait(10)
        killed_at = time.monotonic()
        # generous: 3 missed beats are 1.5 s here; a loaded machine may take several times that
        moved = await wait_record(bus, op.id, lambda r: r.attempt == 2, timeout=30)
        moved_s = time.monotonic() - killed_at
        record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=30)
        subject = bus.names.event(op.id, "completed")
        info = await bus.js.stream_info(bus.names.events_stream, subjects_filter=subject)
    assert moved.worker_id == "survivor" and moved_s < ACK_WAIT_S / 2, (moved, moved_s)
    assert record.status == "completed" and record.attempt == 2 and record.result["resumed_from"] >= 3
    assert info.state.subjects == {subject: 1}, "the dead attempt or a duplicate also completed"


async def test_a_worker_paused_for_less_than_the_deadline_keeps_its_operation(settings: Settings,
                                                                            tmp_path: Path) -> None:
    async with stack(settings, 1.0, tmp_path, "slow") as (bus, s, pool, slow):
        op = await submit(bus, "dummy", "cpu", {"steps": 120, "step_seconds": 0.1})
        await running_on(bus, op.id, "slow")
        await pool.start(checkpoints=None, worker_id="idle")  # where a wrong takeover would send it
        beats = await bus.nc.subscribe(bus.names.heartbeat("dummy", "slow"))
        # 4 fresh beats of a worker spawned after the backend: the registry has listened for the 3 intervals it needs
        # before it may call anyone lost, so a wrong takeover could happen from here on
        for _ in range(4):
            await beats.next_msg(timeout=10)
        os.kill(slow.pid, signal.SIGSTOP)  # right after a beat, so the pause alone sets the silence
        await asyncio.sleep(1.2)  # the stimulus, not a wait: one beat missed of the three the deadline allows
        os.kill(slow.pid, signal.SIGCONT)
        record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=40)
    assert record.status == "completed" and record.attempt == 1 and record.worker_id == "slow", record


async def test_a_backend_whose_own_loop_stalls_does_not_call_a_beating_worker_lost(settings: Settings,
                                                                                   tmp_path: Path) -> None:
    async with stack(settings, 0.5, tmp_path, "steady") as (bus, s, pool, steady):
        op = await submit(bus, "dummy", "cpu", STEPS)
        await running_on(bus, op.id, "steady")
        await pool.start(checkpoints=None, worker_id="idle")  # where a wrong takeover would send it
        kv_subject = f"$KV.{bus.names.bucket('workers')}.steady"
        statuses: list[str] = []  # every registry write of the worker, read after the stall

        async def note(msg: Msg) -> None:
            statuses.append(msgspec.json.decode(msg.data)["status"])
        await bus.nc.subscribe(kv_subject, cb=note)
        time.sleep(2.5)  # the stimulus: the backend shares this loop, so it reads no beat for 5 intervals
        record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=40)
    assert "unavailable" not in statuses, statuses
    assert record.status == "completed" and record.attempt == 1 and record.worker_id == "steady", record
