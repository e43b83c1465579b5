"""Test-set metrics: per-class and macro precision/recall/F1 with a confusion matrix, or MAE/RMSE/direction."""

from __future__ import annotations

from typing import Any

import numpy as np

from ktrdr.training.labels import CLASSES


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(CLASSES)) -> np.ndarray:
    """Counts[i, j] of samples of true class i predicted as class j."""
    flat = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray,
                           classes: tuple[str, ...] | list[str] = CLASSES) -> dict[str, Any]:
    """Accuracy, per-class and macro precision/recall/F1, confusion matrix and the majority-class baseline."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    cm = confusion_matrix(y_true, y_pred, len(classes))
    tp = np.diag(cm).astype(np.float64)
    precision = _ratio(tp, cm.sum(axis=0).astype(np.float64))
    recall = _ratio(tp, cm.sum(axis=1).astype(np.float64))
    f1 = _ratio(2 * precision * recall, precision + recall)
    n = max(len(y_true), 1)
    support = cm.sum(axis=1)
    return {
        "samples": int(len(y_true)),
        "accuracy": float(tp.sum() / n),
        "baseline_accuracy": float(support.max() / n) if len(y_true) else 0.0,
        "baseline_class": classes[int(support.argmax())],
        "per_class": {c: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                          "support": int(support[i])} for i, c in enumerate(classes)},
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())},
        "confusion_matrix": cm.tolist(),
    }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """MAE, RMSE, directional accuracy (sign agreement) and the always-up baseline for direction."""
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64).reshape(-1)
    err = y_pred - y_true
    n = max(len(y_true), 1)
    up = float((y_true > 0).sum() / n)
    return {
        "samples": int(len(y_true)),
        "mae": float(np.abs(err).mean()) if len(err) else 0.0,
        "rmse": float(np.sqrt((err ** 2).mean())) if len(err) else 0.0,
        "directional_accuracy": float((np.sign(y_pred) == np.sign(y_true)).sum() / n),
        "baseline_directional_accuracy": max(up, 1.0 - up) if len(y_true) else 0.0,
    }


def evaluate_predictions(y_true: np.ndarray, outputs: np.ndarray, output_format: str,
                         classes: tuple[str, ...] | list[str] = CLASSES) -> dict[str, Any]:
    """Metrics from model outputs: class probabilities/logits (n, classes) or values (n,) / (n, 1)."""
    if output_format == "classification":
        return classification_metrics(y_true, np.asarray(outputs).argmax(axis=1), classes)
    return regression_metrics(y_true, outputs)
