"""Multi-scale regime labels: a macro ZigZag gives each segment its direction, a micro ZigZag inside it says
whether the move progresses (trend) or not (range), and a forward volatility burst overrides both.

Both ZigZag thresholds are ATR multiples made dimensionless: mult × median(ATR) / median(close) over the whole
series, ATR being the simple mean of the true range over `atr_period` bars. Every bar from one macro extreme to
the next (both included; a shared extreme takes the later segment's label) is TRENDING_UP / TRENDING_DOWN when
the segment's micro lows rise (up) or highs fall (down) in at least `progression_tolerance` of consecutive
pairs (needs 4+ micro extremes in the segment), else RANGING; VOLATILE where the realized-volatility ratio over
the next `atr_period` bars against the past `vol_lookback` exceeds `vol_crisis_threshold`. Bars after the last
macro extreme have no label. The last segment ends at the running extreme, so its labels are provisional.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.training.labels.base import REGIME_CLASSES, UNLABELED, LabelSet, column, positive
from ktrdr.training.labels.regime import RANGING, TRENDING_DOWN, TRENDING_UP, VOLATILE, rv_ratio
from ktrdr.training.labels.zigzag import zigzag_extremes


def atr_threshold(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int, mult: float) -> float:
    """mult × median(SMA(true range, period)) / median(close): a ZigZag threshold as a fraction of price."""
    true_range = high - low
    prev = close[:-1]
    true_range[1:] = np.maximum.reduce([true_range[1:], np.abs(high[1:] - prev), np.abs(low[1:] - prev)])
    atr = np.convolve(true_range, np.ones(period) / period, mode="valid")
    median_close = float(np.median(close))
    return mult * float(np.median(atr)) / median_close if median_close > 0 else 0.0


def _pivot_roles(prices: np.ndarray) -> tuple[list[float], list[float]]:
    """(highs, lows) among ZigZag pivot prices: ends by their one neighbour, others only if above/below both."""
    highs: list[float] = []
    lows: list[float] = []
    last = len(prices) - 1
    for i, price in enumerate(prices):
        neighbours = [prices[j] for j in (i - 1, i + 1) if 0 <= j <= last]
        if i in (0, last):
            (lows if price < neighbours[0] else highs).append(float(price))
        elif all(price > p for p in neighbours):
            highs.append(float(price))
        elif all(price < p for p in neighbours):
            lows.append(float(price))
    return highs, lows


def progresses(pivot_prices: np.ndarray, up: bool, tolerance: float) -> bool:
    """Do the micro pivots of a segment make higher lows (up) or lower highs (down) often enough?"""
    if len(pivot_prices) < 4:
        return False
    highs, lows = _pivot_roles(pivot_prices)
    values = np.asarray(lows if up else highs)
    if len(values) < 2:
        return False
    steps = np.diff(values)
    return float(np.mean(steps > 0 if up else steps < 0)) >= tolerance


def multi_scale_regime_labels(frame: pd.DataFrame, *, macro_atr_mult: float = 3.0, micro_atr_mult: float = 1.0,
                              atr_period: int = 14, vol_lookback: int = 120, vol_crisis_threshold: float = 2.0,
                              progression_tolerance: float = 0.5) -> LabelSet:
    """Four regime classes per bar from macro/micro ZigZag structure and forward volatility (module docstring)."""
    positive(atr_period, "atr_period")
    positive(vol_lookback, "vol_lookback")
    close, high, low = column(frame), column(frame, "high"), column(frame, "low")
    n = len(close)
    labels = np.full(n, UNLABELED, dtype=np.int64)
    if n < atr_period + 2:
        return LabelSet(labels, REGIME_CLASSES)
    macro_h = atr_threshold(high, low, close, atr_period, macro_atr_mult)
    micro_h = atr_threshold(high, low, close, atr_period, micro_atr_mult)
    if macro_h <= 0 or micro_h <= 0:
        return LabelSet(labels, REGIME_CLASSES)
    macro = zigzag_extremes(close, macro_h).index
    micro = zigzag_extremes(close, micro_h).index
    volatile = rv_ratio(close, atr_period, vol_lookback) > vol_crisis_threshold
    return LabelSet(classify_segments(close, macro, micro, volatile, progression_tolerance), REGIME_CLASSES)


def classify_segments(close: np.ndarray, macro: np.ndarray, micro: np.ndarray, volatile: np.ndarray,
                      tolerance: float) -> np.ndarray:
    """Regime class of every bar from macro and micro pivot positions and a per-bar volatility flag."""
    labels = np.full(len(close), UNLABELED, dtype=np.int64)
    for a, b in zip(macro[:-1], macro[1:]):
        up = bool(close[b] > close[a])
        inside = micro[np.searchsorted(micro, a):np.searchsorted(micro, b, side="right")]  # micro is sorted
        trend = (TRENDING_UP if up else TRENDING_DOWN) if progresses(close[inside], up, tolerance) else RANGING
        labels[a:b + 1] = np.where(volatile[a:b + 1], VOLATILE, trend)
    return labels
