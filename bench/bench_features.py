"""Indicator + feature computation rate (rows/s) for the example strategies, beside a baseline.

Baseline: a plain pandas 20-bar rolling mean over the same rows, timed in the same run.
Usage: python bench/bench_features.py [ROWS]   (default 1,000,000 base rows)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ktrdr.indicators import compute_indicators
from ktrdr.strategy import build_features, load_strategy

ROOT = Path(__file__).parents[1] / "strategies"
AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def synthetic(rows: int) -> pd.DataFrame:
    """A random-walk hourly OHLCV frame."""
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.003, rows)))
    open_ = np.r_[close[0], close[:-1]]
    idx = pd.date_range("2000-01-01", periods=rows, freq="h", tz="UTC", name="timestamp")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.001,
                         "low": np.minimum(open_, close) * 0.999, "close": close,
                         "volume": rng.uniform(100, 1000, rows)}, index=idx)


def timed(fn) -> float:
    """Best of two wall-clock runs, in seconds."""
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(rows: int) -> None:
    """Print rows/s for each example strategy and the baseline ratio."""
    h1 = synthetic(rows)
    frames = {"1h": h1, "4h": h1.resample("4h", label="left", closed="left").agg(AGG)}
    base_s = timed(lambda: h1["close"].rolling(20).mean())
    print(f"rows={rows:,}  baseline pandas rolling(20).mean: {rows / base_s:,.0f} rows/s")
    for path in sorted(ROOT.glob("*.yaml")):
        cfg = load_strategy(path)
        ind_s = timed(lambda: compute_indicators(h1, cfg.indicator_specs))
        feat_s = timed(lambda: build_features(cfg, frames))
        print(f"{cfg.name:24s} indicators: {rows / ind_s:>12,.0f} rows/s "
              f"({ind_s / base_s:6.1f}x baseline time)   features: {rows / feat_s:>12,.0f} rows/s "
              f"({feat_s / base_s:6.1f}x baseline time)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
