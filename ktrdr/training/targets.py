"""The labels a strategy trains on: its label source applied to the base timeframe's bars."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.strategy.config import StrategyConfig
from ktrdr.training.errors import TrainingError
from ktrdr.training.labels import CLASSES, LABEL_SOURCES, LabelSet, compute_labels, make_labels


def label_request(cfg: StrategyConfig) -> tuple[str, dict[str, object]]:
    """(source name, parameters) of the strategy's `training.labels`, in the label table's terms."""
    labels = cfg.training.labels
    if labels.method == "zigzag":
        return "zigzag", {"zigzag_threshold": labels.threshold}
    return "forward_return", {"horizon": labels.horizon}


def strategy_labels(cfg: StrategyConfig, frame: pd.DataFrame) -> tuple[str, LabelSet]:
    """The strategy's label source name and its labels for every row of the base `frame`."""
    source, params = label_request(cfg)
    fmt = cfg.decisions.output_format
    if source == "forward_return" and fmt == "classification":
        # A forward return bucketed by ±threshold: this project's classification form of forward_return.
        return source, LabelSet(make_labels(frame["close"].to_numpy(), cfg.training.labels, fmt), CLASSES)
    if LABEL_SOURCES[source].output != fmt:
        raise TrainingError(f"label source {source!r} gives {LABEL_SOURCES[source].output} targets but "
                            f"decisions.output_format is {fmt!r}", field="training.labels.source",
                            hint="use forward_return for regression, a class source for classification")
    return source, compute_labels(frame, source, params)


def label_summary(source: str, labels: LabelSet, train_rows: np.ndarray) -> dict[str, object]:
    """What the training result says about its targets: source, classes, weighting and training counts."""
    summary: dict[str, object] = {"source": source, "sample_weighting": labels.weighting,
                                  "labeled_rows": int(labels.mask.sum())}
    if labels.classes is not None:
        counts = np.bincount(labels.values[train_rows], minlength=len(labels.classes))
        summary |= {"classes": list(labels.classes), "train_counts": dict(zip(labels.classes, counts.tolist()))}
    if labels.weights is not None and len(train_rows):
        w = labels.weights[train_rows]
        summary["train_weights"] = {"mean": float(w.mean()), "min": float(w.min()), "max": float(w.max())}
    return summary
