"""Section checks that the struct types alone cannot express: training_data modes, decisions vs labels."""

from __future__ import annotations

from ktrdr.strategy.config import StrategyConfig
from ktrdr.strategy.errors import StrategyError

CLASS_SOURCES = ("zigzag", "triple_barrier", "regime", "context")
"""Label sources that give classes (forward_return gives a return, or classes by threshold)."""
LABEL_CLASSES = {"regime": 4}
"""Classes a classification label source gives, where it is not 3 (BUY/HOLD/SELL or BULLISH/NEUTRAL/BEARISH)."""
LOSSES = {"classification": ("auto", "cross_entropy", "focal"), "regression": ("auto", "huber", "mse")}


def check_training_data(cfg: StrategyConfig) -> None:
    """Each mode has what it needs; the base timeframe is one of the timeframes."""
    sym, tfs = cfg.training_data.symbols, cfg.training_data.timeframes
    if sym.mode == "single" and not sym.symbol:
        raise StrategyError("mode single needs 'symbol'", path="training_data.symbols",
                            suggestion="add 'symbol: EURUSD'")
    if sym.mode == "multi_symbol" and not sym.list_ and sym.selection_criteria is None:
        raise StrategyError("mode multi_symbol needs 'list' (or selection_criteria)",
                            path="training_data.symbols", suggestion="add 'list: [EURUSD, GBPUSD]'")
    names = tfs.names
    if tfs.mode == "single" and len(names) != 1:
        raise StrategyError("mode single needs one 'timeframe'", path="training_data.timeframes",
                            value=names, suggestion="add 'timeframe: 1h'")
    if tfs.mode == "multi_timeframe" and len(names) < 2:
        raise StrategyError("mode multi_timeframe needs a 'list' of at least 2 timeframes",
                            path="training_data.timeframes", value=names, suggestion="e.g. list: [1h, 4h]")
    if len(set(names)) != len(names):
        raise StrategyError("timeframes repeat", path="training_data.timeframes.list", value=names)
    if tfs.base_timeframe and tfs.base_timeframe not in names:
        raise StrategyError("base_timeframe must be one of the timeframes",
                            path="training_data.timeframes.base_timeframe", value=tfs.base_timeframe,
                            suggestion=f"use one of {names}")


def check_decisions(cfg: StrategyConfig) -> None:
    """Output format, loss and label source fit together; regression needs a cost model."""
    fmt, source = cfg.decisions.output_format, cfg.label_source
    if cfg.training.loss not in LOSSES[fmt]:
        raise StrategyError(f"loss '{cfg.training.loss}' does not fit output_format '{fmt}'",
                            path="training.loss", value=cfg.training.loss,
                            suggestion=f"use one of {', '.join(LOSSES[fmt])}")
    classes = LABEL_CLASSES.get(source, 3)
    if fmt == "classification" and cfg.decisions.num_classes not in (None, classes):
        raise StrategyError(f"num_classes {cfg.decisions.num_classes} does not match the {classes} classes of "
                            f"{source} labels", path="decisions.num_classes", value=cfg.decisions.num_classes,
                            suggestion=f"use num_classes: {classes} or leave it out")
    if fmt == "regression":
        if source in CLASS_SOURCES:
            raise StrategyError(f"{source} labels are classes; a regression model needs forward_return",
                                path="training.labels.source", value=source,
                                suggestion="use source: forward_return, or output_format: classification")
        if cfg.decisions.cost_model is None:
            raise StrategyError("regression needs decisions.cost_model", path="decisions",
                                suggestion="add cost_model: {round_trip_cost: 0.003, min_edge_multiplier: 1.5}")
