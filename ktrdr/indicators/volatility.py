"""Volatility and channel indicators: Bollinger bands, ATR, Keltner, Donchian."""

from __future__ import annotations

import pandas as pd

from ktrdr.indicators.core import atr as _atr
from ktrdr.indicators.core import ema, price_of, sma
from ktrdr.indicators.params import SOURCE, flag, integer, number
from ktrdr.indicators.registry import register

_HLC = ("high", "low", "close")


@register("bollingerbands", params={"period": integer(20, 2, 200), "multiplier": number(2.0, 0, 10),
                                   "source": SOURCE},
          warmup=lambda p: p["period"] - 1, outputs=("upper", "middle", "lower"),
          aliases=("bollingerbandsindicator", "bbands"))
def bbands(df: pd.DataFrame, period: int, multiplier: float, source: str) -> pd.DataFrame:
    """Bollinger bands (population std), band width relative to the middle, and %B."""
    x = price_of(df, source)
    middle = sma(x, period)
    dev = x.rolling(period, min_periods=period).std(ddof=0) * multiplier
    return pd.DataFrame({"upper": middle + dev, "middle": middle, "lower": middle - dev})


@register("atr", params={"period": integer(14, 1, 100)}, warmup=lambda p: p["period"] - 1,
          aliases=("atrindicator",), inputs=_HLC)
def atr(df: pd.DataFrame, period: int) -> pd.Series:
    """Average true range (Wilder smoothing)."""
    return _atr(df, period)


@register("keltnerchannels", params={"period": integer(20, 2, 500), "atr_period": integer(10, 2, 200),
                                    "multiplier": number(2.0, 0, 10)},
          warmup=lambda p: max(p["period"], p["atr_period"]) - 1,
          outputs=("upper", "middle", "lower"), aliases=("keltnerchannelsindicator",),
          inputs=_HLC)
def keltner(df: pd.DataFrame, period: int, atr_period: int, multiplier: float) -> pd.DataFrame:
    """Keltner channel: EMA of close ± multiplier × ATR."""
    middle = ema(df["close"], period)
    band = multiplier * _atr(df, atr_period)
    return pd.DataFrame({"upper": middle + band, "middle": middle, "lower": middle - band})


@register("donchianchannels", params={"period": integer(20, 2, 500), "include_middle": flag(True)},
          warmup=lambda p: p["period"] - 1, outputs=("upper", "middle", "lower"),
          aliases=("donchianchannelsindicator",), inputs=("high", "low"))
def donchian(df: pd.DataFrame, period: int, include_middle: bool) -> pd.DataFrame:
    """Donchian channel: highest high, lowest low and their midpoint over `period` bars."""
    upper = df["high"].rolling(period, min_periods=period).max()
    lower = df["low"].rolling(period, min_periods=period).min()
    return pd.DataFrame({"upper": upper, "middle": (upper + lower) / 2.0, "lower": lower})

