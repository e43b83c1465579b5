"""Submit the no-op workload to taskiq-nats: `tasks` at once, then `rtt` one at a time; one JSON line of figures."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.peer_queues.taskiq_app import broker, noop  # noqa: E402
from bench.peer_queues.timing import report  # noqa: E402

POLL_S = 0.001  # taskiq's client polls the result backend; a short interval is its best round trip


async def main(tasks: int, rtt: int) -> None:
    """Warm up (the workers are ready once a task comes back), then measure."""
    await broker.startup()
    try:
        await (await noop.kiq()).wait_result(check_interval=POLL_S, timeout=120)
        t0 = time.perf_counter()
        handles = await asyncio.gather(*(noop.kiq() for _ in range(tasks)))
        for h in handles:  # one poller at a time: 2,000 concurrent pollers would measure the client, not taskiq
            await h.wait_result(check_interval=0.005, timeout=300)
        elapsed = time.perf_counter() - t0
        rtts = []
        for _ in range(rtt):
            t = time.perf_counter()
            await (await noop.kiq()).wait_result(check_interval=POLL_S, timeout=60)
            rtts.append(time.perf_counter() - t)
        report(tasks, elapsed, rtts)
    finally:
        await broker.shutdown()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
