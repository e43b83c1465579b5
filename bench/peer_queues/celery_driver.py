"""Submit the no-op workload to Celery: `tasks` at once, then `rtt` one at a time; one JSON line of figures."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.peer_queues.celery_app import noop  # noqa: E402
from bench.peer_queues.timing import report  # noqa: E402


def main(tasks: int, rtt: int) -> None:
    """Warm up (the worker is ready once a task comes back), then measure."""
    noop.delay().get(timeout=120)
    t0 = time.perf_counter()
    results = [noop.delay() for _ in range(tasks)]
    for r in results:
        r.get(timeout=300)
    elapsed = time.perf_counter() - t0
    rtts = []
    for _ in range(rtt):
        t = time.perf_counter()
        noop.delay().get(timeout=60)
        rtts.append(time.perf_counter() - t)
    report(tasks, elapsed, rtts)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
