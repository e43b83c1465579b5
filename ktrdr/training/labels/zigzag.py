"""ZigZag segment labels: every bar of a rise between two ZigZag extremes is BUY, of a fall SELL, extremes HOLD.

The extremes follow the ZigZag indicator: bar 0 is the first; the first bar whose close is `threshold` away
from bar 0 opens the first leg; while a leg runs, a new high (low) moves its running extreme there; a close
`threshold` back from the running extreme fixes it and opens the next leg *at that reversal bar*. The label
of a bar is final once the extreme that ends its segment is fixed; bars of the last, still-running leg and
those after it are provisional (HOLD after the last extreme), exactly as in the reference definition.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from ktrdr.training.errors import TrainingError
from ktrdr.training.labels.base import BUY, CLASSES, HOLD, SELL, LabelSet, column, field, nonzero


class Extremes(NamedTuple):
    """ZigZag extremes in bar order and, for each, the bar at which it became fixed (n-1 for the running one)."""

    index: np.ndarray
    fixed_at: np.ndarray


def zigzag_extremes(close: np.ndarray, threshold: float) -> Extremes:
    """The ZigZag extremes of `close` (all > 0) for a fractional reversal `threshold` > 0 (0.02 = 2%)."""
    n = len(close)
    index, fixed_at = [0], [0]
    direction = 0  # 0 until the first move of `threshold` away from bar 0 sets the first leg
    for i in range(1, n):
        last = close[index[-1]]
        change = (close[i] - last) / last  # written as the reference does, so exact-threshold ties agree
        if direction == 0:
            if abs(change) >= threshold:
                direction = 1 if change > 0 else -1
                index.append(i)
                fixed_at.append(n - 1)
        elif direction * change > 0:
            index[-1] = i  # the running extreme moves to the new high (low)
        elif direction * change <= -threshold:
            fixed_at[-1] = i  # the reversal bar fixes the running extreme and starts the next leg
            direction = -direction
            index.append(i)
            fixed_at.append(n - 1)
    return Extremes(np.asarray(index, dtype=np.int64), np.asarray(fixed_at, dtype=np.int64))


def segment_classes(close: np.ndarray, extremes: Extremes) -> np.ndarray:
    """BUY/SELL for the bars strictly inside each up/down segment, HOLD at extremes and after the last one."""
    labels = np.full(len(close), HOLD, dtype=np.int64)
    idx = extremes.index
    for a, b in zip(idx[:-1], idx[1:]):
        labels[a + 1:b] = BUY if close[b] > close[a] else SELL
    return labels


def label_horizons(n: int, extremes: Extremes) -> np.ndarray:
    """For each bar, the last bar its segment label depends on (n-1 where the label is still provisional)."""
    horizon = np.full(n, n - 1, dtype=np.int64)
    horizon[0] = 0
    idx, fixed = extremes.index, extremes.fixed_at
    for a, b, when in zip(idx[:-1], idx[1:], fixed[1:]):
        horizon[a + 1:b + 1] = when
    return horizon


def zigzag_labels(frame: pd.DataFrame | np.ndarray, *, zigzag_threshold: float = 0.02) -> LabelSet:
    """Segment labels (BUY, HOLD, SELL) from ZigZag extremes of the close with reversal `zigzag_threshold`."""
    if not 0 < zigzag_threshold < 1:
        raise TrainingError(f"zigzag_threshold must be in (0, 1), got {zigzag_threshold!r}",
                            field=field("zigzag_threshold"), hint="a fraction: 0.02 means a 2% reversal")
    close = column(frame)
    nonzero(close)
    if len(close) < 3:
        raise TrainingError(f"zigzag labels need at least 3 bars, got {len(close)}", field="frame",
                            hint="load a longer date range")
    return LabelSet(segment_classes(close, zigzag_extremes(close, zigzag_threshold)), CLASSES)
