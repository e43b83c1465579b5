"""Trend indicators: moving averages, MACD, distance from a moving average, Ichimoku."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.indicators.core import ema, highest, lowest, price_of, rolling_windows, safe_div, sma
from ktrdr.indicators.params import SOURCE, choice, flag, integer
from ktrdr.indicators.registry import register

_SRC = {"source": SOURCE}


@register("simplemovingaverage", params={"period": integer(20, 2, 500), **_SRC},
          warmup=lambda p: p["period"] - 1, aliases=("sma",))
def sma_indicator(df: pd.DataFrame, period: int, source: str) -> pd.Series:
    """Simple moving average."""
    return sma(price_of(df, source), period)


@register("exponentialmovingaverage",
          params={"period": integer(20, 1, 500), **_SRC, "adjust": flag(True)},
          warmup=lambda p: p["period"] - 1, aliases=("ema",))
def ema_indicator(df: pd.DataFrame, period: int, source: str, adjust: bool) -> pd.Series:
    """Exponential moving average (alpha = 2 / (period + 1)) from the first bar; see `ema`."""
    return ema(price_of(df, source), period, adjust=adjust)


@register("weightedmovingaverage", params={"period": integer(20, 2, 500), **_SRC},
          warmup=lambda p: p["period"] - 1, aliases=("wma",))
def wma(df: pd.DataFrame, period: int, source: str) -> pd.Series:
    """Linearly weighted moving average (newest bar weighs `period`)."""
    weights = np.arange(1, period + 1, dtype="float64")
    return rolling_windows(price_of(df, source), period, lambda w: w @ weights / weights.sum())


def _macd_warmup(p: dict) -> int:
    return max(p["fast_period"], p["slow_period"]) + p["signal_period"] - 2


@register("macd", params={"fast_period": integer(12, 1, 100), "slow_period": integer(26, 1, 200),
                         "signal_period": integer(9, 1, 50), **_SRC},
          warmup=_macd_warmup, outputs=("line", "signal", "histogram"), aliases=("macdindicator",))
def macd(df: pd.DataFrame, fast_period: int, slow_period: int, signal_period: int,
         source: str) -> pd.DataFrame:
    """MACD line (fast EMA - slow EMA), its signal EMA and the histogram between them.

    Both EMAs and the signal start from the first bar (recursive form), as the original's;
    values are NaN until the slower EMA (then the signal) has seen its period.
    """
    x = price_of(df, source)
    line = ema(x, fast_period, min_periods=1) - ema(x, slow_period, min_periods=1)
    signal = ema(line, signal_period, min_periods=1)
    rows = np.arange(len(x))
    line_from = max(fast_period, slow_period) - 1
    signal_from = line_from + signal_period - 1
    return pd.DataFrame({"line": line.where(rows >= line_from),
                         "signal": signal.where(rows >= signal_from),
                         "histogram": (line - signal).where(rows >= signal_from)})


@register("distancefromma", params={"period": integer(20, 1, 200),
                                   "ma_type": choice("SMA", "SMA", "EMA"), **_SRC},
          warmup=lambda p: p["period"] - 1, aliases=("distancefrommaindicator",))
def distance_ma(df: pd.DataFrame, period: int, ma_type: str, source: str) -> pd.Series:
    """Distance of price from its moving average, in percent of the average (0 if it is 0).

    The EMA is the original's default exponential average (`adjust=True`).
    """
    x = price_of(df, source)
    ma = sma(x, period) if ma_type == "SMA" else ema(x, period, adjust=True)
    return 100.0 * safe_div(x - ma, ma, 0.0)


def _midpoint(df: pd.DataFrame, n: int) -> pd.Series:
    return (highest(df["high"], n) + lowest(df["low"], n)) / 2.0


@register("ichimoku", params={"tenkan_period": integer(9, 1, 50), "kijun_period": integer(26, 1, 100),
                             "senkou_b_period": integer(52, 1, 200),
                             "displacement": integer(26, 1, 100)},
          warmup=lambda p: max(p["tenkan_period"], p["kijun_period"], p["senkou_b_period"]) - 1,
          outputs=("tenkan", "kijun", "senkou_a", "senkou_b", "chikou"),
          aliases=("ichimokuindicator",), inputs=("high", "low", "close"))
def ichimoku(df: pd.DataFrame, tenkan_period: int, kijun_period: int, senkou_b_period: int,
             displacement: int) -> pd.DataFrame:
    """Ichimoku lines at the bar they are computed on (no displacement, as the original).

    Shifting the spans forward and the chikou back would put the future into today's row;
    `displacement` is accepted for the original's files and changes nothing.
    """
    tenkan, kijun = _midpoint(df, tenkan_period), _midpoint(df, kijun_period)
    return pd.DataFrame({"tenkan": tenkan, "kijun": kijun, "senkou_a": (tenkan + kijun) / 2.0,
                         "senkou_b": _midpoint(df, senkou_b_period),
                         "chikou": df["close"].astype("float64")})
