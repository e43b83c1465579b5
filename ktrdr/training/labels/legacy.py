"""Labels for the current `LabelConfig` (method/threshold/lookahead/horizon), expressed through the sources."""

from __future__ import annotations

import numpy as np

from ktrdr.strategy.config import LabelConfig
from ktrdr.training.errors import TrainingError
from ktrdr.training.labels.base import BUY, HOLD, SELL, classes_from, column
from ktrdr.training.labels.returns import forward_returns
from ktrdr.training.labels.zigzag import zigzag_labels


def make_labels(close: np.ndarray, label_cfg: LabelConfig, output_format: str) -> np.ndarray:
    """Targets for a label config: int classes (UNLABELED = -1) for classification, floats (NaN) for regression."""
    prices = column(close)
    if label_cfg.method == "zigzag":
        if output_format != "classification":
            raise TrainingError("zigzag labels are classes; they cannot train a regression model",
                                field="training.labels.method", hint="use forward_return for regression")
        return zigzag_labels(prices, zigzag_threshold=label_cfg.threshold).values
    returns = forward_returns(prices, label_cfg.horizon)
    if output_format != "classification":
        return returns
    known = ~np.isnan(returns)
    t = label_cfg.threshold
    codes = np.where(returns > t, BUY, np.where(returns < -t, SELL, HOLD))
    return classes_from(codes, known)
