"""The figures every peer driver reports, in one JSON line on stdout (no import of ours: runs in the peers venv)."""

from __future__ import annotations

import json
import sys


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def report(tasks: int, elapsed_s: float, rtts: list[float]) -> None:
    """Print throughput and round-trip percentiles as the orchestrator reads them."""
    print(json.dumps({"tasks": tasks, "throughput": tasks / elapsed_s,
                      "p50_ms": pct(rtts, 50) * 1e3, "p99_ms": pct(rtts, 99) * 1e3}), flush=True)
    sys.stdout.flush()
