"""Volatility and channel indicators: Bollinger bands and width, ATR, Keltner, Donchian, squeeze."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.indicators.core import atr as _atr
from ktrdr.indicators.core import (
    ema,
    highest,
    lowest,
    price_of,
    rolling_windows,
    sma,
    true_range,
)
from ktrdr.indicators.params import SOURCE, flag, integer, number
from ktrdr.indicators.registry import register

_HLC = ("high", "low", "close")
_KC_ATR = 10  # the squeeze builds its Keltner channel with the channel's default ATR period


def bollinger(x: pd.Series, period: int, multiplier: float) -> pd.DataFrame:
    """Bollinger bands around the SMA at `multiplier` sample (n - 1) standard deviations."""
    middle = sma(x, period)
    # Two passes over each window: a running variance loses the digits that ratios of band
    # gaps (width, squeeze) need when prices sit near 1 and move in the fifth decimal.
    dev = rolling_windows(x, period, lambda w: w.std(axis=1, ddof=1)) * multiplier
    return pd.DataFrame({"upper": middle + dev, "middle": middle, "lower": middle - dev})


def keltner(df: pd.DataFrame, period: int, atr_period: int, multiplier: float) -> pd.DataFrame:
    """Keltner channel: EMA of close ± multiplier × the simple average of true range."""
    middle = ema(df["close"], period, min_periods=period)
    band = multiplier * sma(true_range(df, first_bar="range"), atr_period)
    return pd.DataFrame({"upper": middle + band, "middle": middle, "lower": middle - band})


@register("bollingerbands", params={"period": integer(20, 2, 200), "multiplier": number(2.0, 0, 10),
                                   "source": SOURCE},
          warmup=lambda p: p["period"] - 1, outputs=("upper", "middle", "lower"),
          aliases=("bollingerbandsindicator", "bbands"))
def bbands(df: pd.DataFrame, period: int, multiplier: float, source: str) -> pd.DataFrame:
    """Bollinger bands: SMA ± multiplier × sample standard deviation."""
    return bollinger(price_of(df, source), period, multiplier)


@register("bollingerbandwidth", params={"period": integer(20, 2, 200),
                                       "multiplier": number(2.0, 0, 10), "source": SOURCE},
          warmup=lambda p: p["period"] - 1, aliases=("bollingerbandwidthindicator",))
def bbwidth(df: pd.DataFrame, period: int, multiplier: float, source: str) -> pd.Series:
    """Bollinger band width relative to the middle band: (upper - lower) / middle (0 if ~0)."""
    bands = bollinger(price_of(df, source), period, multiplier)
    width = (bands["upper"] - bands["lower"]) / bands["middle"].where(bands["middle"].abs() > 1e-10)
    return width.where(bands["middle"].abs() > 1e-10, 0.0).where(bands["middle"].notna())


@register("atr", params={"period": integer(14, 1, 100)}, warmup=lambda p: p["period"],
          aliases=("atrindicator",), inputs=_HLC)
def atr(df: pd.DataFrame, period: int) -> pd.Series:
    """Average true range, Wilder-smoothed from the mean of the first `period` true ranges."""
    return _atr(df, period)


@register("keltnerchannels", params={"period": integer(20, 2, 500), "atr_period": integer(10, 2, 200),
                                    "multiplier": number(2.0, 0, 10)},
          warmup=lambda p: max(p["period"], p["atr_period"]) - 1,
          outputs=("upper", "middle", "lower"), aliases=("keltnerchannelsindicator",),
          inputs=_HLC)
def keltner_channels(df: pd.DataFrame, period: int, atr_period: int,
                     multiplier: float) -> pd.DataFrame:
    """Keltner channel: EMA of close ± multiplier × average true range (simple average)."""
    return keltner(df, period, atr_period, multiplier)


@register("donchianchannels", params={"period": integer(20, 2, 500), "include_middle": flag(True)},
          warmup=lambda p: p["period"] - 1, outputs=("upper", "middle", "lower"),
          aliases=("donchianchannelsindicator",), inputs=("high", "low"))
def donchian(df: pd.DataFrame, period: int, include_middle: bool) -> pd.DataFrame:
    """Donchian channel: highest high, lowest low and their midpoint over `period` bars."""
    upper, lower = highest(df["high"], period), lowest(df["low"], period)
    return pd.DataFrame({"upper": upper, "middle": (upper + lower) / 2.0, "lower": lower})


@register("squeezeintensity",
          params={"bb_period": integer(20, 2, 100), "bb_multiplier": number(2.0, 0, 5),
                  "kc_period": integer(20, 2, 100), "kc_multiplier": number(2.0, 0, 5),
                  "source": SOURCE},
          warmup=lambda p: max(p["bb_period"], p["kc_period"], _KC_ATR) - 1,
          aliases=("squeezeintensityindicator",), inputs=_HLC)
def squeeze_intensity(df: pd.DataFrame, bb_period: int, bb_multiplier: float, kc_period: int,
                      kc_multiplier: float, source: str) -> pd.Series:
    """How far the Bollinger bands sit inside the Keltner channel, 0 (no squeeze) .. 0.5.

    The smaller of the two gaps (Keltner upper - Bollinger upper, Bollinger lower - Keltner
    lower) over the Keltner width, floored at 0.
    """
    bb = bollinger(price_of(df, source), bb_period, bb_multiplier)
    kc = keltner(df, kc_period, _KC_ATR, kc_multiplier)
    span = (kc["upper"] - kc["lower"]).where(lambda s: s.abs() > 1e-10)
    gap = np.minimum(kc["upper"] - bb["upper"], bb["lower"] - kc["lower"]) / span
    out = gap.clip(lower=0.0).where(span.notna(), 0.0)
    return out.where(bb["middle"].notna() & kc["upper"].notna())
