"""The `training` operation: strategy YAML + stored market data → a trained model bundle in the registry."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec

from ktrdr.context import Checkpointer
from ktrdr.protocol.messages import GpuInfo
from ktrdr.operations import kinds
from ktrdr.operations.params import TrainingParams
from ktrdr.workers.context import OperationContext
# MissingDataError is re-exported: it was defined here before both workers shared the loaders.
from ktrdr.workers.inputs import MissingDataError, data_repository, load_context, load_market  # noqa: F401

if TYPE_CHECKING:  # the heavy domain (torch, pandas) loads inside the handler, not at import
    from ktrdr.strategy.config import StrategyConfig


def parse_params(parameters: dict[str, Any]) -> TrainingParams:
    """Validate training parameters, naming the bad field."""
    return kinds.get("training").parse(parameters)


def strategy_from_params(p: TrainingParams) -> StrategyConfig:
    """The validated strategy with the parameters' symbol/timeframe/date overrides applied."""
    from ktrdr.strategy import validate_strategy
    from ktrdr.strategy.loader import read_source
    from ktrdr.strategy.overrides import with_overrides

    text = p.strategy_yaml
    if "\n" not in text and text.strip().endswith((".yaml", ".yml")):
        # A path would be read from the worker's disk, which the submitter cannot see.
        raise ValueError(f"strategy_yaml must be the YAML text, not a file name ({text!r}); send the file's content")
    cfg = validate_strategy(read_source(text))
    return with_overrides(cfg, symbols=p.symbols, timeframes=p.timeframes, start=p.start, end=p.end,
                          epochs=p.epochs)


class _ResumeOnly:
    """A checkpointer that only hands back state on a resumed attempt (a fresh run never inherits one)."""

    def __init__(self, inner: Checkpointer, resume: bool) -> None:
        self.inner, self.resume = inner, resume

    def load(self) -> bytes | None:
        """The saved state when resuming, else None."""
        return self.inner.load() if self.resume else None

    def save(self, state: bytes) -> None:
        """Persist a state."""
        self.inner.save(state)


def columnar(history: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Per-epoch records as one list per field (about half the JSON size of a list of dicts)."""
    keys = list(history[0]) if history else []
    return {k: [h.get(k) for h in history] for k in keys}


def run_training_op(ctx: OperationContext) -> dict[str, Any]:
    """Handler: load data, train (progress, cancel, checkpoints), save the bundle, return the summary."""
    from ktrdr.bus.objects_models import ModelRegistry
    from ktrdr.training.device import pick_device
    from ktrdr.training.keys import model_line
    from ktrdr.training.pipeline import run_training

    started = time.monotonic()
    p = parse_params(ctx.parameters)
    cfg = strategy_from_params(p)
    device = pick_device(p.device)
    td, repo = cfg.training_data, data_repository(ctx)
    frames = load_market(ctx, repo, td.symbol_list, td.timeframe_list, td.start, td.end)
    context = load_context(repo, cfg)
    bundle, summary = run_training(cfg, frames, context=context, device=device, progress=ctx.progress,
                                   cancel=ctx.cancel, checkpointer=_ResumeOnly(ctx.checkpointer, ctx.resume))
    ctx.cancel.check()  # a cancel that arrived during evaluation still wins over saving a model
    registry = ModelRegistry(ctx.services["objects"].models, ctx.loop)
    key = registry.save(p.model_name or cfg.name, model_line(td.symbol_list, td.base), bundle.to_bytes())
    ctx.artifacts["model"] = key
    summary["training"]["history"] = columnar(summary["training"]["history"])
    return summary | {"model_key": key, "symbol": td.symbol_list[0], "symbols": td.symbol_list,
                      "attempt": ctx.attempt, "operation_duration_s": time.monotonic() - started}


def worker_gpu(pool: str | None) -> tuple[str, GpuInfo | None]:
    """(pool, heartbeat GPU facts): None picks gpu when CUDA/MPS works; gpu without one raises DeviceUnavailable."""
    from ktrdr.training.device import gpu_info, require_gpu

    if pool not in (None, "gpu", "cpu"):
        raise ValueError(f"unknown training pool {pool!r}; use gpu or cpu")
    info = require_gpu() if pool == "gpu" else gpu_info()
    gpu = None
    if info is not None:
        memory = info.get("memory_bytes") or 0
        gpu = GpuInfo(name=str(info["name"]), memory_mb=int(memory) // (1024 * 1024), backend=info["type"])
    return pool or ("gpu" if gpu is not None else "cpu"), gpu
