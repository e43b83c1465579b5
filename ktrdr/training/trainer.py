"""The training loop: device-resident tensors, index-sliced batches, AMP on CUDA, throttled progress,
per-batch cancellation, epoch-boundary checkpoints that make a resumed run end exactly like an uninterrupted one."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ktrdr.context import CancelToken, Checkpointer
from ktrdr.errors import OperationCancelled
from ktrdr.strategy.config import CheckpointConfig, ModelConfig, TrainingConfig
from ktrdr.training.errors import TrainingError
from ktrdr.training.models import build_model, sliding_windows, window_length
from ktrdr.training.optim import (class_weights, make_loss, make_optimizer, make_scheduler, resolve_loss_name,
                                  step_scheduler)
from ktrdr.training.outcome import TrainingOutcome
from ktrdr.training.state import RunState, cpu_state, decode_checkpoint, encode_checkpoint

class ProgressSink(Protocol):
    """What the trainer reports to: a ProgressReporter or anything with the same two methods."""

    def update(self, **fields: Any) -> None:
        """Merge progress fields."""

    def metric(self, values: dict[str, Any], *, name: str = "epoch") -> None:
        """Record one metric record."""


PROGRESS_INTERVAL_S = 0.1
"""Minimum time between two batch-level progress updates (keeps reporting far below 2% of training time)."""
EVAL_BATCH_FACTOR = 4
"""Validation batches are this many times larger than training batches (no gradients to keep)."""


@dataclass
class Samples:
    """One split's samples on the device: rows of features plus targets; sequence models read windows."""

    x: torch.Tensor
    y: torch.Tensor
    window: int
    weights: torch.Tensor | None = None
    """Per-row sampling weights (None: every sample once per epoch)."""

    def __post_init__(self) -> None:
        self.windows = sliding_windows(self.x, self.window) if self.window > 1 else self.x
        self.y_aligned = self.y[self.window - 1:]  # a window ending at row t is labelled with y[t]
        self.weights_aligned = None if self.weights is None else self.weights[self.window - 1:]

    @property
    def n(self) -> int:
        """Number of samples (rows with a full window)."""
        return int(self.y_aligned.shape[0])

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of the samples at `idx` (one gather, no Python loop)."""
        return self.windows[idx], self.y_aligned[idx]


def to_samples(x: np.ndarray, y: np.ndarray, window: int, device: torch.device, output_format: str,
               weights: np.ndarray | None = None) -> Samples:
    """Validate one split and move it to the device once."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) != len(y):
        raise TrainingError(f"features must be (rows, features) with one target per row, got {x.shape} and "
                            f"{np.shape(y)}", field="X")
    if not np.isfinite(x).all():
        raise TrainingError("features contain NaN or inf", field="X", hint="drop warm-up rows before training")
    y_dtype = torch.long if output_format == "classification" else torch.float32
    w = None if weights is None else torch.as_tensor(_checked_weights(weights, len(y)), dtype=torch.float64)
    return Samples(torch.as_tensor(x).to(device), torch.as_tensor(np.asarray(y)).to(device, y_dtype), window, w)


def _checked_weights(weights: np.ndarray, rows: int) -> np.ndarray:
    """Sample weights must be one finite, non-negative number per row with a positive sum."""
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (rows,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise TrainingError(f"sample weights must be {rows} finite values >= 0 with a positive sum, got shape "
                            f"{w.shape}", field="sample_weights", hint="drop unlabeled rows before training")
    return w


class _Throttle:
    """Batch-level progress updates at most every PROGRESS_INTERVAL_S."""

    def __init__(self, progress: ProgressSink | None, total_batches: int) -> None:
        self.progress, self.total, self.last = progress, total_batches, 0.0

    def tick(self, done: int, epoch: int, epochs: int, batch: int, batches: int) -> None:
        """Report if enough time passed since the last update."""
        if self.progress is None:
            return
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL_S:
            return
        self.last = now
        self.progress.update(percentage=100.0 * done / max(self.total, 1), items_processed=done,
                             items_total=self.total, current_item=f"epoch {epoch}/{epochs} batch {batch}/{batches}",
                             context={"epoch": epoch, "batch": batch})


@dataclass
class _Loop:
    """What stays fixed during a run."""

    run: RunState
    loss_fn: nn.Module
    train: Samples
    val: Samples
    classification: bool
    amp: bool
    device: torch.device
    cfg: TrainingConfig
    cancel: CancelToken | None
    throttle: _Throttle


def _train_epoch(lp: _Loop, batches_before: int) -> tuple[float, float]:
    """One pass over shuffled training samples; returns (mean loss, accuracy). Cancel is checked every batch."""
    run, cfg, n = lp.run, lp.cfg, lp.train.n
    run.model.train()
    perm = _epoch_order(lp.train, run.shuffle).to(lp.device, non_blocking=True)
    loss_sum = torch.zeros((), device=lp.device)
    correct = torch.zeros((), device=lp.device, dtype=torch.long)
    bs, n_batches = cfg.batch_size, math.ceil(n / cfg.batch_size)
    for b in range(n_batches):
        if lp.cancel is not None:
            lp.cancel.check()
        xb, yb = lp.train.batch(perm[b * bs:(b + 1) * bs])
        with torch.autocast(device_type=lp.device.type, dtype=torch.float16, enabled=lp.amp):
            out = run.model(xb)
        loss = lp.loss_fn(out.float(), yb)
        run.optimizer.zero_grad(set_to_none=True)
        run.scaler.scale(loss).backward()
        if cfg.gradient_clip > 0:
            run.scaler.unscale_(run.optimizer)
            nn.utils.clip_grad_norm_(run.model.parameters(), cfg.gradient_clip)
        run.scaler.step(run.optimizer)
        run.scaler.update()
        # Accumulate on the device: a .item() per batch would synchronise the GPU every step.
        loss_sum += loss.detach() * yb.shape[0]
        if lp.classification:
            correct += (out.argmax(dim=1) == yb).sum()
        lp.throttle.tick(batches_before + b + 1, run.epoch + 1, cfg.epochs, b + 1, n_batches)
    return float(loss_sum) / n, float(correct) / n


def _epoch_order(train: Samples, generator: torch.Generator) -> torch.Tensor:
    """A shuffle of the samples, or with sample weights n draws with replacement in proportion to them
    (weighted random sampling, as the reference trains with uniqueness weights)."""
    if train.weights_aligned is None:
        return torch.randperm(train.n, generator=generator)
    return torch.multinomial(train.weights_aligned.cpu().double(), train.n, replacement=True, generator=generator)


@torch.no_grad()
def evaluate_loss(model: nn.Module, loss_fn: nn.Module, data: Samples, batch_size: int, amp: bool,
                  cancel: CancelToken | None = None) -> tuple[float, float]:
    """Mean loss and accuracy (classification) of a model over a split, in eval mode."""
    model.eval()
    loss_sum = torch.zeros((), device=data.y.device)
    correct = torch.zeros((), device=data.y.device, dtype=torch.long)
    for start in range(0, data.n, batch_size):
        if cancel is not None:
            cancel.check()
        xb, yb = data.batch(torch.arange(start, min(start + batch_size, data.n), device=data.y.device))
        with torch.autocast(device_type=data.y.device.type, dtype=torch.float16, enabled=amp):
            out = model(xb).float()
        loss_sum += loss_fn(out, yb) * yb.shape[0]
        if out.shape[1] > 1:
            correct += (out.argmax(dim=1) == yb).sum()
    return float(loss_sum) / max(data.n, 1), float(correct) / max(data.n, 1)


class _Saver:
    """Keeps the last epoch-boundary snapshot and writes it every N epochs / M seconds, on cancel and at the end."""

    def __init__(self, checkpointer: Checkpointer | None, cfg: CheckpointConfig, run: RunState) -> None:
        self.checkpointer = checkpointer
        self.every_epochs = cfg.every_epochs
        self.every_seconds = cfg.every_seconds
        self.saved_epoch, self.saved_at = run.epoch, time.monotonic()
        self.snap = run.snapshot() if checkpointer is not None else None

    def boundary(self, run: RunState) -> None:
        """Take the snapshot a cancel would save, then write it if a checkpoint is due."""
        if self.checkpointer is None:
            return
        self.snap = run.snapshot()
        due_epochs = self.every_epochs > 0 and run.epoch - self.saved_epoch >= self.every_epochs
        due_time = self.every_seconds > 0 and time.monotonic() - self.saved_at >= self.every_seconds
        if due_epochs or due_time or run.finished:
            self.save(run.epoch)

    def save(self, epoch: int | None = None) -> None:
        """Write the last boundary snapshot."""
        if self.checkpointer is None or self.snap is None:
            return
        self.checkpointer.save(encode_checkpoint(self.snap))
        self.saved_epoch = self.snap["epoch"] if epoch is None else epoch
        self.saved_at = time.monotonic()


def _end_epoch(lp: _Loop, train_loss: float, train_acc: float, duration: float,
               progress: ProgressSink | None) -> None:
    """Validate, record the epoch's metrics, track the best weights, step the scheduler, decide on stopping."""
    run, cfg = lp.run, lp.cfg
    val_loss, val_acc = (evaluate_loss(run.model, lp.loss_fn, lp.val, cfg.batch_size * EVAL_BATCH_FACTOR,
                                       lp.amp, lp.cancel) if lp.val.n else (train_loss, train_acc))
    run.epoch += 1
    record: dict[str, Any] = {"epoch": run.epoch, "train_loss": train_loss, "val_loss": val_loss}
    if lp.classification:
        record |= {"train_accuracy": train_acc, "val_accuracy": val_acc}
    record |= {"learning_rate": run.optimizer.param_groups[0]["lr"], "duration_s": duration}
    run.history.append(record)
    if progress is not None:
        progress.metric(record, name="epoch")
    es = cfg.stopping
    if val_loss < run.best_loss - (es.min_delta if es is not None else 0.0):
        run.best_loss, run.best_epoch, run.since_improvement = val_loss, run.epoch, 0
        run.best_state = cpu_state(run.model)
    else:
        run.since_improvement += 1
    step_scheduler(run.scheduler, val_loss)
    stop_early = es is not None and run.since_improvement >= es.patience
    run.finished = stop_early or run.epoch >= cfg.epochs


def _epochs(lp: _Loop, saver: _Saver, progress: ProgressSink | None) -> int:
    """Run epochs until done or stopped early; returns how many ran in this call."""
    ran, n_batches = 0, math.ceil(lp.train.n / lp.cfg.batch_size)
    while not lp.run.finished:
        started = time.monotonic()
        train_loss, train_acc = _train_epoch(lp, lp.run.epoch * n_batches)
        duration = time.monotonic() - started
        _end_epoch(lp, train_loss, train_acc, duration, progress)
        lp.run.elapsed_s += time.monotonic() - started
        ran += 1
        saver.boundary(lp.run)
    return ran


def _new_run(model: nn.Module, cfg: TrainingConfig, amp: bool, seed: int, output_format: str) -> RunState:
    optimizer = make_optimizer(cfg, model.parameters(), output_format)
    return RunState(model=model, optimizer=optimizer, scheduler=make_scheduler(cfg.scheduler, optimizer),
                    scaler=torch.amp.GradScaler("cuda", enabled=amp),
                    shuffle=torch.Generator().manual_seed(seed))


def train_model(X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, y_val: np.ndarray, *,
                model_cfg: ModelConfig, training_cfg: TrainingConfig, output_format: str,
                device: torch.device | str = "cpu",
                progress: ProgressSink | None = None, cancel: CancelToken | None = None,
                checkpointer: Checkpointer | None = None, amp: bool | None = None, n_classes: int = 3,
                sample_weights: np.ndarray | None = None) -> TrainingOutcome:
    """Train a fresh model (or resume from `checkpointer`) on (rows, features) arrays; see TrainingOutcome.
    `sample_weights` (one per training row, > 0) makes each epoch draw samples in proportion to them."""
    device = torch.device(device)
    amp = device.type == "cuda" if amp is None else bool(amp) and device.type == "cuda"
    seed, window = training_cfg.seed, window_length(model_cfg)
    torch.manual_seed(seed)
    train = to_samples(X_train, y_train, window, device, output_format, sample_weights)
    val = to_samples(X_val, y_val, window, device, output_format)
    if train.n == 0:
        raise TrainingError(f"no training samples ({len(y_train)} rows, window {window})", field="X_train",
                            hint="load more history or shorten model.sequence_length")
    classification = output_format == "classification"
    model = build_model(model_cfg, train.x.shape[1], output_format, n_classes).to(device)
    weights = class_weights(train.y_aligned, training_cfg.class_weights, n_classes) if classification else None
    loss_fn = make_loss(resolve_loss_name(training_cfg.loss, output_format), weights, training_cfg).to(device)
    run = _new_run(model, training_cfg, amp, seed, output_format)
    blob = checkpointer.load() if checkpointer is not None else None
    if blob:
        run.restore(decode_checkpoint(blob))
    resumed_from, started = run.epoch, time.monotonic()
    n_batches = math.ceil(train.n / training_cfg.batch_size)
    lp = _Loop(run, loss_fn, train, val, classification, amp, device, training_cfg, cancel,
               _Throttle(progress, n_batches * training_cfg.epochs))
    saver = _Saver(checkpointer, training_cfg.checkpoint, run)
    try:
        ran = _epochs(lp, saver, progress)
    except OperationCancelled:
        saver.save()
        raise
    return _outcome(lp, resumed_from, ran, time.monotonic() - started)


def _outcome(lp: _Loop, resumed_from: int, ran: int, duration: float) -> TrainingOutcome:
    run = lp.run
    stopped_early = run.epoch < lp.cfg.epochs
    if lp.cfg.stopping is not None and run.best_state is not None:
        run.model.load_state_dict(run.best_state)
    run.model.eval()
    return TrainingOutcome(
        model=run.model, history=run.history, best_epoch=run.best_epoch, best_val_loss=run.best_loss,
        epochs_run=run.epoch, epochs_since_improvement=run.since_improvement, stopped_early=stopped_early,
        device=str(lp.device), amp=lp.amp, duration_s=duration, samples_trained=ran * lp.train.n,
        resumed_from_epoch=resumed_from)
