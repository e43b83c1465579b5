"""Path-dependent indicators (one pass over the bars): parabolic SAR, supertrend, causal zigzag."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ktrdr.indicators.core import atr, price_of
from ktrdr.indicators.params import SOURCE, integer, number
from ktrdr.indicators.registry import register


@dataclass
class _Sar:
    """The running state of a parabolic SAR: stop, extreme point, acceleration, side."""

    sar: float
    ep: float
    af: float
    long: bool


def _sar_step(s: _Sar, prev: tuple[float, float], bar: tuple[float, float],
              af: tuple[float, float, float]) -> float:
    """Advance one bar; return the stop that applies to it. `af` = (initial, step, max)."""
    (prev_high, prev_low), (high, low) = prev, bar
    if s.long and low <= s.sar or not s.long and high >= s.sar:
        # Reversal: the stop jumps to the extreme point, kept outside this and the last bar.
        s.long = not s.long
        s.sar = max(s.ep, prev_high, high) if not s.long else min(s.ep, prev_low, low)
        out, s.af, s.ep = s.sar, af[0], (low if not s.long else high)
    else:
        out = s.sar
        if s.long and high > s.ep or not s.long and low < s.ep:
            s.ep, s.af = (high if s.long else low), min(s.af + af[1], af[2])
    s.sar += s.af * (s.ep - s.sar)
    # The next stop may not enter this bar's or the last bar's range.
    s.sar = min(s.sar, prev_low, low) if s.long else max(s.sar, prev_high, high)
    return out


@register("parabolicsar", params={"initial_af": number(0.02, 0.001, 0.1, lo_open=False),
                                 "step_af": number(0.02, 0.001, 0.1, lo_open=False),
                                 "max_af": number(0.2, 0.01, 1.0, lo_open=False)},
          warmup=lambda p: 1, aliases=("parabolicsarindicator",), inputs=("high", "low"))
def psar(df: pd.DataFrame, initial_af: float, step_af: float, max_af: float) -> pd.Series:
    """Wilder's parabolic SAR from bar 1.

    The first side is short when bar 1 moved down (its low fell further than its high rose),
    long otherwise; the first stop is bar 0's opposite extreme.
    """
    high, low = df["high"].to_numpy(float), df["low"].to_numpy(float)
    out = np.full(len(high), np.nan)
    if len(high) < 2:
        return pd.Series(out, index=df.index)
    fall, rise = low[0] - low[1], high[1] - high[0]
    long = not (fall > 0 and rise < fall)
    state = _Sar(low[0] if long else high[0], high[1] if long else low[1], initial_af, long)
    afs = (initial_af, step_af, max(max_af, initial_af))
    bars = list(zip(high.tolist(), low.tolist(), strict=True))  # Python floats: a faster loop
    prev = bars[1]  # bar 1 serves as its own previous bar on the first step
    for i in range(1, len(bars)):
        out[i] = _sar_step(state, prev, bars[i], afs)
        prev = bars[i]
    return pd.Series(out, index=df.index)


@register("supertrend", params={"period": integer(10, 2, 200), "multiplier": number(3.0, 0, 10)},
          warmup=lambda p: p["period"], outputs=("trend", "direction"),
          aliases=("supertrendindicator",), inputs=("high", "low", "close"))
def supertrend(df: pd.DataFrame, period: int, multiplier: float) -> pd.DataFrame:
    """Supertrend line (the trailing band) and direction (+1 up, -1 down), on Wilder's ATR."""
    hl2 = ((df["high"] + df["low"]) / 2.0).to_numpy()
    band = multiplier * atr(df, period).to_numpy()
    close = df["close"].to_numpy()
    # Python floats make the per-bar loop several times faster than numpy scalars.
    upper, lower, closes = (hl2 + band).tolist(), (hl2 - band).tolist(), close.tolist()
    value, direction = np.full(len(close), np.nan), np.full(len(close), np.nan)
    start = period
    if len(close) > start:
        fu, fl, d = upper[start], lower[start], 1.0
        value[start], direction[start] = fl, d
        for i in range(start + 1, len(close)):
            fu = upper[i] if upper[i] < fu or closes[i - 1] > fu else fu
            fl = lower[i] if lower[i] > fl or closes[i - 1] < fl else fl
            d = (-1.0 if closes[i] < fl else 1.0) if d > 0 else (1.0 if closes[i] > fu else -1.0)
            value[i], direction[i] = (fl if d > 0 else fu), d
    return pd.DataFrame({"trend": value, "direction": direction}, index=df.index)


@register("zigzag", params={"threshold": number(0.05, 0, 0.999999), "source": SOURCE},
          warmup=lambda p: 0, outputs=("pivot", "direction", "swing"),
          aliases=("zigzagindicator",))
def zigzag(df: pd.DataFrame, threshold: float, source: str) -> pd.DataFrame:
    """Causal zigzag: the last confirmed pivot, the swing direction since it, and % from it.

    A pivot is confirmed only once price has reversed by `threshold` (a fraction) from it, so
    every value uses past bars only; direction is 0 before the first confirmation.
    """
    close = price_of(df, source).to_numpy()
    direction, pivot = np.zeros(len(close)), np.full(len(close), np.nan)
    if len(close):
        trend, hi, lo, piv = 0, close[0], close[0], close[0]
        for i, c in enumerate(close):
            hi, lo = (max(hi, c), lo) if trend >= 0 else (hi, lo)
            lo = min(lo, c) if trend <= 0 else lo
            if trend >= 0 and c <= hi * (1.0 - threshold):
                trend, piv, lo = -1, hi, c
            elif trend <= 0 and c >= lo * (1.0 + threshold):
                trend, piv, hi = 1, lo, c
            direction[i], pivot[i] = trend, piv
    swing = 100.0 * (close / pivot - 1.0)
    return pd.DataFrame({"pivot": pivot, "direction": direction, "swing": swing}, index=df.index)
