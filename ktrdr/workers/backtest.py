"""The `backtest` operation: data and model from the object stores, signals, the engine, results back to the store."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from ktrdr.backtesting import BacktestConfig, run_backtest
from ktrdr.backtesting.codec import unpack
from ktrdr.backtesting.costs import fill_costs
from ktrdr.backtesting.decisions import decision_rule
from ktrdr.backtesting.metric_table import METRIC_UNITS
from ktrdr.backtesting.model_signals import (bundle_strategy, history_bars, history_window, is_state_model,
                                            model_signals)
from ktrdr.backtesting.rules import ma_cross_signals
from ktrdr.context import CancelToken, Checkpointer, ProgressReporter
from ktrdr.errors import ConfigError
from ktrdr.strategy import StrategyConfig, load_strategy
from ktrdr.operations import kinds
from ktrdr.operations.params import BacktestParams
from ktrdr.training.bundle import ModelBundle
from ktrdr.workers.context import OperationContext
from ktrdr.workers.inputs import data_repository, load_context, load_market

STEPS = ("loading model", "loading data", "signals", "simulating", "storing results")


def parse_params(parameters: dict[str, Any]) -> BacktestParams:
    """Validate backtest parameters, naming the bad field; exactly one of `model` and `signals`."""
    return kinds.get("backtest").parse(parameters)


class _Resumable:
    """The operation's checkpointer, read only on a resumed attempt; remembers the bar it resumed from."""

    def __init__(self, inner: Checkpointer, resume: bool) -> None:
        self.inner, self.resume, self.resumed_from = inner, resume, 0

    def load(self) -> bytes | None:
        """The saved state on a resumed attempt, else None (a fresh attempt starts over)."""
        blob = self.inner.load() if self.resume else None
        if blob is not None:
            self.resumed_from = int(unpack(blob, what="backtest checkpoint", required=("bar",))["bar"][0])
        return blob

    def save(self, state: bytes) -> None:
        """Persist a state."""
        self.inner.save(state)


class _Paced(ProgressReporter):
    """Forwards the engine's progress; after each update waits `pace_s` (a cancel ends the wait early)."""

    def __init__(self, inner: ProgressReporter, cancel: CancelToken, pace_s: float) -> None:
        super().__init__()
        self.inner, self.cancel, self.pace_s = inner, cancel, pace_s

    def update(self, **fields: Any) -> None:
        """Forward, then pause."""
        self.inner.update(**{"steps_completed": STEPS.index("simulating"), "steps_total": len(STEPS), **fields})
        if self.pace_s:
            self.cancel.wait(self.pace_s)

    def metric(self, values: dict[str, Any], *, name: str = "epoch") -> None:
        """Forward."""
        self.inner.metric(values, name=name)

    def log(self, message: str, level: str = "info") -> None:
        """Forward."""
        self.inner.log(message, level)


def _step(ctx: OperationContext, name: str) -> None:
    """Check for cancellation, then report entering step `name`."""
    ctx.cancel.check()
    ctx.progress.update(current_step=name, steps_completed=STEPS.index(name), steps_total=len(STEPS))


def _load_model(ctx: OperationContext, p: BacktestParams) -> tuple[ModelBundle | None, str, StrategyConfig | None]:
    """(bundle, its registry key, the strategy) — the strategy from the inline YAML when given."""
    from ktrdr.bus.objects_models import ModelRegistry

    strategy = load_strategy(p.strategy_yaml) if p.strategy_yaml else None
    if p.model is None:
        return None, "", strategy
    _step(ctx, "loading model")
    registry = ModelRegistry(ctx.services["objects"].models, ctx.loop)
    key = registry.resolve(p.model)
    bundle = ModelBundle.from_bytes(registry.load(key))
    return bundle, key, strategy or bundle_strategy(bundle)


def _load_frames(ctx: OperationContext, symbol: str, timeframes: list[str], end: str | None) -> dict[str, pd.DataFrame]:
    """Every needed timeframe of `symbol` up to `end` from the data bucket; MissingDataError names gaps."""
    _step(ctx, "loading data")
    return load_market(ctx, data_repository(ctx), [symbol], timeframes, None, end)[symbol]


def _load_context(ctx: OperationContext, bundle: ModelBundle | None) -> dict[str, pd.DataFrame]:
    """The context series the model's strategy reads (none for a plain signal rule)."""
    return {} if bundle is None else load_context(data_repository(ctx), bundle_strategy(bundle))


class _Plan(msgspec.Struct, frozen=True, kw_only=True):
    """What one run trades: resolved symbol, timeframes, warm-up history and position rules."""

    symbol: str
    base: str
    timeframes: list[str]
    history: int
    short_from_flat: bool


def _plan(p: BacktestParams, bundle: ModelBundle | None, strategy: StrategyConfig | None) -> _Plan:
    """Resolve defaults from the strategy (the bundle's for features) and check they fit together."""
    features = bundle_strategy(bundle) if bundle is not None else None
    source = strategy or features
    symbol = p.symbol or (source.training_data.symbol_list[0] if source else "")
    # A model fixes the timeframe; otherwise the parameter wins over the strategy's base (parse_params checked
    # that one of them exists).
    default = source.training_data.base if source else ""
    base = features.training_data.base if features else (p.timeframe or default)
    if features is not None and p.timeframe not in (None, base):
        raise ConfigError(f"the model was trained on {base} bars, not {p.timeframe}", path="parameters.timeframe",
                          hint=f"use timeframe {base} or a model trained on {p.timeframe}")
    # A regression model may always short from flat, as in the original.
    rule_shorts = bool(source and decision_rule(source.decisions).shorts_from_flat)
    short = p.short_from_flat if p.short_from_flat is not None else rule_shorts
    if features is not None:
        return _Plan(symbol=symbol, base=base, timeframes=features.training_data.timeframe_list,
                     history=history_bars(features, bundle), short_from_flat=short)
    assert p.signals is not None
    return _Plan(symbol=symbol, base=base, timeframes=[base], history=p.signals.slow, short_from_flat=short)


def _signals(p: BacktestParams, plan: _Plan, bundle: ModelBundle | None, strategy: StrategyConfig | None,
             frames: dict[str, pd.DataFrame], warmup: int, context: dict[str, pd.DataFrame]) -> np.ndarray:
    """One signal per base bar from `warmup` on: batched model inference and decisions, or the plain rule."""
    if bundle is not None and is_state_model(bundle):
        # The original's decision function answers HOLD for regime and context models: the run trades nothing.
        return np.zeros(len(frames[plan.base]), dtype=np.int8)
    if bundle is not None:
        decisions = (strategy or bundle_strategy(bundle)).decisions
        return model_signals(bundle, frames, decisions, first_bar=warmup, context=context)
    assert p.signals is not None
    return ma_cross_signals(frames[plan.base]["close"].to_numpy(), p.signals.fast, p.signals.slow)


def _config(p: BacktestParams, plan: _Plan, warmup: int) -> BacktestConfig:
    """The engine's config: the command's values, the original's cost defaults where it gives none."""
    commission, slippage = fill_costs(p.commission, p.slippage)
    return BacktestConfig(initial_capital=p.capital, position_size=p.position_size, commission=commission,
                          slippage=slippage, short_from_flat=plan.short_from_flat, warmup_bars=warmup,
                          progress_every_bars=p.progress_every_bars, checkpoint_every_bars=p.checkpoint_every_bars)


def _data_source(ctx: OperationContext, symbol: str, timeframe: str) -> str:
    """Where the simulated bars came from (ib, csv, synthetic): results say so beside the numbers."""
    info = data_repository(ctx).info(symbol, timeframe)
    return info.source if info is not None else ""


def _signal_source(bundle: ModelBundle | None) -> str:
    """What gave the signals of a model run: the model, or nothing for a model of market states."""
    if bundle is not None and is_state_model(bundle):
        return f"hold: the model predicts market states {bundle.classes}, which are never traded"
    return "model"


def run_backtest_op(ctx: OperationContext) -> dict[str, Any]:
    """Run one backtest operation and return its result summary (all metrics, model key, bars, range)."""
    from ktrdr.bus.objects import BACKTEST_RESULT, ResultStore

    started = time.monotonic()
    p = parse_params(ctx.parameters)
    bundle, key, strategy = _load_model(ctx, p)
    plan = _plan(p, bundle, strategy)
    frames, warmup = history_window(_load_frames(ctx, plan.symbol, plan.timeframes, p.end), plan.base,
                                    p.start, plan.history)
    context = _load_context(ctx, bundle)
    _step(ctx, "signals")
    signals = _signals(p, plan, bundle, strategy, frames, warmup, context)
    _step(ctx, "simulating")
    data, checkpointer = frames[plan.base], _Resumable(ctx.checkpointer, ctx.resume)
    simulate_at, config = time.monotonic(), _config(p, plan, warmup)
    result = run_backtest(data, signals, config, cancel=ctx.cancel, checkpointer=checkpointer,
                          progress=_Paced(ctx.progress, ctx.cancel, p.pace_s))
    simulate_s = time.monotonic() - simulate_at
    _step(ctx, "storing results")
    name = ResultStore(ctx.services["objects"].results, ctx.loop).save(ctx.operation_id, BACKTEST_RESULT,
                                                                       result.to_bytes())
    ctx.artifacts.update({"result": name, **({"model": key} if key else {})})
    ctx.progress.update(percentage=100.0, current_step="done", steps_completed=len(STEPS), steps_total=len(STEPS))
    bars = len(data) - warmup
    simulated = len(data) - max(warmup, checkpointer.resumed_from)
    return {
        "metrics": result.metrics, "metric_units": {name: METRIC_UNITS[name] for name in result.metrics},
        "costs": {"commission": config.commission, "slippage": config.slippage}, "model": key or None,
        "signals": msgspec.to_builtins(p.signals) if p.signals else _signal_source(bundle),
        "symbol": plan.symbol, "timeframe": plan.base, "bars": bars, "warmup_bars": warmup,
        "data_source": _data_source(ctx, plan.symbol, plan.base),
        "start": data.index[warmup].isoformat(), "end": data.index[-1].isoformat(),
        "signal_bars": int(np.count_nonzero(signals[warmup:])), "resumed_from_bar": checkpointer.resumed_from,
        "simulate_s": simulate_s, "bars_per_s": simulated / simulate_s if simulate_s > 0 else None,
        "duration_s": time.monotonic() - started, "result": name,
    }
