"""A whole training operation on in-memory frames:
features → labels → split → normalize → train → evaluate → bundle."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
import torch

from ktrdr.context import CancelToken, Checkpointer, ProgressReporter
from ktrdr.strategy.config import StrategyConfig
from ktrdr.strategy.features import Context, context_source_ids, normalization_methods
from ktrdr.strategy.loader import dump_strategy
from ktrdr.strategy.normalize import Normalizer
from ktrdr.training.bundle import ModelBundle
from ktrdr.training.evaluate import evaluate_predictions
from ktrdr.training.labels import CLASSES, LabelSet
from ktrdr.training.models import parameter_count
from ktrdr.training.multi_symbol import Frames, Samples, by_symbol, combine
from ktrdr.training.targets import label_summary
from ktrdr.training.trainer import train_model

# (step name, percentage when the step starts); training owns most of the bar.
STEPS: tuple[tuple[str, float], ...] = (
    ("loading data", 0.0), ("features", 2.0), ("labels", 10.0), ("training", 12.0), ("evaluation", 95.0))


class _Steps:
    """Reports the pipeline's steps and maps the trainer's 0-100% into the training step's share."""

    def __init__(self, progress: ProgressReporter | None, cancel: CancelToken | None) -> None:
        self.progress, self.cancel, self.index = progress, cancel, -1

    def start(self, name: str) -> None:
        """Enter the next step (checking for cancellation first)."""
        if self.cancel is not None:
            self.cancel.check()
        self.index = [s for s, _ in STEPS].index(name)
        if self.progress is not None:
            self.progress.update(current_step=name, steps_completed=self.index, steps_total=len(STEPS),
                                 percentage=STEPS[self.index][1])

    def update(self, **fields: Any) -> None:
        """ProgressReporter.update with the percentage rescaled into the current step's span."""
        if self.progress is None:
            return
        lo = STEPS[self.index][1]
        hi = STEPS[self.index + 1][1] if self.index + 1 < len(STEPS) else 100.0
        if "percentage" in fields:
            fields["percentage"] = lo + (hi - lo) * fields["percentage"] / 100.0
        self.progress.update(**fields)

    def metric(self, values: dict[str, Any], *, name: str = "epoch") -> None:
        """Pass metric records through."""
        if self.progress is not None:
            self.progress.metric(values, name=name)

    def log(self, message: str, level: str = "info") -> None:
        """Pass log lines through."""
        if self.progress is not None:
            self.progress.log(message, level)


@dataclass
class _Prepared:
    """Normalized features of every row (all symbols), the labels, the split parts' row numbers, the normalizer."""

    x: np.ndarray
    samples: Samples
    normalizer: Normalizer
    names: list[str]

    @property
    def source(self) -> str:
        """The label source."""
        return self.samples.source

    @property
    def labels(self) -> LabelSet:
        """Labels row for row with x."""
        return self.samples.labels

    @property
    def y(self) -> np.ndarray:
        """Targets aligned with the rows of x."""
        return self.labels.values

    def part(self, name: str) -> np.ndarray:
        """Row numbers of one split ('train', 'validation', 'test')."""
        return self.samples.parts[name]


def _data_summary(cfg: StrategyConfig, frames: Mapping[str, Frames], prep: _Prepared) -> dict[str, Any]:
    td, samples = cfg.training_data, prep.samples
    bases = [f[td.base] for f in frames.values() if len(f[td.base])]
    summary: dict[str, Any] = {
        "symbols": td.symbol_list, "timeframes": td.timeframe_list, "base_timeframe": td.base,
        "rows": {tf: sum(len(f[tf]) for f in frames.values()) for tf in td.timeframe_list},
        "start": min(b.index[0] for b in bases).isoformat() if bases else None,
        "end": max(b.index[-1] for b in bases).isoformat() if bases else None,
        "samples": {k: len(v) for k, v in samples.parts.items()}, "embargo_bars": samples.embargo,
        "features": len(prep.names), "labels": label_summary(prep.source, prep.labels, prep.part("train")),
        "context": context_source_ids(cfg),
    }
    if len(samples.per_symbol) > 1:
        summary["per_symbol"] = {s: {"rows": {tf: len(frames[s][tf]) for tf in td.timeframe_list}, "samples": n}
                                 for s, n in samples.per_symbol.items()}
    if prep.labels.classes is not None:
        summary["train_label_counts"] = summary["labels"]["train_counts"]
    return summary


def _prepare(cfg: StrategyConfig, frames: Mapping[str, Frames], context: Context | None,
             steps: _Steps) -> _Prepared:
    """Features (normalized, all rows of all symbols), labels, split parts and the normalizer."""
    steps.start("loading data")
    steps.start("features")  # each symbol's features and labels are built together
    samples = combine(cfg, frames, context)
    steps.start("labels")
    # Fit normalization on training rows only so that no statistic of later data leaks into training.
    normalizer = Normalizer.fit(samples.features.iloc[samples.parts["train"]], normalization_methods(cfg))
    x = normalizer.transform(samples.features).to_numpy(dtype=np.float32)
    return _Prepared(x, samples, normalizer, list(samples.features.columns))


def run_training(strategy_cfg: StrategyConfig, frames: Frames | Mapping[str, Frames], *,
                 context: Context | None = None, device: torch.device | str = "cpu",
                 progress: ProgressReporter | None = None, cancel: CancelToken | None = None,
                 checkpointer: Checkpointer | None = None) -> tuple[ModelBundle, dict[str, Any]]:
    """Train a strategy's model on `frames` (timeframe → OHLCV for one symbol, or symbol → such a mapping)
    with `context` series (source id → frame) for data_source indicators; return (bundle, result summary)."""
    started, cfg, steps = time.monotonic(), strategy_cfg, _Steps(progress, cancel)
    frames = by_symbol(cfg, frames)
    prep = _prepare(cfg, frames, context, steps)
    steps.start("training")
    fmt, x, y, classes = cfg.decisions.output_format, prep.x, prep.y, prep.labels.classes or CLASSES
    tr, va = prep.part("train"), prep.part("validation")
    weights = None if prep.labels.weights is None else prep.labels.weights[tr]
    outcome = train_model(x[tr], y[tr], x[va], y[va], model_cfg=cfg.model, training_cfg=cfg.training,
                          output_format=fmt, device=device, progress=steps, cancel=cancel,
                          checkpointer=checkpointer, n_classes=len(classes), sample_weights=weights)
    steps.start("evaluation")
    bundle = ModelBundle(
        weights={k: v.detach().cpu() for k, v in outcome.model.state_dict().items()},
        model_config=msgspec.to_builtins(cfg.model), output_format=fmt, feature_names=prep.names,
        strategy_yaml=dump_strategy(cfg), strategy=cfg.name, timeframe=cfg.training_data.base,
        normalization=prep.normalizer.to_dict(), label_config=msgspec.to_builtins(cfg.training.labels),
        classes=list(classes))
    test_metrics = _test_metrics(bundle, x, y, prep.part("test"), fmt)
    bundle.metrics = {"test": test_metrics, "training": outcome.summary()}
    bundle.data_summary = _data_summary(cfg, frames, prep)
    steps.update(percentage=100.0, steps_completed=len(STEPS))
    summary = {
        "training": outcome.summary() | {"history": outcome.history}, "test": test_metrics,
        "model": {"type": cfg.model.type, "parameters": parameter_count(outcome.model),
                  "features": len(prep.names), "output_format": fmt},
        "labels": bundle.data_summary["labels"],
        "data": bundle.data_summary, "device": outcome.device, "duration_s": time.monotonic() - started,
    }
    return bundle, summary


def _test_metrics(bundle: ModelBundle, x: np.ndarray, y: np.ndarray, test_rows: np.ndarray,
                  fmt: str) -> dict[str, Any]:
    """Metrics over the test rows, predicted through the bundle exactly as inference will."""
    if len(test_rows) == 0:
        return {"samples": 0}
    # Predict a slice that starts early enough to give the first test row its full input window.
    first = max(int(test_rows[0]) - bundle.window + 1, 0)
    outputs = bundle.predict(x[first:int(test_rows[-1]) + 1])[test_rows - first]
    known = ~np.isnan(outputs.reshape(len(test_rows), -1)).any(axis=1)
    return evaluate_predictions(y[test_rows][known], outputs[known], fmt, bundle.classes)
