"""Which bars to label and how much each label counts: the CUSUM event filter and uniqueness weights."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.training.errors import TrainingError
from ktrdr.training.labels.base import field


def cusum_threshold(close: np.ndarray, threshold: float | None, multiplier: float, vol_span: int) -> float:
    """The CUSUM threshold h: `threshold` when given (> 0), else `multiplier` × the mean EWMA volatility of log
    returns over the whole series (the reference definition: one scale for the series, not a causal one)."""
    if threshold is not None and threshold > 0:
        return float(threshold)
    if not multiplier > 0:
        raise TrainingError(f"cusum_multiplier must be > 0, got {multiplier!r}", field=field("cusum_multiplier"))
    log_returns = np.diff(np.log(close))
    return float(multiplier * pd.Series(log_returns).ewm(span=vol_span).std().mean())


def cusum_events(close: np.ndarray, h: float) -> np.ndarray:
    """Event bars of the symmetric CUSUM filter on log returns with threshold `h`.

    Two sums run over the bar-to-bar log returns r: s+ = max(0, s+ + r - h) and s- = min(0, s- + r + h);
    the bar whose return takes s+ above h (or else s- below -h) is an event, and only that sum restarts at 0.
    """
    events = np.zeros(len(close), dtype=bool)
    s_pos = s_neg = 0.0
    for i, r in enumerate(np.diff(np.log(close)), start=1):
        s_pos = max(0.0, s_pos + r - h)
        s_neg = min(0.0, s_neg + r + h)
        if s_pos > h:
            events[i], s_pos = True, 0.0
        elif s_neg < -h:
            events[i], s_neg = True, 0.0
    return events


def uniqueness_weights(starts: np.ndarray, holding: np.ndarray, *, normalize: bool = True) -> np.ndarray:
    """Average uniqueness of each label: the mean of 1/concurrency over its active bars [start, start+holding).

    Concurrency at a bar is the number of labels active there. With `normalize` the weights have mean 1.
    A label with no active bar (holding 0) gets weight 1, as in the reference definition.
    """
    starts, holding = np.asarray(starts, dtype=np.int64), np.asarray(holding, dtype=np.int64)
    if len(starts) == 0:
        return np.zeros(0)
    ends = starts + holding
    # Concurrency by a difference array: +1 where a label starts being active, -1 after its last bar.
    delta = np.zeros(int(ends.max()) + 1)
    np.add.at(delta, starts, 1.0)
    np.add.at(delta, ends, -1.0)
    concurrency = np.cumsum(delta)[:-1]
    inverse = np.divide(1.0, concurrency, out=np.zeros_like(concurrency), where=concurrency > 0)
    cumulative = np.concatenate([[0.0], np.cumsum(inverse)])
    spans = np.maximum(holding, 1)
    weights = np.where(holding > 0, (cumulative[ends] - cumulative[starts]) / spans, 1.0)
    if normalize and weights.mean() > 0:
        weights = weights / weights.mean()
    return weights
