"""Volume indicators: OBV, MFI, VWAP, Chaikin money flow, accumulation/distribution line."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.indicators.core import safe_div, typical_price
from ktrdr.indicators.params import integer
from ktrdr.indicators.registry import register

_HLCV = ("high", "low", "close", "volume")


@register("obv", params={}, warmup=lambda p: 0, aliases=("obvindicator",),
          inputs=("close", "volume"))
def obv(df: pd.DataFrame) -> pd.Series:
    """On-balance volume; the first bar counts as an up bar."""
    signed = np.where(df["close"] < df["close"].shift(1), -df["volume"], df["volume"])
    return pd.Series(signed, index=df.index).cumsum()


@register("mfi", params={"period": integer(14, 1, 100)}, warmup=lambda p: p["period"],
          aliases=("mfiindicator",), inputs=_HLCV)
def mfi(df: pd.DataFrame, period: int) -> pd.Series:
    """Money flow index (0..100): volume-weighted RSI of the typical price."""
    tp = typical_price(df)
    direction = np.sign(tp.diff())  # NaN on the first bar: no previous price to compare
    flow = tp * df["volume"] * direction
    pos = flow.clip(lower=0).rolling(period, min_periods=period).sum()
    neg = (-flow.clip(upper=0)).rolling(period, min_periods=period).sum()
    return (100.0 - 100.0 / (1.0 + pos / neg)).where(neg != 0, 100.0).where(pos.notna())


@register("vwap", params={"period": integer(20, 1, 200)}, warmup=lambda p: p["period"] - 1,
          aliases=("vwapindicator",), inputs=_HLCV)
def vwap(df: pd.DataFrame, period: int) -> pd.Series:
    """Rolling volume-weighted average of the typical price over `period` bars."""
    pv = (typical_price(df) * df["volume"]).rolling(period, min_periods=period).sum()
    vol = df["volume"].rolling(period, min_periods=period).sum()
    return safe_div(pv, vol)


@register("cmf", params={"period": integer(21, 2, 500)}, warmup=lambda p: p["period"] - 1,
          aliases=("cmfindicator",), inputs=_HLCV)
def cmf(df: pd.DataFrame, period: int) -> pd.Series:
    """Chaikin money flow (-1..1)."""
    mfv = _clv(df) * df["volume"]
    vol = df["volume"].rolling(period, min_periods=period).sum()
    return safe_div(mfv.rolling(period, min_periods=period).sum(), vol, 0.0)


@register("adline", params={}, warmup=lambda p: 0, aliases=("adlineindicator",), inputs=_HLCV)
def ad_line(df: pd.DataFrame) -> pd.Series:
    """Accumulation/distribution line: running sum of close-location-weighted volume."""
    return (_clv(df) * df["volume"]).cumsum()


def _clv(df: pd.DataFrame) -> pd.Series:
    # Close location value; a zero-range bar carries no information, hence 0.
    num = (df["close"] - df["low"]) - (df["high"] - df["close"])
    return safe_div(num, df["high"] - df["low"], 0.0)
