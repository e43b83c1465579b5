"""Momentum oscillators: RSI, ROC, momentum, stochastic, CCI, Williams %R."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.indicators.core import (
    NOISE,
    highest,
    lowest,
    price_of,
    rolling_windows,
    safe_div,
    sma,
    typical_price,
    wilder,
)
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
    """Rate of change in percent over `period` bars (NaN where the old price is 0)."""
    x = price_of(df, source)
    return 100.0 * safe_div(x - x.shift(period), x.shift(period))


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
    k = sma(100.0 * safe_div(df["close"] - low, high - low, 50.0), smooth_k)
    return pd.DataFrame({"k": k, "d": sma(k, d_period)})


def _mean_deviation(windows: np.ndarray) -> np.ndarray:
    return np.abs(windows - windows.mean(axis=1, keepdims=True)).mean(axis=1)


@register("cci", params={"period": integer(20, 2, 100)}, warmup=lambda p: p["period"] - 1,
          aliases=("cciindicator",), inputs=_HLC)
def cci(df: pd.DataFrame, period: int) -> pd.Series:
    """Commodity channel index: typical price's distance from its mean in 0.015 mean deviations.

    A window whose typical prices are all equal (to rounding noise) has no deviation: 0.
    """
    tp = typical_price(df)
    mean = sma(tp, period)
    spread = highest(tp, period) - lowest(tp, period)
    out = safe_div(tp - mean, 0.015 * rolling_windows(tp, period, _mean_deviation), 0.0)
    return out.where(spread > NOISE * mean.abs(), 0.0).where(mean.notna())


@register("williamsr", params={"period": integer(14, 1, 100)}, warmup=lambda p: p["period"] - 1,
          aliases=("williamsrindicator",), inputs=_HLC)
def williams_r(df: pd.DataFrame, period: int) -> pd.Series:
    """Williams %R (-100..0); -50 when the period's range is zero."""
    high, low = highest(df["high"], period), lowest(df["low"], period)
    return -100.0 * safe_div(high - df["close"], high - low, 0.5)
