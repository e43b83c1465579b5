"""Liveness timings the tests only bound loosely: heartbeat gaps while an operation burns the CPU (beside the gaps
while it sleeps), how long after a worker's last beat the registry calls it unavailable (beside 3 beats), and how
long after a worker process is SIGKILLed another one takes its operation over (beside ack_wait).

Run: .venv/bin/python bench/bench_liveness.py [--seconds 6] [--trials 5] [--interval 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_operations import start_worker  # noqa: E402
from bench.common import bench_bus, pct  # noqa: E402
from ktrdr.backend.registry import MISSED_BEATS, Registry  # noqa: E402
from ktrdr.bus.handle import Bus  # noqa: E402
from ktrdr.operations.submit import submit  # noqa: E402
from ktrdr.protocol.codec import decode  # noqa: E402
from ktrdr.protocol.messages import WorkerHeartbeat  # noqa: E402
from ktrdr.workers.dummy import run_dummy  # noqa: E402
from tests.helpers import eventually, spawn_worker_process, wait_record  # noqa: E402


async def beat_gaps(bus: Bus, seconds: float, burn: bool) -> list[float]:
    """Gaps between the heartbeats a worker sends while its one operation runs `seconds` (burning or sleeping)."""
    busy: list[float] = []

    async def on_beat(msg: object) -> None:
        if decode(msg.data, WorkerHeartbeat).running:  # type: ignore[attr-defined]
            busy.append(time.monotonic())

    sub = await bus.nc.subscribe(bus.names.heartbeat_all(), cb=on_beat)
    worker, task = start_worker(bus, run_dummy)
    op = await submit(bus, "dummy", "cpu", {"steps": int(seconds / 0.5), "step_seconds": 0.5, "cpu_burn": burn})
    await wait_record(bus, op.id, lambda r: r.terminal, timeout=seconds * 10)
    worker.stop()
    await task
    await sub.unsubscribe()
    return [b - a for a, b in zip(busy, busy[1:])]


async def detection(bus: Bus, trials: int) -> list[float]:
    """Seconds from a silenced worker's last beat to the registry marking it unavailable, `trials` times."""
    registry = await Registry.open(bus)
    await registry.start()
    out = []
    for _ in range(trials):
        worker, task = start_worker(bus, run_dummy)
        await eventually(lambda: getattr(registry.workers.get(worker.worker_id), "status", "") == "available",
                         every=0.01, what="worker registered")
        worker.heartbeat._task.cancel()  # silent without a final 'stopped' beat, as a dead process would be
        last = worker.heartbeat.sent_at[-1]
        await eventually(lambda: registry.workers[worker.worker_id].status == "unavailable", every=0.01,
                         what="worker unavailable")
        out.append(time.monotonic() - last)
        worker.stop()
        await task
    await registry.stop()
    return out


async def takeover(bus: Bus, trials: int) -> list[float]:
    """Seconds from SIGKILLing the `ktrdr worker dummy` process running an operation to its next attempt running
    on a worker started at the kill, `trials` times."""
    home = Path(tempfile.mkdtemp(prefix="ktrdr-bench-home-"))
    out = []
    for i in range(trials):
        victim = spawn_worker_process(bus.settings, "dummy", f"victim-{i}", home)
        try:
            op = await submit(bus, "dummy", "cpu", {"steps": 200, "step_seconds": 0.1})
            await wait_record(bus, op.id, lambda r: r.worker_id == f"victim-{i}" and r.status == "running", 60)
            victim.kill()
            killed = time.monotonic()
            heir, task = start_worker(bus, run_dummy)
            await wait_record(bus, op.id, lambda r: r.attempt == 2 and r.status == "running", timeout=60)
            out.append(time.monotonic() - killed)
            await bus.nc.publish(bus.names.cancel(op.id), b"")
            heir.stop()
            await task
        finally:
            victim.kill()
            victim.wait(10)
    return out


def gaps_line(label: str, gaps: list[float], interval: float) -> str:
    """p50, p99 and max of heartbeat gaps, and the worst as a multiple of the interval."""
    return (f"heartbeat  {label:22s} gap p50 {pct(gaps, 50) * 1e3:6.0f} ms  p99 {pct(gaps, 99) * 1e3:6.0f} ms  "
            f"max {max(gaps) * 1e3:6.0f} ms  ({max(gaps) / interval:.2f}x the {interval}s interval, n={len(gaps)})")


async def main(seconds: float, trials: int, interval: float) -> None:
    """Run the three measurements and print them beside their baselines."""
    async with bench_bus(heartbeat_s=interval, ack_wait_s=30.0) as bus:
        sleeping = await beat_gaps(bus, seconds, burn=False)
        burning = await beat_gaps(bus, seconds, burn=True)
        print(gaps_line("operation sleeping", sleeping, interval))
        print(gaps_line("operation burning CPU", burning, interval))
        print(f"heartbeat  p99 ratio burning/sleeping {pct(burning, 99) / pct(sleeping, 99):.2f}x")
        found = await detection(bus, trials)
        bound = MISSED_BEATS * interval
        print(f"detection  last beat → unavailable  p50 {pct(found, 50):.2f} s  max {max(found):.2f} s  "
              f"beside {MISSED_BEATS} beats = {bound:.2f} s (max ratio {max(found) / bound:.2f}x, n={trials})")
    async with bench_bus(heartbeat_s=interval, ack_wait_s=2.0) as bus:
        taken = await takeover(bus, trials)
        wait = bus.settings.ack_wait_s
        print(f"takeover   SIGKILL → next attempt running  p50 {pct(taken, 50):.2f} s  max {max(taken):.2f} s  "
              f"beside ack_wait {wait:.1f} s (max ratio {max(taken) / wait:.2f}x, n={trials})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0, help="how long each operation runs")
    parser.add_argument("--trials", type=int, default=5, help="silenced workers to detect and kills to take over")
    parser.add_argument("--interval", type=float, default=0.5, help="heartbeat interval in seconds")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.trials, args.interval))
