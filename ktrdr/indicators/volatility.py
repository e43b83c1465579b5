"""Volatility and channel indicators: Bollinger bands, ATR, Keltner, Donchian."""

from __future__ import annotations

import pandas as pd

from ktrdr.indicators.core import atr as _atr
from ktrdr.indicators.core import ema, price_of, safe_div, sma
from ktrdr.indicators.registry import register

_HLC = ("high", "low", "close")


@register("bbands", params={"period": 20, "std": 2.0, "source": "close"},
          warmup=lambda p: p["period"] - 1,
          outputs=("upper", "middle", "lower", "width", "percent_b"),
          aliases=("bollinger", "bollinger_bands", "bb"))
def bbands(df: pd.DataFrame, period: int, std: float, source: str) -> pd.DataFrame:
    """Bollinger bands (population std), band width relative to the middle, and %B."""
    x = price_of(df, source)
    middle = sma(x, period)
    dev = x.rolling(period, min_periods=period).std(ddof=0) * std
    upper, lower = middle + dev, middle - dev
    return pd.DataFrame({
        "upper": upper, "middle": middle, "lower": lower,
        "width": safe_div(upper - lower, middle, 0.0),
        "percent_b": safe_div(x - lower, upper - lower, 0.5),
    })


@register("atr", params={"period": 14}, warmup=lambda p: p["period"] - 1,
          aliases=("average_true_range",), inputs=_HLC)
def atr(df: pd.DataFrame, period: int) -> pd.Series:
    """Average true range (Wilder smoothing)."""
    return _atr(df, period)


@register("keltner", params={"period": 20, "atr_period": 10, "multiplier": 2.0},
          warmup=lambda p: max(p["period"], p["atr_period"]) - 1,
          outputs=("upper", "middle", "lower"), aliases=("keltner_channel", "kc"), inputs=_HLC)
def keltner(df: pd.DataFrame, period: int, atr_period: int, multiplier: float) -> pd.DataFrame:
    """Keltner channel: EMA of close ± multiplier × ATR."""
    middle = ema(df["close"], period)
    band = multiplier * _atr(df, atr_period)
    return pd.DataFrame({"upper": middle + band, "middle": middle, "lower": middle - band})


@register("donchian", params={"period": 20}, warmup=lambda p: p["period"] - 1,
          outputs=("upper", "middle", "lower"), aliases=("donchian_channel", "dc"),
          inputs=("high", "low"))
def donchian(df: pd.DataFrame, period: int) -> pd.DataFrame:
    """Donchian channel: highest high, lowest low and their midpoint over `period` bars."""
    upper = df["high"].rolling(period, min_periods=period).max()
    lower = df["low"].rolling(period, min_periods=period).min()
    return pd.DataFrame({"upper": upper, "middle": (upper + lower) / 2.0, "lower": lower})

