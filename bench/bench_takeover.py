"""SIGKILL a busy worker, time until its operation runs again on another worker; default timings (heartbeat 2 s).

Run: .venv/bin/python bench/bench_takeover.py [--kills 20] [--workers 3]
A backend and `--workers` `ktrdr worker dummy` processes on a fresh nats-server. Each round submits a 10-second
operation, kills the worker running it once it has checkpointed, starts a replacement worker and measures
kill → the record claimed by a new attempt on another worker. At the end every operation must be completed,
exactly once (one `completed` event each), by the attempt that took over. The baseline beside the figures is
the ack wait, which is what a killed worker's order waited for without the takeover.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import pct  # noqa: E402
from ktrdr.bus.embedded import start_server  # noqa: E402
from ktrdr.bus.handle import Bus  # noqa: E402
from ktrdr.config import Settings  # noqa: E402
from ktrdr.operations.submit import submit  # noqa: E402
from tests.chaos.procs import Child, ktrdr_env  # noqa: E402
from tests.helpers import wait_record  # noqa: E402

LONG = {"steps": 40, "step_seconds": 0.25}


class Pool:
    """Worker processes by id, replaced as they are killed."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env, self.children, self.spawned = root, env, {}, 0  # type: ignore[var-annotated]

    def spawn(self) -> None:
        """One more `ktrdr worker dummy` with a known id."""
        self.spawned += 1
        wid = f"tk-w{self.spawned}"
        self.children[wid] = Child(wid, ["worker", "dummy", "--worker-id", wid, "--no-setup"], self.env,
                                   self.root / f"{wid}.log")

    def kill(self, wid: str) -> None:
        """SIGKILL one worker and start its replacement."""
        self.children.pop(wid).kill()
        self.spawn()

    def close(self) -> None:
        """Stop every worker still running."""
        for child in self.children.values():
            child.kill()


async def one_round(bus: Bus, pool: Pool) -> tuple[str, float]:
    """Submit, kill the worker once it has checkpointed, time kill → claimed by attempt 2 elsewhere."""
    op = await submit(bus, "dummy", "cpu", LONG)
    running = await wait_record(bus, op.id, lambda r: r.status == "running" and r.progress.steps_completed >= 1,
                                timeout=120)
    pool.kill(running.worker_id)
    t0 = time.monotonic()
    await wait_record(bus, op.id, lambda r: r.attempt > running.attempt and r.status == "running"
                      and r.worker_id != running.worker_id, timeout=120)
    return op.id, time.monotonic() - t0


async def verify(bus: Bus, ids: list[str]) -> tuple[int, int]:
    """(lost, duplicated): operations not completed by their second attempt, and extra `completed` events."""
    lost = duplicated = 0
    for op_id in ids:
        record = await wait_record(bus, op_id, lambda r: r.terminal, timeout=120)
        lost += record.status != "completed" or record.attempt != 2
        subject = bus.names.event(op_id, "completed")
        info = await bus.js.stream_info(bus.names.events_stream, subjects_filter=subject)
        duplicated += max(0, (info.state.subjects or {}).get(subject, 0) - 1)
    return lost, duplicated


async def main(args: argparse.Namespace) -> None:
    """Fresh server, backend and workers; the rounds; the figures."""
    root = Path(tempfile.mkdtemp(prefix="ktrdr-takeover-"))
    server, url = start_server(root / "js", root / "server.log")
    settings = Settings(nats_url=url, namespace="takeover", home=str(root / "home"))
    bus = await Bus.open(settings, setup=True)
    env = ktrdr_env(settings, root / "home")
    backend = Child("backend", ["backend"], env, root / "backend.log")
    pool = Pool(root, env)
    for _ in range(args.workers):
        pool.spawn()
    load0 = os.getloadavg()[0]
    try:
        rounds = [await one_round(bus, pool) for _ in range(args.kills)]
        lost, duplicated = await verify(bus, [op_id for op_id, _ in rounds])
    finally:
        pool.close()
        backend.terminate()
        await bus.close()
        server.terminate()
        server.wait(10)
    times = [t for _, t in rounds]
    print(f"takeover   {args.kills} SIGKILLs of a busy worker, heartbeat {settings.heartbeat_s:g} s "
          f"(unavailable after 3 missed), ack wait {settings.ack_wait_s:g} s; load average {load0:.1f} → "
          f"{os.getloadavg()[0]:.1f}")
    print(f"takeover   kill → claimed by another worker: p50 {pct(times, 50):5.2f} s  p99 {pct(times, 99):5.2f} s  "
          f"max {max(times):5.2f} s   (baseline without takeover: the ack wait, {settings.ack_wait_s:g} s)")
    print(f"takeover   lost {lost}, duplicate completions {duplicated}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--workers", type=int, default=3)
    asyncio.run(main(ap.parse_args()))
