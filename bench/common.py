"""Shared bench plumbing: a throwaway nats-server, a bus in a fresh namespace, percentiles."""

from __future__ import annotations

import secrets
import statistics
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from ktrdr.bus.embedded import start_server
from ktrdr.bus.handle import Bus
from ktrdr.config import Settings


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary_ms(values: list[float]) -> str:
    """p50/p99 in milliseconds."""
    return f"p50 {pct(values, 50) * 1e3:7.3f} ms  p99 {pct(values, 99) * 1e3:7.3f} ms"


def median(values: list[float]) -> float:
    """The median."""
    return statistics.median(values)


@asynccontextmanager
async def bench_bus(**overrides: object) -> AsyncIterator[Bus]:
    """A fresh nats-server and a bus in its own namespace with the topology created."""
    root = Path(tempfile.mkdtemp(prefix="ktrdr-bench-"))
    proc, url = start_server(root / "js", root / "server.log")
    settings = Settings(nats_url=url, namespace=f"b{secrets.token_hex(3)}", home=str(root / "home"),
                        **overrides)  # type: ignore[arg-type]
    bus = await Bus.open(settings, setup=True)
    try:
        yield bus
    finally:
        await bus.close()
        proc.terminate()
        proc.wait(10)
