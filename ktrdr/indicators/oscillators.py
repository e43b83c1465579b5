"""Oscillators the original KTRDR added beyond the classics: RVI and the Fisher transform."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.indicators.core import NOISE, ema, highest, lowest, safe_div, sma
from ktrdr.indicators.params import integer
from ktrdr.indicators.registry import register


def _symmetric_weighted(x: pd.Series) -> pd.Series:
    # (x[t-3] + 2·x[t-2] + 2·x[t-1] + x[t]) / 6
    return (x.shift(3) + 2.0 * x.shift(2) + 2.0 * x.shift(1) + x) / 6.0


@register("rvi", params={"period": integer(10, 4, 100), "signal_period": integer(4, 1, 50)},
          warmup=lambda p: p["period"] + p["signal_period"] + 1, outputs=("rvi", "signal"),
          aliases=("rviindicator",), inputs=("open", "high", "low", "close"))
def rvi(df: pd.DataFrame, period: int, signal_period: int) -> pd.DataFrame:
    """Relative vigour index: the averaged close - open over the averaged high - low, and its SMA.

    Both sides are symmetric 4-bar weighted sums then `period`-bar averages; a window without
    any range gives 0 (no vigour either way).
    """
    num = sma(_symmetric_weighted(df["close"] - df["open"]), period)
    den = sma(_symmetric_weighted(df["high"] - df["low"]), period)
    # A running sum of zero ranges can leave rounding dust instead of 0: that is no range too.
    den = den.where(den.abs() > NOISE * df["close"].abs(), 0.0).where(den.notna())
    value = safe_div(num, den, 0.0)
    return pd.DataFrame({"rvi": value, "signal": sma(value, signal_period)})


@register("fishertransform", params={"period": integer(10, 2, 100), "smoothing": integer(3, 1, 20)},
          warmup=lambda p: p["period"], outputs=("fisher", "signal"),
          aliases=("fishertransformindicator",), inputs=("high", "low"))
def fisher_transform(df: pd.DataFrame, period: int, smoothing: int) -> pd.DataFrame:
    """Fisher transform of the median price's place in its `period` range, EMA-smoothed.

    The place is scaled to -1..1 (0 for a range of none) and clipped to ±0.999 before
    0.5·ln((1 + x) / (1 - x)); the signal is the previous bar's value.
    """
    median = (df["high"] + df["low"]) / 2.0
    low = lowest(df["low"], period)
    place = 2.0 * safe_div(median - low, highest(df["high"], period) - low, 0.5) - 1.0
    place = place.clip(-0.999, 0.999)
    raw = 0.5 * np.log((1.0 + place) / (1.0 - place))
    fisher = ema(raw, smoothing, min_periods=1)
    return pd.DataFrame({"fisher": fisher, "signal": fisher.shift(1)})
