"""Listing 10,000 operations through the backend API, beside a bare KV get in the same run.

Run: .venv/bin/python bench/bench_backend_list.py [--ops 10000] [--n 100]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_bus, pct, summary_ms  # noqa: E402
from ktrdr.backend.service import Backend  # noqa: E402
from ktrdr.client import KtrdrClient  # noqa: E402
from ktrdr.operations.record import STATUSES, new_record  # noqa: E402


async def fill(bus, count: int) -> list[str]:
    """Create `count` records with mixed types and statuses, 200 at a time."""
    ids = []
    rng = random.Random(7)
    for start in range(0, count, 200):
        batch = []
        for _ in range(min(200, count - start)):
            r = new_record(rng.choice(["training", "backtest", "dummy", "data"]), "cpu", {"i": start})
            r = msgspec.structs.replace(r, status=rng.choice(STATUSES), created_at=r.created_at + rng.randint(0, 10**12))
            batch.append(bus.ops.create(r))
            ids.append(r.id)
        await asyncio.gather(*batch)
    return ids


async def timed(fn, n: int) -> list[float]:
    """Latencies of n sequential calls."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t0)
    return out


async def main(ops: int, n: int) -> None:
    """Fill, start a backend (index load), then time list variants beside a bare KV get."""
    async with bench_bus() as bus:
        t0 = time.perf_counter()
        ids = await fill(bus, ops)
        print(f"created {ops} records in {time.perf_counter() - t0:.1f}s")
        backend = Backend(bus)
        t0 = time.perf_counter()
        await backend.start()
        print(f"backend start (index of {len(backend.index.records)} records) {time.perf_counter() - t0:.2f}s")
        client = KtrdrClient(bus)
        bare = await timed(lambda: bus.ops.kv.get(ids[0]), n)
        print(f"bare KV get                        {summary_ms(bare)}")
        for label, filters in (("list newest 100", {}), ("list status=running", {"status": ["running"]}),
                               ("list type+active, 1000", {"type": ["training"], "active_only": True,
                                                            "limit": 1000})):
            lat = await timed(lambda f=filters: client.list(**f), n)
            print(f"{label:<34} {summary_ms(lat)}   p50 ratio {pct(lat, 50) / pct(bare, 50):.1f}x")
        await backend.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=10000)
    parser.add_argument("--n", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.ops, args.n))
