"""Volume indicators: OBV, MFI, VWAP, Chaikin money flow, A/D line, volume ratio."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ktrdr.indicators.core import change_sign, ema, safe_div, sma, typical_price
from ktrdr.indicators.params import IndicatorError, flag, integer
from ktrdr.indicators.registry import register

_HLCV = ("high", "low", "close", "volume")


@register("obv", params={}, warmup=lambda p: 0, aliases=("obvindicator",),
          inputs=("close", "volume"))
def obv(df: pd.DataFrame) -> pd.Series:
    """On-balance volume from 0 at the first bar; an unchanged close leaves it unchanged."""
    return (change_sign(df["close"]).fillna(0.0) * df["volume"]).cumsum()


@register("mfi", params={"period": integer(14, 1, 100)}, warmup=lambda p: p["period"],
          aliases=("mfiindicator",), inputs=_HLCV)
def mfi(df: pd.DataFrame, period: int) -> pd.Series:
    """Money flow index (0..100): volume-weighted RSI of the typical price.

    A bar whose typical price did not change (to rounding noise) adds no flow; a window with
    no flow at all gives 50.
    """
    tp = typical_price(df)
    direction = change_sign(tp)
    flow = tp * df["volume"]
    pos = flow.where(direction > 0, 0.0).where(direction.notna()).rolling(period).sum()
    neg = flow.where(direction < 0, 0.0).where(direction.notna()).rolling(period).sum()
    return (100.0 * safe_div(pos, pos + neg, 0.5)).where(pos.notna())


@register("vwap", params={"period": integer(20, 0, 200), "use_typical_price": flag(True)},
          warmup=lambda p: max(p["period"] - 1, 0), aliases=("vwapindicator",), inputs=_HLCV)
def vwap(df: pd.DataFrame, period: int, use_typical_price: bool) -> pd.Series:
    """Volume-weighted average price over `period` bars (0: since the first bar)."""
    price = typical_price(df) if use_typical_price else df["close"].astype("float64")
    pv, vol = price * df["volume"], df["volume"].astype("float64")
    if period == 0:
        return safe_div(pv.cumsum(), vol.cumsum())
    return safe_div(pv.rolling(period).sum(), vol.rolling(period).sum())


def _clv(df: pd.DataFrame) -> pd.Series:
    # Close location value, the money-flow multiplier; a zero-range bar carries none.
    num = (df["close"] - df["low"]) - (df["high"] - df["close"])
    return safe_div(num, df["high"] - df["low"], 0.0)


def _flag(condition: pd.Series, defined: pd.Series) -> pd.Series:
    return condition.astype("float64").where(defined.notna())


@register("cmf", params={"period": integer(21, 2, 500)}, warmup=lambda p: p["period"] + 4,
          outputs=("cmf", "mf_multiplier", "mf_volume", "momentum", "signal", "histogram",
                   "above_zero", "below_zero"),
          aliases=("cmfindicator",), inputs=_HLCV)
def cmf(df: pd.DataFrame, period: int) -> pd.DataFrame:
    """Chaikin money flow (-1..1) with the original's companions.

    momentum: change over 5 bars; signal: its 9-bar EMA; histogram: cmf - signal;
    above_zero / below_zero: 1.0 or 0.0.
    """
    multiplier = _clv(df)
    volume = multiplier * df["volume"]
    value = safe_div(volume.rolling(period).sum(), df["volume"].rolling(period).sum(), 0.0)
    signal = ema(value, 9, min_periods=1)
    return pd.DataFrame({
        "cmf": value, "mf_multiplier": multiplier, "mf_volume": volume,
        "momentum": value - value.shift(5), "signal": signal, "histogram": value - signal,
        "above_zero": _flag(value > 0, value), "below_zero": _flag(value < 0, value)})


def _no_smoothing(params: Mapping[str, Any]) -> None:
    if params["use_sma_smoothing"]:
        raise IndicatorError("use_sma_smoothing: true is not supported: the original KTRDR "
                             "declared no output for the smoothed line", param="use_sma_smoothing",
                             value=True, suggestion="remove it (or set it to false)")


@register("adline", params={"use_sma_smoothing": flag(False), "smoothing_period": integer(21, 2, 200)},
          warmup=lambda p: 21, check=_no_smoothing,
          outputs=("line", "mf_multiplier", "mf_volume", "roc_10", "momentum_21",
                   "relative_strength"),
          aliases=("adlineindicator",), inputs=_HLCV)
def ad_line(df: pd.DataFrame, use_sma_smoothing: bool, smoothing_period: int) -> pd.DataFrame:
    """Accumulation/distribution line with the original's companions.

    roc_10: % change over 10 bars; momentum_21: change over 21 bars; relative_strength: % above
    its 50-bar mean (from 20 bars on); a ratio over a line at 0 is 0.
    """
    multiplier = _clv(df)
    volume = multiplier * df["volume"]
    line = volume.cumsum()
    mean = line.rolling(50, min_periods=20).mean()
    return pd.DataFrame({
        "line": line, "mf_multiplier": multiplier, "mf_volume": volume,
        "roc_10": 100.0 * safe_div(line - line.shift(10), line.shift(10), 0.0),
        "momentum_21": line - line.shift(21),
        "relative_strength": 100.0 * safe_div(line - mean, mean, 0.0)})


@register("volumeratio", params={"period": integer(20, 2, 100)}, warmup=lambda p: p["period"] - 1,
          aliases=("volumeratioindicator",), inputs=("volume",))
def volume_ratio(df: pd.DataFrame, period: int) -> pd.Series:
    """Volume over its `period`-bar simple average (1.0 when the average is ~0)."""
    mean = sma(df["volume"].astype("float64"), period)
    busy = mean.abs() > 1e-10
    return (df["volume"] / mean.where(busy)).where(busy, 1.0).where(mean.notna()).astype(np.float64)
