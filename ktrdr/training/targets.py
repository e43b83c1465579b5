"""The labels a strategy trains on: its `training.labels` source applied to the base timeframe's bars."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import pandas as pd

from ktrdr.strategy.config import StrategyConfig
from ktrdr.strategy.labels_config import LabelConfig
from ktrdr.training.errors import TrainingError
from ktrdr.training.labels import LabelSet, compute_labels, forward_return_classes, label_source

CONFIG_ONLY: dict[str, frozenset[str]] = {
    "zigzag": frozenset({"label_lookahead"}),  # bounds the embargo; segment labels have no fixed horizon
    "forward_return": frozenset({"threshold"}),  # only for this project's classification form
}
"""Fields of a source's config struct that are not parameters of its label function, and why."""


def label_params(labels: LabelConfig) -> dict[str, Any]:
    """The label function's parameters from a config struct: only fields that differ from the struct's
    defaults, so that the function's defaults (the same values) apply and two spellings of one setting clash."""
    defaults = type(labels)()
    skip = CONFIG_ONLY.get(labels.source, frozenset()) | {"source"}
    return {name: value for name, value in msgspec.structs.asdict(labels).items()
            if name not in skip and value != getattr(defaults, name)}


def strategy_labels(cfg: StrategyConfig, frame: pd.DataFrame) -> tuple[str, LabelSet]:
    """The strategy's label source name and its labels for every row of the base `frame`."""
    labels, fmt = cfg.training.labels, cfg.decisions.output_format
    source = labels.source
    if source == "forward_return" and fmt == "classification":
        return source, forward_return_classes(frame, horizon=labels.horizon, threshold=labels.threshold)
    if label_source(source).output != fmt:
        raise TrainingError(f"label source {source!r} gives {label_source(source).output} targets but "
                            f"decisions.output_format is {fmt!r}", field="training.labels.source",
                            hint="use forward_return for regression, a class source for classification")
    return source, compute_labels(frame, source, label_params(labels))


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
