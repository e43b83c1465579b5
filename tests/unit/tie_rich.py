"""OHLCV bars shaped like real 5-decimal quotes: runs of equal closes, equal highs, flat bars."""

from __future__ import annotations

import numpy as np
import pandas as pd

TICK = 1e-5


def _bars_in_ticks(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    # Whole ticks, so that equal prices are bit-for-bit equal after scaling.
    steps = rng.choice([-3, -2, -1, 0, 0, 0, 0, 1, 2, 3], n)
    steps[:25] = 0  # a market that has not moved yet: no gain, no loss, no money flow
    mid = slice(n // 2, n // 2 + 40)
    steps[mid] = 0  # a long flat stretch: zero ranges over whole windows
    close = 110_000 + np.cumsum(steps)
    open_ = np.r_[close[0], close[:-1]]
    wick = rng.choice([0, 0, 1, 2, 5], (2, n))
    flat = (rng.random(n) < 0.05) | (steps == 0) & (rng.random(n) < 0.3)
    flat[:25] = flat[mid] = True
    wick[:, flat] = 0
    high = np.maximum(open_, close) + wick[0]
    low = np.minimum(open_, close) - wick[1]
    for start in rng.choice(np.arange(30, n - 10), n // 50, replace=False):
        # A ceiling touched several bars in a row: equal highs.
        high[start:start + 4] = high[start:start + 4].max()
    return {"open": open_, "high": high, "low": low, "close": close}


def _typical_price_ties(bars: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    # A bar with a wider range around the same close has the same (h + l + c) / 3 exactly, but
    # in floating point the two sums may differ in the last bit.
    n = len(bars["close"])
    spots = np.r_[30 : n // 2 - 5, n // 2 + 45 : n]  # the flat stretch stays flat
    for i in rng.choice(spots, n // 20, replace=False):
        k = int(rng.integers(1, 4))
        bars["close"][i] = bars["open"][i] = bars["close"][i - 1]
        bars["high"][i], bars["low"][i] = bars["high"][i - 1] + k, bars["low"][i - 1] - k


def tie_rich(n: int = 3000, seed: int = 11) -> pd.DataFrame:
    """A EURUSD-like hourly frame quantised to 5 decimals, with the ties real quotes have."""
    rng = np.random.default_rng(seed)
    bars = _bars_in_ticks(rng, n)
    _typical_price_ties(bars, rng)
    frame = {k: np.round(v * TICK, 5) for k, v in bars.items()}
    frame["volume"] = rng.integers(1, 40, n).astype(float) * 25.0
    idx = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC", name="timestamp")
    return pd.DataFrame(frame, index=idx)
