"""Directional indicators: ADX with the ±DI lines, and Aroon."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.indicators.core import rolling_windows, safe_div, true_range, wilder
from ktrdr.indicators.params import flag, integer
from ktrdr.indicators.registry import register


def _directional_movement(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    up, down = df["high"].diff(), -df["low"].diff()
    plus_dm = up.where((up > down) & (up > 0), 0.0).where(up.notna())
    minus_dm = down.where((down > up) & (down > 0), 0.0).where(down.notna())
    return plus_dm, minus_dm


@register("adx", params={"period": integer(14, 2, 200)}, warmup=lambda p: 2 * p["period"] - 1,
          outputs=("adx", "plus_di", "minus_di"), aliases=("adxindicator",),
          inputs=("high", "low", "close"))
def adx(df: pd.DataFrame, period: int) -> pd.DataFrame:
    """Wilder's ADX with the +DI / -DI lines (0..100).

    Movement and true range are Wilder running sums seeded with the first period - 1 bars, so
    ±DI start at bar `period` and ADX (the Wilder average of DX) at bar 2·period - 1.
    """
    plus_dm, minus_dm = _directional_movement(df)
    tr = wilder(true_range(df), period, seed_count=period - 1)
    plus_di = 100.0 * safe_div(wilder(plus_dm, period, seed_count=period - 1), tr, 0.0)
    minus_di = 100.0 * safe_div(wilder(minus_dm, period, seed_count=period - 1), tr, 0.0)
    started = np.arange(len(df)) >= period
    plus_di, minus_di = plus_di.where(started), minus_di.where(started)
    # No directional movement at all: DX is undefined; it adds 0 to the seed and then leaves
    # ADX where it was, as Wilder's running sum does.
    dx = 100.0 * safe_div((plus_di - minus_di).abs(), plus_di + minus_di)
    return pd.DataFrame({"adx": wilder(dx, period, start=period), "plus_di": plus_di,
                         "minus_di": minus_di})


def _bars_since_latest(windows: np.ndarray, pick) -> np.ndarray:
    # Reversed, the first extreme is the most recent one: a tie counts from the newest bar.
    return pick(windows[:, ::-1], axis=1)


@register("aroon", params={"period": integer(14, 1, 200), "include_oscillator": flag(False)},
          warmup=lambda p: p["period"], outputs=("up", "down", "oscillator"),
          aliases=("aroonindicator",), inputs=("high", "low"))
def aroon(df: pd.DataFrame, period: int, include_oscillator: bool) -> pd.DataFrame:
    """Aroon up/down: 100 × (period - bars since the extreme) / period over period + 1 bars.

    The oscillator (up - down) is always an output; `include_oscillator` is the original's flag.
    """
    scale = 100.0 / period
    up = rolling_windows(df["high"], period + 1,
                         lambda w: (period - _bars_since_latest(w, np.argmax)) * scale)
    down = rolling_windows(df["low"], period + 1,
                           lambda w: (period - _bars_since_latest(w, np.argmin)) * scale)
    return pd.DataFrame({"up": up, "down": down, "oscillator": up - down})
