"""Momentum oscillators: RSI, ROC, momentum, stochastic, CCI, Williams %R."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.indicators.core import price_of, rolling_windows, safe_div, sma, typical_price, wilder
from ktrdr.indicators.registry import register

_HLC = ("high", "low", "close")


@register("rsi", params={"period": 14, "source": "close"}, warmup=lambda p: p["period"],
          aliases=("relative_strength_index",))
def rsi(df: pd.DataFrame, period: int, source: str) -> pd.Series:
    """Wilder's RSI (0..100); 100 when there were no losses over the window."""
    diff = price_of(df, source).diff()
    gain = wilder(diff.clip(lower=0), period)
    loss = wilder(-diff.clip(upper=0), period)
    out = 100.0 - 100.0 / (1.0 + gain / loss)
    return out.where(loss != 0, 100.0).where(gain.notna())


@register("roc", params={"period": 12, "source": "close"}, warmup=lambda p: p["period"],
          aliases=("rate_of_change",))
def roc(df: pd.DataFrame, period: int, source: str) -> pd.Series:
    """Rate of change in percent over `period` bars."""
    x = price_of(df, source)
    return (x / x.shift(period) - 1.0) * 100.0


@register("momentum", params={"period": 10, "source": "close"}, warmup=lambda p: p["period"],
          aliases=("mom",))
def momentum(df: pd.DataFrame, period: int, source: str) -> pd.Series:
    """Price difference over `period` bars."""
    x = price_of(df, source)
    return x - x.shift(period)


@register("stochastic", params={"period": 14, "d_period": 3},
          warmup=lambda p: p["period"] + p["d_period"] - 2, outputs=("k", "d"),
          aliases=("stoch", "stochastic_oscillator"), inputs=_HLC)
def stochastic(df: pd.DataFrame, period: int, d_period: int) -> pd.DataFrame:
    """Fast stochastic %K and its SMA %D (0..100)."""
    low = df["low"].rolling(period, min_periods=period).min()
    high = df["high"].rolling(period, min_periods=period).max()
    k = 100.0 * safe_div(df["close"] - low, high - low, 50.0)
    return pd.DataFrame({"k": k, "d": sma(k, d_period)})


@register("cci", params={"period": 20, "constant": 0.015}, warmup=lambda p: p["period"] - 1,
          aliases=("commodity_channel_index",), inputs=_HLC)
def cci(df: pd.DataFrame, period: int, constant: float) -> pd.Series:
    """Commodity channel index: typical price's distance from its mean in mean deviations."""
    tp = typical_price(df)
    mad = rolling_windows(tp, period,
                          lambda w: np.abs(w - w.mean(axis=1, keepdims=True)).mean(axis=1))
    return safe_div(tp - sma(tp, period), constant * mad, 0.0)


@register("williams_r", params={"period": 14}, warmup=lambda p: p["period"] - 1,
          aliases=("williams", "willr", "wr", "williams_%r"), inputs=_HLC)
def williams_r(df: pd.DataFrame, period: int) -> pd.Series:
    """Williams %R (-100..0)."""
    high = df["high"].rolling(period, min_periods=period).max()
    low = df["low"].rolling(period, min_periods=period).min()
    return -100.0 * safe_div(high - df["close"], high - low, 0.5)

