"""Shared vectorized building blocks for indicator implementations."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

# A change smaller than this fraction of the price is floating-point noise, not a move: prices
# quoted to 5 decimals give (h + l + c) / 3 values that are equal yet differ in the last bit.
NOISE = 1e-12


def price_of(df: pd.DataFrame, name: str) -> pd.Series:
    """A price column or a derived price (`hl2`, `hlc3`, `ohlc4`)."""
    if name == "hl2":
        return (df["high"] + df["low"]) / 2.0
    if name == "hlc3":
        return typical_price(df)
    if name == "ohlc4":
        return (df["open"] + df["high"] + df["low"] + df["close"]) / 4.0
    return df[name].astype("float64")


def typical_price(df: pd.DataFrame) -> pd.Series:
    """(high + low + close) / 3."""
    return (df["high"] + df["low"] + df["close"]) / 3.0


def change_sign(x: pd.Series) -> pd.Series:
    """+1 / -1 / 0 for a rise, fall or no change from the previous value (noise is no change)."""
    diff = x.diff()
    moved = diff.abs() > NOISE * x.abs()
    return np.sign(diff).where(moved, 0.0).where(diff.notna())


def sma(x: pd.Series, n: int) -> pd.Series:
    """Simple moving average; NaN until n values are available."""
    return x.rolling(n, min_periods=n).mean()


def ema(x: pd.Series, n: int, *, adjust: bool = False, min_periods: int | None = None) -> pd.Series:
    """Exponential moving average, alpha = 2 / (n + 1), started at the first valid value.

    `adjust=False` is the recursion y = a·x + (1 - a)·y' from y = x at the start; `adjust=True`
    weights every past value by (1 - a)^age normalised by the sum of weights (pandas' default).
    NaN until `min_periods` (default n) values have been seen.
    """
    return x.ewm(span=n, adjust=adjust, min_periods=n if min_periods is None else min_periods).mean()


def wilder(x: pd.Series, n: int, seed_count: int | None = None,
           start: int | None = None) -> pd.Series:
    """Wilder smoothing (alpha = 1/n), seeded with sum(first `seed_count` values) / n.

    The default seed (n values) is their mean, as RSI and ATR use; ADX's directional movement and
    true range seed with n - 1 values, as Wilder's running sums do. The seed window begins at
    the first valid value, or at row `start` where NaNs in it count as 0.
    """
    count = n if seed_count is None else seed_count
    values = x.to_numpy(dtype="float64", copy=True)
    valid = np.flatnonzero(~np.isnan(values))
    out = np.full(len(values), np.nan)
    if len(valid) < count:
        return pd.Series(out, index=x.index)
    first = valid[0] if start is None else start
    seed_at = first + count - 1
    values[seed_at] = np.nansum(values[first : seed_at + 1]) / n
    values[:seed_at] = np.nan
    # A NaN after the seed (an undefined step) holds the average, as Wilder's running sum does.
    smoothed = pd.Series(values, index=x.index).ewm(alpha=1.0 / n, adjust=False,
                                                    ignore_na=True).mean()
    return smoothed.where(np.arange(len(values)) >= seed_at)


def true_range(df: pd.DataFrame, first_bar: str = "nan") -> pd.Series:
    """True range; the first bar has no previous close: NaN, or high - low with `first_bar="range"`."""
    prev = df["close"].shift(1)
    ranges = pd.concat([df["high"] - df["low"], (df["high"] - prev).abs(),
                        (df["low"] - prev).abs()], axis=1).max(axis=1)
    return ranges.where(prev.notna(), df["high"] - df["low"] if first_bar == "range" else np.nan)


def atr(df: pd.DataFrame, n: int) -> pd.Series:
    """Average true range (Wilder, seeded with the mean of bars 1..n); first value at row n."""
    return wilder(true_range(df), n)


def rolling_windows(x: pd.Series, n: int, fn: Callable[[np.ndarray], np.ndarray],
                    chunk: int = 1 << 16) -> pd.Series:
    """Apply `fn(windows) -> row values` to (rows, n) sliding windows, chunked to bound memory."""
    values = x.to_numpy(dtype="float64")
    out = np.full(len(values), np.nan)
    if len(values) >= n:
        windows = np.lib.stride_tricks.sliding_window_view(values, n)
        for start in range(0, len(windows), chunk):
            out[n - 1 + start : n - 1 + start + chunk] = fn(windows[start : start + chunk])
    return pd.Series(out, index=x.index)


def highest(x: pd.Series, n: int) -> pd.Series:
    """Highest value over the last n bars."""
    return x.rolling(n, min_periods=n).max()


def lowest(x: pd.Series, n: int) -> pd.Series:
    """Lowest value over the last n bars."""
    return x.rolling(n, min_periods=n).min()


def safe_div(num: pd.Series, den: pd.Series, fill: float = np.nan) -> pd.Series:
    """num / den with `fill` where den is zero (flat markets)."""
    return (num / den.where(den != 0)).where(den != 0, fill).where(den.notna() & num.notna())
