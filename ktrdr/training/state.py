"""The mutable state of a training run and its checkpoint form (bytes via torch.save, weights_only-safe)."""

from __future__ import annotations

import copy
import io
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ktrdr.training.errors import TrainingError

CHECKPOINT_FORMAT = 1


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a model's state_dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


@dataclass
class RunState:
    """Everything that changes while training; an epoch-boundary snapshot of it is a checkpoint."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    shuffle: torch.Generator
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_loss: float = math.inf
    best_epoch: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    since_improvement: int = 0
    finished: bool = False
    elapsed_s: float = 0.0

    def snapshot(self) -> dict[str, Any]:
        """Deep copy of the state now (taken at an epoch boundary), ready to serialize later."""
        return {
            "format": CHECKPOINT_FORMAT, "epoch": self.epoch, "finished": self.finished,
            "elapsed_s": self.elapsed_s, "model": cpu_state(self.model),
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "scheduler": copy.deepcopy(self.scheduler.state_dict()) if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict(), "history": copy.deepcopy(self.history),
            "best": {"loss": self.best_loss, "epoch": self.best_epoch, "since": self.since_improvement,
                     "state": self.best_state},
            "rng": {"torch": torch.get_rng_state(), "shuffle": self.shuffle.get_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """Put a decoded snapshot back into the live objects (model, optimizer, RNGs, bookkeeping)."""
        if snap.get("format") != CHECKPOINT_FORMAT:
            raise TrainingError(f"checkpoint format {snap.get('format')!r} is not {CHECKPOINT_FORMAT}",
                                field="checkpoint", hint="delete the stale checkpoint and train from scratch")
        self.model.load_state_dict(snap["model"])
        self.optimizer.load_state_dict(snap["optimizer"])
        if self.scheduler is not None and snap["scheduler"] is not None:
            self.scheduler.load_state_dict(snap["scheduler"])
        if snap["scaler"]:
            self.scaler.load_state_dict(snap["scaler"])
        self.epoch, self.finished, self.elapsed_s = snap["epoch"], snap["finished"], snap["elapsed_s"]
        self.history = list(snap["history"])
        best = snap["best"]
        self.best_loss, self.best_epoch = best["loss"], best["epoch"]
        self.since_improvement, self.best_state = best["since"], best["state"]
        torch.set_rng_state(snap["rng"]["torch"])
        self.shuffle.set_state(snap["rng"]["shuffle"])
        if snap["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(snap["rng"]["cuda"])


def encode_checkpoint(snap: dict[str, Any]) -> bytes:
    """Serialize a snapshot to one blob."""
    buf = io.BytesIO()
    torch.save(snap, buf)
    return buf.getvalue()


def decode_checkpoint(blob: bytes) -> dict[str, Any]:
    """Inverse of encode_checkpoint; tensors land on the CPU (load_state_dict moves them)."""
    try:
        return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a corrupt blob
        raise TrainingError(f"checkpoint could not be decoded: {exc}", field="checkpoint",
                            hint="delete the checkpoint and train from scratch") from exc
