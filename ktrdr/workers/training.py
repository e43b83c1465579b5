"""The `training` operation: strategy YAML + stored market data → a trained model bundle in the registry."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec

from ktrdr.context import Checkpointer
from ktrdr.errors import KtrdrError
from ktrdr.protocol.messages import GpuInfo
from ktrdr.operations import kinds
from ktrdr.operations.params import TrainingParams
from ktrdr.workers.context import OperationContext

if TYPE_CHECKING:  # the heavy domain (torch, pandas) loads inside the handler, not at import
    import pandas as pd

    from ktrdr.strategy.config import StrategyConfig

class MissingDataError(KtrdrError, LookupError):
    """Series the strategy needs are not in the data store; `missing` lists (symbol, timeframe) pairs."""

    def __init__(self, missing: list[tuple[str, str]]) -> None:
        names = ", ".join(f"{s} {tf}" for s, tf in missing)
        loads = "; ".join(f"ktrdr data load {s} {tf} --source synthetic" for s, tf in missing)
        super().__init__(f"no stored data for {names}",
                         hint=f"load it first, e.g. `{loads}` (or --source ib / a CSV import)")
        self.missing = missing


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


def load_frames(ctx: OperationContext, cfg: StrategyConfig) -> dict[str, pd.DataFrame]:
    """Every timeframe of the strategy's (single) symbol from the data bucket; MissingDataError names gaps."""
    from ktrdr.bus.objects import ObjectFrameStore
    from ktrdr.data import DataRepository
    from ktrdr.training.errors import TrainingError

    td = cfg.training_data
    symbols, timeframes = td.symbol_list, td.timeframe_list
    if len(symbols) != 1:
        raise TrainingError(f"a training operation trains on one symbol, got {symbols}", field="symbols",
                            hint="submit one operation per symbol (parameters.symbols=[...one...])")
    repo = DataRepository(ObjectFrameStore(ctx.services["objects"].data, ctx.loop))
    symbol = symbols[0]
    missing = [(symbol, tf) for tf in timeframes if repo.info(symbol, tf) is None]
    if missing:
        raise MissingDataError(missing)
    frames = {}
    for i, tf in enumerate(timeframes):
        ctx.cancel.check()
        ctx.progress.update(current_step="loading data", current_item=f"{symbol} {tf}", steps_completed=0,
                            items_processed=i, items_total=len(timeframes))
        frames[tf] = repo.load(symbol, tf, td.start, td.end)
    return frames


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
    from ktrdr.training.pipeline import run_training

    started = time.monotonic()
    p = parse_params(ctx.parameters)
    cfg = strategy_from_params(p)
    device = pick_device(p.device)
    frames = load_frames(ctx, cfg)
    bundle, summary = run_training(cfg, frames, device=device, progress=ctx.progress, cancel=ctx.cancel,
                                   checkpointer=_ResumeOnly(ctx.checkpointer, ctx.resume))
    ctx.cancel.check()  # a cancel that arrived during evaluation still wins over saving a model
    registry = ModelRegistry(ctx.services["objects"].models, ctx.loop)
    key = registry.save(p.model_name or cfg.name, cfg.training_data.base, bundle.to_bytes())
    ctx.artifacts["model"] = key
    summary["training"]["history"] = columnar(summary["training"]["history"])
    return summary | {"model_key": key, "symbol": cfg.training_data.symbol_list[0], "attempt": ctx.attempt,
                      "operation_duration_s": time.monotonic() - started}


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
