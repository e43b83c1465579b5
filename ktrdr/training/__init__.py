"""Training domain: labels, chronological split, models, trainer, evaluation and model bundles (no NATS).

Names are imported lazily (PEP 562) so that torch-free submodules such as `keys` and `errors` can be used
without loading torch: the object-store layer and the CLI import them on every start.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "ModelBundle": "bundle", "bundle_key": "keys", "latest_key": "keys", "next_version": "keys",
    "parse_bundle_key": "keys", "gpu_info": "device", "pick_device": "device", "require_gpu": "device",
    "BundleError": "errors", "DeviceUnavailable": "errors", "TrainingError": "errors",
    "classification_metrics": "evaluate", "evaluate_predictions": "evaluate", "regression_metrics": "evaluate",
    "CLASSES": "labels", "LABEL_FUNCTIONS": "labels", "compute_labels": "labels", "forward_return_labels": "labels",
    "zigzag_labels": "labels", "strategy_labels": "targets",
    "build_model": "models", "parameter_count": "models", "TrainingOutcome": "outcome",
    "run_training": "pipeline", "SplitIndices": "split", "chronological_split": "split",
    "split_from_config": "split", "train_model": "trainer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the submodule that defines `name` on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ktrdr.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ktrdr.training.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
