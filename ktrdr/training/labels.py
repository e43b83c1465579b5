"""Training targets from close prices: zigzag BUY/HOLD/SELL classes and forward returns (future bars allowed)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ktrdr.strategy.labels_config import ForwardReturnLabels, LabelConfig, ZigzagLabels
from ktrdr.training.errors import TrainingError

CLASSES: tuple[str, str, str] = ("BUY", "HOLD", "SELL")
"""Class order shared by training, bundles and backtesting: index 0 = BUY, 1 = HOLD, 2 = SELL."""

BUY, HOLD, SELL = 0, 1, 2
UNLABELED = -1
"""Label of bars whose future is too short to decide; drop them before training."""


def _as_close(close: np.ndarray | object) -> np.ndarray:
    arr = np.asarray(close, dtype=np.float64)
    if arr.ndim != 1:
        raise TrainingError(f"close must be one-dimensional, got shape {arr.shape}", field="close")
    return arr


def _check_positive(value: float, name: str) -> None:
    if not value > 0:
        raise TrainingError(f"{name} must be > 0, got {value!r}", field=f"training.labels.{name}")


def zigzag_labels(close: np.ndarray, threshold: float, lookahead: int) -> np.ndarray:
    """BUY if the price rises by `threshold` within `lookahead` bars before it falls by it, SELL if the reverse,
    else HOLD; the last `lookahead` bars get UNLABELED (-1)."""
    _check_positive(threshold, "threshold")
    _check_positive(lookahead, "lookahead")
    c = _as_close(close)
    n = len(c)
    labels = np.full(n, UNLABELED, dtype=np.int64)
    if n <= lookahead:
        return labels
    # Row t holds close[t+1 .. t+lookahead]: the future path the label at t is allowed to see.
    future = sliding_window_view(c[1:], lookahead)[: n - lookahead]
    returns = future / c[: n - lookahead, None] - 1.0
    up, down = returns >= threshold, returns <= -threshold
    never = lookahead  # sentinel "no hit" position, later than any real hit
    first_up = np.where(up.any(axis=1), up.argmax(axis=1), never)
    first_down = np.where(down.any(axis=1), down.argmax(axis=1), never)
    decided = labels[: n - lookahead]
    decided[:] = HOLD
    decided[first_up < first_down] = BUY
    decided[first_down < first_up] = SELL
    return labels


def forward_return_labels(close: np.ndarray, horizon: int) -> np.ndarray:
    """Return close[t+horizon] / close[t] - 1 as a float target; the last `horizon` bars are NaN."""
    _check_positive(horizon, "horizon")
    c = _as_close(close)
    out = np.full(len(c), np.nan, dtype=np.float64)
    if len(c) > horizon:
        out[:-horizon] = c[horizon:] / c[:-horizon] - 1.0
    return out


def forward_return_classes(close: np.ndarray, horizon: int, threshold: float) -> np.ndarray:
    """Forward return bucketed into BUY (> threshold), SELL (< -threshold) or HOLD; the last `horizon` bars -1."""
    returns = forward_return_labels(close, horizon)
    labels = np.full(len(returns), UNLABELED, dtype=np.int64)
    known = ~np.isnan(returns)
    labels[known] = np.where(returns[known] > threshold, BUY, np.where(returns[known] < -threshold, SELL, HOLD))
    return labels


def make_labels(close: np.ndarray, label_cfg: LabelConfig, output_format: str) -> np.ndarray:
    """Targets for a label config: int classes (UNLABELED = -1) for classification, floats (NaN) for regression."""
    if isinstance(label_cfg, ZigzagLabels):
        if output_format != "classification":
            raise TrainingError("zigzag labels are classes; they cannot train a regression model",
                                field="training.labels.source", hint="use forward_return for regression")
        return zigzag_labels(close, label_cfg.zigzag_threshold, label_cfg.label_lookahead)
    if isinstance(label_cfg, ForwardReturnLabels):
        if output_format == "classification":
            return forward_return_classes(close, label_cfg.horizon, label_cfg.threshold)
        return forward_return_labels(close, label_cfg.horizon)
    raise TrainingError(f"training with '{label_cfg.source}' labels is not yet supported",
                        field="training.labels.source",
                        hint="the strategy is valid; train it with source zigzag or forward_return for now")


def labeled_mask(labels: np.ndarray) -> np.ndarray:
    """True where a label exists (not UNLABELED / not NaN)."""
    if np.issubdtype(labels.dtype, np.floating):
        return ~np.isnan(labels)
    return labels != UNLABELED
