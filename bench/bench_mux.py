"""The acked JetStream publish: nats-py's `js.publish` beside this project's RequestMux, same server, same run.

Run: .venv/bin/python bench/bench_mux.py [--n 4000] [--concurrent 200]
Prints client CPU and wall time per publish, one at a time (each waiting for its ack, as a claim does) and
`--concurrent` at once (as the aggregator writes), and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_bus  # noqa: E402

Publish = Callable[[int], Awaitable[object]]


async def per_publish(publish: Publish, n: int, concurrent: int) -> tuple[float, float]:
    """(client CPU µs, wall µs) per publish, `concurrent` in flight at a time."""
    c0, t0 = time.process_time(), time.perf_counter()
    for start in range(0, n, concurrent):
        await asyncio.gather(*(publish(i) for i in range(start, min(n, start + concurrent))))
    return (time.process_time() - c0) / n * 1e6, (time.perf_counter() - t0) / n * 1e6


async def main(args: argparse.Namespace) -> None:
    """Interleave the two publishers twice at each concurrency; report the better round of each."""
    async with bench_bus() as bus:
        await bus.js.add_stream(name="BENCH_PUB", subjects=["benchpub.>"])
        body = b"x" * 400  # about a record's size
        systems: dict[str, Publish] = {
            "nats-py js.publish": lambda i: bus.js.publish(f"benchpub.{i % 200}", body),
            "RequestMux": lambda i: bus.mux.publish(f"benchpub.{i % 200}", body)}
        for concurrent in (1, args.concurrent):
            best: dict[str, tuple[float, float]] = {}
            for _ in range(2):
                for name, publish in systems.items():
                    await per_publish(publish, 200, concurrent)  # warm up
                    cpu, wall = await per_publish(publish, args.n, concurrent)
                    best[name] = min(best.get(name, (cpu, wall)), (cpu, wall))
            for name, (cpu, wall) in best.items():
                print(f"in flight {concurrent:3d}  {name:20s} client CPU {cpu:6.1f} µs  "
                      f"wall {wall:6.1f} µs per publish")
            (c0, w0), (c1, w1) = best.values()
            print(f"in flight {concurrent:3d}  RequestMux ÷ nats-py: CPU {c1 / c0:.2f}x, wall {w1 / w0:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--concurrent", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
