"""What a training run returns, and the flags derived from its epoch history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

TREND_WINDOW = 5
"""Epochs looked at for the overfitting and plateau flags."""
PLATEAU_SPREAD = 0.005
"""Relative spread of validation loss (max-min over mean) under which the last epochs count as a plateau."""


def _slope(values: list[float]) -> float:
    return float(np.polyfit(np.arange(len(values)), np.asarray(values, dtype=np.float64), 1)[0])


def is_overfitting(history: list[dict[str, Any]], k: int = TREND_WINDOW) -> bool:
    """True when, over the last k epochs, validation loss trends up while training loss trends down."""
    if len(history) < k:
        return False
    tail = history[-k:]
    return _slope([h["val_loss"] for h in tail]) > 0 > _slope([h["train_loss"] for h in tail])


def is_plateau(history: list[dict[str, Any]], k: int = TREND_WINDOW) -> bool:
    """True when validation loss moved by less than PLATEAU_SPREAD (relative) over the last k epochs."""
    if len(history) < k:
        return False
    tail = np.asarray([h["val_loss"] for h in history[-k:]], dtype=np.float64)
    scale = max(abs(float(tail.mean())), 1e-12)
    return float(tail.max() - tail.min()) / scale < PLATEAU_SPREAD


@dataclass
class TrainingOutcome:
    """A trained model (best weights restored when early stopping is on) and how the run went."""

    model: nn.Module
    history: list[dict[str, Any]]
    best_epoch: int
    best_val_loss: float
    epochs_run: int
    epochs_since_improvement: int
    stopped_early: bool
    device: str
    amp: bool
    duration_s: float
    samples_trained: int
    resumed_from_epoch: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def overfitting(self) -> bool:
        """Validation loss rising while training loss falls over the last epochs."""
        return is_overfitting(self.history)

    @property
    def plateau(self) -> bool:
        """Validation loss flat over the last epochs."""
        return is_plateau(self.history)

    def summary(self) -> dict[str, Any]:
        """Plain-data summary for result payloads (no tensors, no history)."""
        last = self.history[-1] if self.history else {}
        return {
            "epochs_run": self.epochs_run, "best_epoch": self.best_epoch, "best_val_loss": self.best_val_loss,
            "epochs_since_improvement": self.epochs_since_improvement, "stopped_early": self.stopped_early,
            "overfitting": self.overfitting, "plateau": self.plateau, "final": dict(last),
            "device": self.device, "amp": self.amp, "duration_s": self.duration_s,
            "samples_per_s": self.samples_trained / self.duration_s if self.duration_s > 0 else 0.0,
            "resumed_from_epoch": self.resumed_from_epoch,
        }
