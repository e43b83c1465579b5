"""Trend indicators: moving averages, MACD, ADX, Aroon, distance from a moving average."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.indicators.core import ema, price_of, rolling_windows, safe_div, sma, true_range, wilder
from ktrdr.indicators.registry import register

_SRC = {"source": "close"}


@register("sma", params={"period": 20, **_SRC}, warmup=lambda p: p["period"] - 1,
          aliases=("simple_moving_average", "ma"))
def sma_indicator(df: pd.DataFrame, period: int, source: str) -> pd.Series:
    """Simple moving average."""
    return sma(price_of(df, source), period)


@register("ema", params={"period": 20, **_SRC}, warmup=lambda p: p["period"] - 1,
          aliases=("exponential_moving_average",))
def ema_indicator(df: pd.DataFrame, period: int, source: str) -> pd.Series:
    """Exponential moving average (alpha = 2 / (period + 1))."""
    return ema(price_of(df, source), period)


@register("wma", params={"period": 20, **_SRC}, warmup=lambda p: p["period"] - 1,
          aliases=("weighted_moving_average", "lwma"))
def wma(df: pd.DataFrame, period: int, source: str) -> pd.Series:
    """Linearly weighted moving average (newest bar weighs `period`)."""
    weights = np.arange(1, period + 1, dtype="float64")
    return rolling_windows(price_of(df, source), period, lambda w: w @ weights / weights.sum())


@register("macd", params={"fast": 12, "slow": 26, "signal": 9, **_SRC},
          warmup=lambda p: max(p["fast"], p["slow"]) + p["signal"] - 2,
          outputs=("line", "signal", "histogram"), aliases=("macd_histogram",))
def macd(df: pd.DataFrame, fast: int, slow: int, signal: int, source: str) -> pd.DataFrame:
    """MACD line (fast EMA - slow EMA), its signal EMA and the histogram between them."""
    x = price_of(df, source)
    line = ema(x, fast) - ema(x, slow)
    sig = ema(line, signal)
    return pd.DataFrame({"line": line, "signal": sig, "histogram": line - sig})


@register("adx", params={"period": 14}, warmup=lambda p: 2 * p["period"] - 1,
          outputs=("adx", "plus_di", "minus_di"), aliases=("dmi", "average_directional_index"),
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


@register("aroon", params={"period": 25}, warmup=lambda p: p["period"],
          outputs=("up", "down", "oscillator"), inputs=("high", "low"))
def aroon(df: pd.DataFrame, period: int) -> pd.DataFrame:
    """Aroon up/down: 100 × (period - bars since the extreme) / period over period+1 bars."""
    up = rolling_windows(df["high"], period + 1,
                         lambda w: np.argmax(w, axis=1) * (100.0 / period))
    down = rolling_windows(df["low"], period + 1,
                           lambda w: np.argmin(w, axis=1) * (100.0 / period))
    return pd.DataFrame({"up": up, "down": down, "oscillator": up - down})


@register("distance_ma", params={"period": 20, "ma_type": "sma", **_SRC},
          warmup=lambda p: p["period"] - 1,
          aliases=("distance_from_ma", "dist_ma", "ma_distance", "distance_from_moving_average"),
          choices={"ma_type": ("sma", "ema")})
def distance_ma(df: pd.DataFrame, period: int, ma_type: str, source: str) -> pd.Series:
    """Distance of price from its moving average, in percent of the average."""
    x = price_of(df, source)
    ma = sma(x, period) if ma_type == "sma" else ema(x, period)
    return 100.0 * (x / ma - 1.0)
