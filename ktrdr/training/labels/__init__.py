"""Training targets: pure functions from an OHLCV frame to labels (no NATS, no torch), and the table of
label sources that training dispatches on (`training.labels.source`)."""

from __future__ import annotations

from ktrdr.training.labels.barrier import Barriers, barrier_outcomes, triple_barrier_labels, volatility
from ktrdr.training.labels.base import (BUY, CLASSES, CONTEXT_CLASSES, HOLD, REGIME_CLASSES, SELL, UNLABELED,
                                        LabelSet, labeled_mask)
from ktrdr.training.labels.events import cusum_events, cusum_threshold, uniqueness_weights
from ktrdr.training.labels.multiscale import multi_scale_regime_labels
from ktrdr.training.labels.regime import regime_labels, rv_ratio, signed_efficiency
from ktrdr.training.labels.returns import context_labels, forward_return_classes, forward_return_labels, forward_returns
from ktrdr.training.labels.table import LABEL_FUNCTIONS, LabelSource, compute_labels, label_source
from ktrdr.training.labels.zigzag import zigzag_extremes, zigzag_labels

__all__ = [
    "BUY", "CLASSES", "CONTEXT_CLASSES", "HOLD", "LABEL_FUNCTIONS", "REGIME_CLASSES", "SELL", "UNLABELED",
    "Barriers", "LabelSet", "LabelSource", "barrier_outcomes", "compute_labels", "context_labels", "cusum_events",
    "cusum_threshold", "forward_return_classes", "forward_return_labels", "forward_returns", "label_source",
    "labeled_mask", "multi_scale_regime_labels", "regime_labels", "rv_ratio", "signed_efficiency",
    "triple_barrier_labels", "uniqueness_weights", "volatility", "zigzag_extremes", "zigzag_labels",
]
