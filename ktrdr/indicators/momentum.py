"""Momentum oscillators: RSI, ROC, momentum, stochastic, CCI, Williams %R."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.indicators.core import price_of, rolling_windows, safe_div, sma, typical_price, wilder
from ktrdr.indicators.params import SOURCE, integer
from ktrdr.indicators.registry import register

_HLC = ("high", "low", "close")


@register("rsi", params={"period": integer(14, 2, 100), "source": SOURCE},
          warmup=lambda p: p["period"], aliases=("rsiindicator",))
def rsi(df: pd.DataFrame, period: int, source: str) -> pd.Series:
    """Wilder's RSI (0..100); 100 when there were no losses over the window."""
    diff = price_of(df, source).diff()
    gain = wilder(diff.clip(lower=0), period)
    loss = wilder(-diff.clip(upper=0), period)
    out = 100.0 - 100.0 / (1.0 + gain / loss)
    return out.where(loss != 0, 100.0).where(gain.notna())


@register("roc", params={"period": integer(10, 1, 100), "source": SOURCE},
          warmup=lambda p: p["period"], aliases=("rocindicator",))
def roc(df: pd.DataFrame, period: int, source: str) -> pd.Series:
    """Rate of change in percent over `period` bars."""
    x = price_of(df, source)
    return (x / x.shift(period) - 1.0) * 100.0


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
    """Slow stochastic: %K is the fast %K averaged over smooth_k bars, %D its average (0..100)."""
    low = df["low"].rolling(k_period, min_periods=k_period).min()
    high = df["high"].rolling(k_period, min_periods=k_period).max()
    k = sma(100.0 * safe_div(df["close"] - low, high - low, 50.0), smooth_k)
    return pd.DataFrame({"k": k, "d": sma(k, d_period)})


@register("cci", params={"period": integer(20, 2, 100)}, warmup=lambda p: p["period"] - 1,
          aliases=("cciindicator",), inputs=_HLC)
def cci(df: pd.DataFrame, period: int) -> pd.Series:
    """Commodity channel index: typical price's distance from its mean in mean deviations."""
    tp = typical_price(df)
    mad = rolling_windows(tp, period,
                          lambda w: np.abs(w - w.mean(axis=1, keepdims=True)).mean(axis=1))
    return safe_div(tp - sma(tp, period), 0.015 * mad, 0.0)


@register("williamsr", params={"period": integer(14, 1, 100)}, warmup=lambda p: p["period"] - 1,
          aliases=("williamsrindicator",), inputs=_HLC)
def williams_r(df: pd.DataFrame, period: int) -> pd.Series:
    """Williams %R (-100..0)."""
    high = df["high"].rolling(period, min_periods=period).max()
    low = df["low"].rolling(period, min_periods=period).min()
    return -100.0 * safe_div(high - df["close"], high - low, 0.5)

