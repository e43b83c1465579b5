"""Training domain: labels, chronological split, models, trainer, evaluation and model bundles (no NATS)."""

from ktrdr.training.bundle import ModelBundle, bundle_key, latest_key, next_version, parse_bundle_key
from ktrdr.training.device import gpu_info, pick_device, require_gpu
from ktrdr.training.errors import BundleError, DeviceUnavailable, TrainingError
from ktrdr.training.evaluate import classification_metrics, evaluate_predictions, regression_metrics
from ktrdr.training.labels import CLASSES, forward_return_labels, make_labels, zigzag_labels
from ktrdr.training.models import build_model, parameter_count
from ktrdr.training.outcome import TrainingOutcome
from ktrdr.training.pipeline import run_training
from ktrdr.training.split import SplitIndices, chronological_split, split_from_config
from ktrdr.training.trainer import train_model

__all__ = [
    "CLASSES", "BundleError", "DeviceUnavailable", "ModelBundle", "SplitIndices", "TrainingError",
    "TrainingOutcome", "build_model", "bundle_key", "chronological_split", "classification_metrics",
    "evaluate_predictions", "forward_return_labels", "gpu_info", "latest_key", "make_labels", "next_version",
    "parameter_count", "parse_bundle_key", "pick_device", "regression_metrics", "require_gpu", "run_training",
    "split_from_config", "train_model", "zigzag_labels",
]
