"""Shared vectorized building blocks for indicator implementations."""

from __future__ import annotations

import numpy as np
import pandas as pd


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


def sma(x: pd.Series, n: int) -> pd.Series:
    """Simple moving average; NaN until n values are available."""
    return x.rolling(n, min_periods=n).mean()


def ema(x: pd.Series, n: int) -> pd.Series:
    """Exponential moving average (span n, recursive from the first value, NaN for n-1 rows)."""
    return x.ewm(span=n, min_periods=n, adjust=False).mean()


def wilder(x: pd.Series, n: int) -> pd.Series:
    """Wilder smoothing: seeded with the mean of the first n valid values, then alpha = 1/n."""
    values = x.to_numpy(dtype="float64", copy=True)
    valid = np.flatnonzero(~np.isnan(values))
    out = np.full(len(values), np.nan)
    if len(valid) < n:
        return pd.Series(out, index=x.index)
    first = valid[0]
    seed_at = first + n - 1
    values[seed_at] = np.nanmean(values[first : seed_at + 1])
    values[:seed_at] = np.nan
    smoothed = pd.Series(values, index=x.index).ewm(alpha=1.0 / n, adjust=False).mean()
    return smoothed.where(np.arange(len(values)) >= seed_at)


def true_range(df: pd.DataFrame) -> pd.Series:
    """True range; the first bar (no previous close) uses high - low."""
    prev = df["close"].shift(1)
    ranges = pd.concat([df["high"] - df["low"], (df["high"] - prev).abs(),
                        (df["low"] - prev).abs()], axis=1)
    return ranges.max(axis=1, skipna=True)


def atr(df: pd.DataFrame, n: int) -> pd.Series:
    """Average true range (Wilder), first value at row n-1."""
    return wilder(true_range(df), n)


def rolling_windows(x: pd.Series, n: int, fn, chunk: int = 1 << 16) -> pd.Series:
    """Apply `fn(windows) -> row values` to (rows, n) sliding windows, chunked to bound memory."""
    values = x.to_numpy(dtype="float64")
    out = np.full(len(values), np.nan)
    if len(values) >= n:
        windows = np.lib.stride_tricks.sliding_window_view(values, n)
        for start in range(0, len(windows), chunk):
            out[n - 1 + start : n - 1 + start + chunk] = fn(windows[start : start + chunk])
    return pd.Series(out, index=x.index)


def safe_div(num: pd.Series, den: pd.Series, fill: float = np.nan) -> pd.Series:
    """num / den with `fill` where den is zero (flat markets)."""
    return (num / den.where(den != 0)).where(den != 0, fill).where(den.notna() & num.notna())
