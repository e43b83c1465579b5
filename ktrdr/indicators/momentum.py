"""Momentum oscillators: RSI, ROC, momentum, stochastic, CCI, Williams %R."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.indicators.core import highest, lowest, price_of, safe_div, sma, wilder
from ktrdr.indicators.params import SOURCE, integer
from ktrdr.indicators.registry import register

_HLC = ("high", "low", "close")


@register("rsi", params={"period": integer(14, 2, 100), "source": SOURCE},
          warmup=lambda p: p["period"], aliases=("rsiindicator",))
def rsi(df: pd.DataFrame, period: int, source: str) -> pd.Series:
    """Wilder's RSI (0..100): 100 when there were only gains, 50 when price did not move."""
    diff = price_of(df, source).diff()
    gain = wilder(diff.clip(lower=0), period)
    loss = wilder(-diff.clip(upper=0), period)
    out = 100.0 - 100.0 / (1.0 + gain / loss.where(loss != 0))
    return out.where(loss != 0, np.where(gain > 0, 100.0, 50.0)).where(gain.notna())


@register("roc", params={"period": integer(10, 1, 100), "source": SOURCE},
          warmup=lambda p: p["period"], aliases=("rocindicator",))
def roc(df: pd.DataFrame, period: int, source: str) -> pd.Series:
    """Rate of change in percent over `period` bars (0 where the old value is 0)."""
    x = price_of(df, source)
    return 100.0 * safe_div(x - x.shift(period), x.shift(period), 0.0)


@register("momentum", params={"period": integer(10, 1, 100), "source": SOURCE},
          warmup=lambda p: p["period"], aliases=("momentumindicator",))
def momentum(df: pd.DataFrame, period: int, source: str) -> pd.Series:
    """Price difference over `period` bars."""
    x = price_of(df, source)
    return x - x.shift(period)


@register("stochastic", params={"k_period": integer(14, 1, 100), "d_period": integer(3, 1, 20),
                               "smooth_k": integer(3, 1, 20)},
          warmup=lambda p: p["k_period"] + p["smooth_k"] + p["d_period"] - 3, outputs=("k", "d"),
          aliases=("stochasticindicator",), inputs=_HLC)
def stochastic(df: pd.DataFrame, k_period: int, d_period: int, smooth_k: int) -> pd.DataFrame:
    """Slow stochastic (0..100): %K is the fast %K averaged over smooth_k bars, %D its average.

    The fast %K of a bar whose k_period range is zero is 50 (the middle of a range of none).
    """
    low, high = lowest(df["low"], k_period), highest(df["high"], k_period)
    k = sma(100.0 * safe_div(df["close"] - low, high - low, 0.5), smooth_k)
    return pd.DataFrame({"k": k, "d": sma(k, d_period)})


def _cci_rows(windows: np.ndarray) -> np.ndarray:
    # Typical prices as offsets from the window's first bar: differences of nearby prices are
    # exact, so a flat window gives exactly 0 and the deviations keep every significant digit.
    offsets = (windows - windows[:, :1]).sum(axis=2) / 3.0
    mean = offsets.mean(axis=1)
    deviation = np.abs(offsets - mean[:, None]).mean(axis=1)
    num = offsets[:, -1] - mean
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(deviation > 0, num / (0.015 * np.where(deviation > 0, deviation, 1.0)), 0.0)


@register("cci", params={"period": integer(20, 2, 100)}, warmup=lambda p: p["period"] - 1,
          aliases=("cciindicator",), inputs=_HLC)
def cci(df: pd.DataFrame, period: int) -> pd.Series:
    """Commodity channel index: typical price's distance from its mean in 0.015 mean deviations.

    A window whose typical prices are all equal has no deviation: 0.
    """
    hlc = df[list(_HLC)].to_numpy(dtype="float64")
    out = np.full(len(hlc), np.nan)
    if len(hlc) >= period:
        windows = np.lib.stride_tricks.sliding_window_view(hlc, period, axis=0)  # (rows, 3, n)
        for start in range(0, len(windows), 1 << 14):
            chunk = windows[start : start + (1 << 14)].transpose(0, 2, 1)
            out[period - 1 + start : period - 1 + start + len(chunk)] = _cci_rows(chunk)
    return pd.Series(out, index=df.index)


@register("williamsr", params={"period": integer(14, 1, 100)}, warmup=lambda p: p["period"] - 1,
          aliases=("williamsrindicator",), inputs=_HLC)
def williams_r(df: pd.DataFrame, period: int) -> pd.Series:
    """Williams %R (-100..0); -50 when the period's range is zero."""
    high, low = highest(df["high"], period), lowest(df["low"], period)
    return -100.0 * safe_div(high - df["close"], high - low, 0.5)
