"""Targets from the return over a fixed horizon: the forward return itself, or its context class."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.training.errors import TrainingError
from ktrdr.training.labels.base import (BUY, CLASSES, CONTEXT_CLASSES, HOLD, SELL, LabelSet, classes_from, column,
                                        field, nonzero, positive)

BULLISH, BEARISH, NEUTRAL = 0, 1, 2


def forward_returns(close: np.ndarray, horizon: int) -> np.ndarray:
    """(close[t+horizon] - close[t]) / close[t]; NaN for the last `horizon` bars (no future there)."""
    positive(horizon, "horizon")
    out = np.full(len(close), np.nan, dtype=np.float64)
    if len(close) > horizon:
        out[:-horizon] = (close[horizon:] - close[:-horizon]) / close[:-horizon]
    return out


def forward_return_labels(frame: pd.DataFrame | np.ndarray, *, horizon: int = 20) -> LabelSet:
    """Regression target: the simple return over the next `horizon` bars (looks exactly `horizon` bars ahead)."""
    close = column(frame)
    nonzero(close)
    if len(close) < horizon + 1:
        raise TrainingError(f"forward-return labels need more than horizon={horizon} bars, got {len(close)}",
                            field=field("horizon"), hint="load a longer date range or lower the horizon")
    return LabelSet(forward_returns(close, horizon), None)


def forward_return_classes(frame: pd.DataFrame | np.ndarray, *, horizon: int = 20,
                           threshold: float = 0.0) -> LabelSet:
    """BUY above +`threshold`, SELL below -`threshold`, else HOLD, on the `horizon`-bar forward return:
    this project's classification form of a forward-return target (the original's is regression only)."""
    ret = forward_return_labels(frame, horizon=horizon).values
    codes = np.where(ret > threshold, BUY, np.where(ret < -threshold, SELL, HOLD))
    return LabelSet(classes_from(codes, ~np.isnan(ret)), CLASSES)


def context_labels(frame: pd.DataFrame | np.ndarray, *, horizon: int = 5, bullish_threshold: float = 0.005,
                   bearish_threshold: float = -0.005) -> LabelSet:
    """BULLISH when the `horizon`-bar forward return is above `bullish_threshold`, BEARISH when below
    `bearish_threshold` (this test wins if both hold), else NEUTRAL; the last `horizon` bars have no label."""
    close = column(frame)
    nonzero(close)
    if len(close) == 0:
        raise TrainingError("context labels need data, the frame is empty", field="frame")
    ret = forward_returns(close, horizon)
    codes = np.full(len(close), NEUTRAL, dtype=np.int64)
    codes[ret > bullish_threshold] = BULLISH
    codes[ret < bearish_threshold] = BEARISH
    return LabelSet(classes_from(codes, ~np.isnan(ret)), CONTEXT_CLASSES)
