"""Loss, optimizer and scheduler factories driven by the strategy's `training` section."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ktrdr.strategy.config import SchedulerConfig, TrainingConfig
from ktrdr.training.errors import TrainingError

N_CLASSES = 3


def class_weights(y: torch.Tensor, mode: str, n_classes: int = N_CLASSES) -> torch.Tensor | None:
    """Inverse-frequency weights n / (k * count_c) (absent classes get 1.0), or None for mode 'none'."""
    if mode == "none":
        return None
    if mode != "inverse_frequency":
        raise TrainingError(f"unknown class_weights {mode!r}", field="training.class_weights",
                            hint="use inverse_frequency or none")
    counts = torch.bincount(y, minlength=n_classes).double()
    weights = torch.where(counts > 0, counts.sum() / (n_classes * counts.clamp(min=1)), torch.ones_like(counts))
    return weights.float()


class FocalLoss(nn.Module):
    """Focal loss (Lin et al.): cross-entropy scaled by (1 - p_true)^gamma, optionally class-weighted."""

    def __init__(self, weight: torch.Tensor | None = None, gamma: float = 2.0) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Weighted mean focal loss of a batch."""
        ce = F.cross_entropy(logits, target, reduction="none")
        focal = (1.0 - torch.exp(-ce)).pow(self.gamma) * ce
        if self.weight is None:
            return focal.mean()
        w = self.weight[target]
        return (w * focal).sum() / w.sum()


class _Regression(nn.Module):
    """Wraps a regression loss so the (batch, 1) output meets a (batch,) target."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss of the squeezed prediction."""
        return self.inner(pred.squeeze(-1), target)


def resolve_loss_name(loss: str, output_format: str) -> str:
    """'auto' → cross_entropy (classification) / huber (regression); reject mismatched pairs."""
    name = loss if loss != "auto" else ("cross_entropy" if output_format == "classification" else "huber")
    valid = {"classification": ("cross_entropy", "focal"), "regression": ("huber", "mse")}[output_format]
    if name not in valid:
        raise TrainingError(f"loss {name!r} does not fit output_format {output_format!r}", field="training.loss",
                            hint=f"use one of {valid} or auto")
    return name


def make_loss(name: str, weight: torch.Tensor | None, cfg: TrainingConfig | None = None) -> nn.Module:
    """The loss module for a resolved loss name (focal_gamma and huber_delta from `cfg`)."""
    cfg = cfg or TrainingConfig()
    if name == "cross_entropy":
        return nn.CrossEntropyLoss(weight=weight)
    if name == "focal":
        return FocalLoss(weight, gamma=cfg.focal_gamma)
    return _Regression(nn.HuberLoss(delta=cfg.huber_delta) if name == "huber" else nn.MSELoss())


def make_optimizer(cfg: TrainingConfig, params: Any, output_format: str) -> torch.optim.Optimizer:
    """adam | rmsprop | sgd (with `momentum`), each with the configured weight decay."""
    name, lr, decay = cfg.optimizer, cfg.learning_rate, cfg.decay_for(output_format)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=decay)
    raise TrainingError(f"unknown optimizer {name!r}", field="training.optimizer", hint="use adam, rmsprop or sgd")


def make_scheduler(cfg: SchedulerConfig | None, optimizer: torch.optim.Optimizer) -> Any:
    """The LR scheduler `training.lr_scheduler` describes, or None when there is none."""
    if cfg is None:
        return None
    kind = cfg.type
    if kind == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.decay)
    if kind == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.decay)
    if kind == "reduce_on_plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=cfg.patience,
                                                          factor=cfg.factor)
    raise TrainingError(f"unknown scheduler {kind!r}", field="training.lr_scheduler.type",
                        hint="use step, exponential or reduce_on_plateau")


def step_scheduler(scheduler: Any, monitored_loss: float) -> None:
    """Advance a scheduler once per epoch (plateau watches the monitored validation loss)."""
    if scheduler is None:
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(monitored_loss)
    else:
        scheduler.step()
