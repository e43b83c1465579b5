"""Seconds to validate a strategy: the original's files and hostile inputs (alias bomb, 10 MB, deep nesting,
many nodes), beside parsing the same text with `yaml.safe_load` where that finishes.

Run: .venv/bin/python bench/bench_strategy.py [--repeat N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ktrdr.strategy import StrategyError, validate_strategy  # noqa: E402
from tests.unit.test_strategy_hostile import HOSTILE  # noqa: E402

ORIGINALS = ROOT.parent / "shared" / "ktrdr-v3-strategies"


def best(fn, repeat: int) -> float:
    """Best wall-clock seconds of `repeat` calls (a StrategyError counts as the call's end)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            fn()
        except StrategyError:
            pass
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    """Print the seconds per input, worst last."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    texts = {p.name: p.read_text() for p in sorted(ORIGINALS.glob("*.yaml"))} if ORIGINALS.is_dir() else {}
    total = sum(best(lambda t=t: validate_strategy(t), args.repeat) for t in texts.values())
    if texts:
        print(f"{len(texts)} original strategy files: {total / len(texts) * 1e3:.1f} ms each on average")
    for name, (text, _) in HOSTILE.items():
        ours = best(lambda: validate_strategy(text), args.repeat)
        plain = "" if name in ("alias bomb", "deep flow nesting", "deep mapping nesting") else (
            f"   (yaml.safe_load alone: {best(lambda: _safe_load(text), 1):.3f} s)")
        print(f"{name:22s} {len(text):>12,} chars: rejected in {ours:.3f} s{plain}")


def _safe_load(text: str) -> None:
    try:
        yaml.safe_load(text)
    except yaml.YAMLError:
        pass


if __name__ == "__main__":
    main()
