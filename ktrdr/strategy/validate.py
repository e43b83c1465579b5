"""Cross-reference checks on a decoded strategy; the one entry point for CLI and backend."""

from __future__ import annotations

import math
from datetime import date

from ktrdr.fuzzy.membership import FuzzyError, check_parameters
from ktrdr.indicators.compute import reference_column
from ktrdr.indicators.registry import IndicatorError, resolve_params
from ktrdr.strategy.config import STRATEGY_VERSION, StrategyConfig
from ktrdr.strategy.errors import StrategyError, did_you_mean
from ktrdr.strategy.loader import Source, parse_strategy


def validate_strategy(source: Source | StrategyConfig) -> StrategyConfig:
    """Decode and fully check a strategy (path, YAML text, mapping or config); raise StrategyError."""
    cfg = source if isinstance(source, StrategyConfig) else parse_strategy(source)
    if cfg.version != STRATEGY_VERSION:
        raise StrategyError(f"unsupported version '{cfg.version}'", path="version",
                            value=cfg.version, suggestion=f'use version: "{STRATEGY_VERSION}"')
    _check_training_data(cfg)
    _check_indicators(cfg)
    _check_fuzzy_sets(cfg)
    _check_nn_inputs(cfg)
    _check_split(cfg)
    return cfg


def load_strategy(source: Source) -> StrategyConfig:
    """Load a strategy from a path or YAML text (or a parsed mapping), fully validated."""
    return validate_strategy(source)


def _check_training_data(cfg: StrategyConfig) -> None:
    td = cfg.training_data
    if not td.symbols:
        raise StrategyError("at least one symbol is needed", path="training_data.symbols")
    if not td.timeframes or len(set(td.timeframes)) != len(td.timeframes):
        raise StrategyError("timeframes must be a non-empty list without repeats",
                            path="training_data.timeframes", value=td.timeframes)
    if td.base_timeframe not in td.timeframes:
        raise StrategyError("base_timeframe must be one of the timeframes",
                            path="training_data.base_timeframe", value=td.base_timeframe,
                            suggestion=f"use one of {td.timeframes}")
    bounds = {}
    for key in ("start", "end"):
        text = getattr(td, key)
        try:
            bounds[key] = date.fromisoformat(text[:10]) if text else None
        except ValueError:
            raise StrategyError("not an ISO date", path=f"training_data.{key}", value=text,
                                suggestion="write it as YYYY-MM-DD") from None
    if bounds["start"] and bounds["end"] and bounds["start"] >= bounds["end"]:
        raise StrategyError("start must be before end", path="training_data.start",
                            value=td.start)


def _check_indicators(cfg: StrategyConfig) -> None:
    for ind_id, spec in cfg.indicators.items():
        path = f"indicators.{ind_id}"
        if "." in ind_id or not ind_id:
            raise StrategyError("indicator ids may not contain '.'", path=path, value=ind_id,
                                suggestion=f"use '{ind_id.replace('.', '_')}'")
        try:
            resolve_params(spec)
        except IndicatorError as exc:
            where = f"{path}.{exc.param}" if exc.param else f"{path}.type"
            raise StrategyError(exc.message, path=where, value=exc.value,
                                suggestion=exc.suggestion) from None


def _check_reference(cfg: StrategyConfig, ref: str, path: str) -> None:
    try:
        reference_column(ref, cfg.indicators)
    except IndicatorError as exc:
        raise StrategyError(exc.message, path=path, value=ref, suggestion=exc.suggestion) from None


def _check_fuzzy_sets(cfg: StrategyConfig) -> None:
    for name, fset in cfg.fuzzy_sets.items():
        _check_reference(cfg, fset.indicator, f"fuzzy_sets.{name}.indicator")
        if not fset.memberships:
            raise StrategyError("a fuzzy set needs at least one membership",
                                path=f"fuzzy_sets.{name}",
                                suggestion="add e.g. 'low: [0, 20, 40]'")
        for member, mc in fset.memberships.items():
            try:
                check_parameters(mc.type, mc.parameters)
            except FuzzyError as exc:
                raise StrategyError(exc.message, path=f"fuzzy_sets.{name}.{member}",
                                    value=list(mc.parameters), suggestion=exc.hint) from None


def _check_nn_inputs(cfg: StrategyConfig) -> None:
    if not cfg.nn_inputs:
        raise StrategyError("at least one nn_input is needed", path="nn_inputs")
    for i, item in enumerate(cfg.nn_inputs):
        path = f"nn_inputs[{i}]"
        if (item.fuzzy_set is None) == (item.indicator is None):
            raise StrategyError("give exactly one of 'fuzzy_set' or 'indicator'", path=path)
        if item.fuzzy_set is not None and item.fuzzy_set not in cfg.fuzzy_sets:
            raise StrategyError(f"unknown fuzzy set '{item.fuzzy_set}'", path=f"{path}.fuzzy_set",
                                value=item.fuzzy_set,
                                suggestion=did_you_mean(item.fuzzy_set, cfg.fuzzy_sets))
        if item.indicator is not None:
            _check_reference(cfg, item.indicator, f"{path}.indicator")
        if item.timeframes != "all":
            for j, tf in enumerate(item.timeframes):
                if tf not in cfg.training_data.timeframes:
                    raise StrategyError(f"timeframe '{tf}' is not in training_data.timeframes",
                                        path=f"{path}.timeframes[{j}]", value=tf,
                                        suggestion=f"use 'all' or some of "
                                                   f"{cfg.training_data.timeframes}")


def _check_split(cfg: StrategyConfig) -> None:
    split = cfg.training.data_split
    total = split.train + split.validation + split.test
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise StrategyError(f"train + validation + test must be 1, got {total:g}",
                            path="training.data_split", value=total)
