"""Trend indicators: moving averages, MACD, ADX, Aroon, distance from a moving average."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.indicators.core import ema, price_of, rolling_windows, safe_div, sma, true_range, wilder
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
    """Exponential moving average (alpha = 2 / (period + 1))."""
    return ema(price_of(df, source), period)


@register("weightedmovingaverage", params={"period": integer(20, 2, 500), **_SRC},
          warmup=lambda p: p["period"] - 1, aliases=("wma",))
def wma(df: pd.DataFrame, period: int, source: str) -> pd.Series:
    """Linearly weighted moving average (newest bar weighs `period`)."""
    weights = np.arange(1, period + 1, dtype="float64")
    return rolling_windows(price_of(df, source), period, lambda w: w @ weights / weights.sum())


@register("macd", params={"fast_period": integer(12, 1, 100), "slow_period": integer(26, 1, 200),
                         "signal_period": integer(9, 1, 50), **_SRC},
          warmup=lambda p: max(p["fast_period"], p["slow_period"]) + p["signal_period"] - 2,
          outputs=("line", "signal", "histogram"), aliases=("macdindicator",))
def macd(df: pd.DataFrame, fast_period: int, slow_period: int, signal_period: int,
         source: str) -> pd.DataFrame:
    """MACD line (fast EMA - slow EMA), its signal EMA and the histogram between them."""
    x = price_of(df, source)
    line = ema(x, fast_period) - ema(x, slow_period)
    sig = ema(line, signal_period)
    return pd.DataFrame({"line": line, "signal": sig, "histogram": line - sig})


@register("adx", params={"period": integer(14, 2, 200)}, warmup=lambda p: 2 * p["period"] - 1,
          outputs=("adx", "plus_di", "minus_di"), aliases=("adxindicator",),
          inputs=("high", "low", "close"))
def adx(df: pd.DataFrame, period: int) -> pd.DataFrame:
    """Wilder's ADX with the +DI / -DI lines."""
    up, down = df["high"].diff(), -df["low"].diff()
    plus_dm = up.where((up > down) & (up > 0), 0.0).where(up.notna())
    minus_dm = down.where((down > up) & (down > 0), 0.0).where(down.notna())
    tr = wilder(true_range(df).where(up.notna()), period)  # DM starts at bar 1, so must TR
    plus_di = 100.0 * safe_div(wilder(plus_dm, period), tr, 0.0)
    minus_di = 100.0 * safe_div(wilder(minus_dm, period), tr, 0.0)
    dx = 100.0 * safe_div((plus_di - minus_di).abs(), plus_di + minus_di, 0.0)
    return pd.DataFrame({"adx": wilder(dx, period), "plus_di": plus_di, "minus_di": minus_di})


@register("aroon", params={"period": integer(14, 1, 200), "include_oscillator": flag(False)},
          warmup=lambda p: p["period"], outputs=("up", "down", "oscillator"),
          aliases=("aroonindicator",), inputs=("high", "low"))
def aroon(df: pd.DataFrame, period: int, include_oscillator: bool) -> pd.DataFrame:
    """Aroon up/down: 100 × (period - bars since the extreme) / period over period+1 bars."""
    up = rolling_windows(df["high"], period + 1,
                         lambda w: np.argmax(w, axis=1) * (100.0 / period))
    down = rolling_windows(df["low"], period + 1,
                           lambda w: np.argmin(w, axis=1) * (100.0 / period))
    return pd.DataFrame({"up": up, "down": down, "oscillator": up - down})


@register("distancefromma", params={"period": integer(20, 1, 200),
                                   "ma_type": choice("SMA", "SMA", "EMA"), **_SRC},
          warmup=lambda p: p["period"] - 1, aliases=("distancefrommaindicator",))
def distance_ma(df: pd.DataFrame, period: int, ma_type: str, source: str) -> pd.Series:
    """Distance of price from its moving average, in percent of the average."""
    x = price_of(df, source)
    ma = sma(x, period) if ma_type == "SMA" else ema(x, period)
    return 100.0 * (x / ma - 1.0)
