"""Path-dependent indicators (one pass over the bars): parabolic SAR, supertrend, causal zigzag."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.indicators.core import atr, price_of
from ktrdr.indicators.params import SOURCE, integer, number
from ktrdr.indicators.registry import register

_SAR_INIT = 5  # bars used to seed the first SAR (lowest low, highest high)


@register("parabolicsar", params={"initial_af": number(0.02, 0.001, 0.1, lo_open=False),
                                 "step_af": number(0.02, 0.001, 0.1, lo_open=False),
                                 "max_af": number(0.2, 0.01, 1.0, lo_open=False)},
          warmup=lambda p: _SAR_INIT - 1, aliases=("parabolicsarindicator",),
          inputs=("high", "low"))
def psar(df: pd.DataFrame, initial_af: float, step_af: float, max_af: float) -> pd.Series:
    """Wilder's parabolic SAR, seeded up-trend from the first five bars."""
    high, low = df["high"].to_numpy(), df["low"].to_numpy()
    out = np.full(len(high), np.nan)
    if len(high) < _SAR_INIT:
        return pd.Series(out, index=df.index)
    i0 = _SAR_INIT - 1
    sar, ep, af, up = low[: i0 + 1].min(), high[: i0 + 1].max(), initial_af, True
    out[i0] = sar
    for i in range(i0 + 1, len(high)):
        new = sar + af * (ep - sar)
        # The SAR may not enter the previous two bars' range.
        new = min(new, low[i - 1], low[i - 2]) if up else max(new, high[i - 1], high[i - 2])
        new_ep = max(ep, high[i]) if up else min(ep, low[i])
        if new_ep != ep:
            af = min(af + step_af, max_af)
        ep = new_ep
        if up and new > low[i]:
            new, ep, af, up = max(ep, high[i]), low[i], initial_af, False
        elif not up and new < high[i]:
            new, ep, af, up = min(ep, low[i]), high[i], initial_af, True
        sar = out[i] = new
    return pd.Series(out, index=df.index)


@register("supertrend", params={"period": integer(10, 2, 200), "multiplier": number(3.0, 0, 10)},
          warmup=lambda p: p["period"] - 1, outputs=("trend", "direction"),
          aliases=("supertrendindicator",), inputs=("high", "low", "close"))
def supertrend(df: pd.DataFrame, period: int, multiplier: float) -> pd.DataFrame:
    """Supertrend line (the trailing band) and direction (+1 up, -1 down)."""
    hl2 = ((df["high"] + df["low"]) / 2.0).to_numpy()
    band = multiplier * atr(df, period).to_numpy()
    close = df["close"].to_numpy()
    upper, lower = hl2 + band, hl2 - band
    value, direction = np.full(len(close), np.nan), np.full(len(close), np.nan)
    start = period - 1
    if len(close) > start:
        fu, fl, d = upper[start], lower[start], 1.0
        value[start], direction[start] = fl, d
        for i in range(start + 1, len(close)):
            fu = upper[i] if upper[i] < fu or close[i - 1] > fu else fu
            fl = lower[i] if lower[i] > fl or close[i - 1] < fl else fl
            d = (-1.0 if close[i] < fl else 1.0) if d > 0 else (1.0 if close[i] > fu else -1.0)
            value[i], direction[i] = (fl if d > 0 else fu), d
    return pd.DataFrame({"trend": value, "direction": direction}, index=df.index)


@register("zigzag", params={"threshold": number(0.05, 0, 0.999999), "source": SOURCE},
          warmup=lambda p: 0, outputs=("pivot", "direction", "swing"),
          aliases=("zigzagindicator",))
def zigzag(df: pd.DataFrame, threshold: float, source: str) -> pd.DataFrame:
    """Causal zigzag: swing direction since the last confirmed pivot, that pivot, and % from it.

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
