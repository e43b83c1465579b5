"""Submit the no-op workload to taskiq-nats: `tasks` at once, then `rtt` one at a time; one JSON line of figures."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from taskiq import AsyncTaskiqTask  # noqa: E402
from taskiq.exceptions import ResultIsReadyError  # noqa: E402

from bench.peer_queues.taskiq_app import broker, noop  # noqa: E402
from bench.peer_queues.timing import report  # noqa: E402

POLL_S = 0.001  # taskiq's client polls the result backend; a short interval is its best round trip


async def settled(handle: AsyncTaskiqTask, interval_s: float, timeout_s: float = 300.0) -> None:
    """Poll until the result exists; a check that times out under load (ResultIsReadyError) is asked again."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if await handle.is_ready():
                return
        except ResultIsReadyError:
            pass
        await asyncio.sleep(interval_s)
    raise TimeoutError(f"task {handle.task_id} gave no result within {timeout_s:g}s")


async def main(tasks: int, rtt: int) -> None:
    """Warm up (the workers are ready once a task comes back), then measure."""
    await broker.startup()
    try:
        await settled(await noop.kiq(), POLL_S, 120.0)
        t0 = time.perf_counter()
        handles = await asyncio.gather(*(noop.kiq() for _ in range(tasks)))
        for h in handles:  # one poller at a time: 2,000 concurrent pollers would measure the client, not taskiq
            await settled(h, 0.005)
        elapsed = time.perf_counter() - t0
        rtts = []
        for _ in range(rtt):
            t = time.perf_counter()
            await settled(await noop.kiq(), POLL_S, 60.0)
            rtts.append(time.perf_counter() - t)
        report(tasks, elapsed, rtts)
    finally:
        await broker.shutdown()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
