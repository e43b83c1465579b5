"""Cross-reference checks on a decoded strategy; the one entry point for CLI and backend."""

from __future__ import annotations

import math
from datetime import date

from ktrdr.fuzzy.membership import FuzzyError, check_parameters
from ktrdr.indicators.compute import reference_column
from ktrdr.indicators.registry import IndicatorError, resolve_params
from ktrdr.strategy.config import STRATEGY_VERSION, StrategyConfig
from ktrdr.strategy.errors import StrategyError, StrategyWarning, did_you_mean
from ktrdr.strategy.loader import Source, decode_document, read_document
from ktrdr.strategy.validate_sections import check_decisions, check_training_data

Warnings = list[StrategyWarning]


def validate_strategy(source: Source | StrategyConfig, warnings: Warnings | None = None) -> StrategyConfig:
    """Decode and fully check a strategy (path, YAML text, mapping or config); raise StrategyError.

    Keys accepted without effect, unused indicators and the like are appended to `warnings`.
    """
    found: Warnings = []
    if isinstance(source, StrategyConfig):
        cfg = _checked(source, found)
    else:
        doc = read_document(source)
        cfg = decode_document(doc, found)
        checks: Warnings = []
        try:
            cfg = _checked(cfg, checks)
        except StrategyError as exc:
            raise exc.located(doc.marks) from None
        found += [w.located(doc.marks) for w in checks]
    if warnings is not None:
        warnings.extend(found)
    return cfg


def load_strategy(source: Source) -> StrategyConfig:
    """Load a strategy from a path or YAML text (or a parsed mapping), fully validated."""
    return validate_strategy(source)


def _checked(cfg: StrategyConfig, warnings: Warnings) -> StrategyConfig:
    if cfg.version != STRATEGY_VERSION:
        raise StrategyError(f"unsupported version '{cfg.version}'", path="version",
                            value=cfg.version, suggestion=f'use version: "{STRATEGY_VERSION}"')
    check_training_data(cfg)
    _check_dates(cfg)
    _check_indicators(cfg)
    _check_fuzzy_sets(cfg)
    _check_nn_inputs(cfg)
    check_decisions(cfg)
    _check_split(cfg)
    _warn_unused(cfg, warnings)
    return cfg


def _check_dates(cfg: StrategyConfig) -> None:
    td = cfg.training_data
    if td.date_range is not None and (td.start_date or td.end_date):
        raise StrategyError("give the period either as date_range or as start_date/end_date",
                            path="training_data.date_range", suggestion="remove one of the two")
    prefix = "training_data.date_range." if td.date_range else "training_data."
    names = ("start", "end") if td.date_range else ("start_date", "end_date")
    bounds = []
    for name, text in zip(names, (td.start, td.end)):
        try:
            bounds.append(date.fromisoformat(text[:10]) if text else None)
        except ValueError:
            raise StrategyError("not an ISO date", path=prefix + name, value=text,
                                suggestion="write it as YYYY-MM-DD") from None
    if bounds[0] and bounds[1] and bounds[0] >= bounds[1]:
        raise StrategyError("the start must be before the end", path=prefix + names[0], value=td.start)


def _check_indicators(cfg: StrategyConfig) -> None:
    sources = {sid for entry in cfg.context_data or [] for sid in entry.source_ids()}
    for ind_id, ind in cfg.indicators.items():
        path = f"indicators.{ind_id}"
        if "." in ind_id or not ind_id:
            raise StrategyError("indicator ids may not contain '.'", path=path, value=ind_id,
                                suggestion=f"use '{ind_id.replace('.', '_')}'")
        try:
            resolve_params(cfg.indicator_specs[ind_id])
        except IndicatorError as exc:
            where = f"{path}.{exc.param}" if exc.param else f"{path}.type"
            raise StrategyError(exc.message, path=where, value=exc.value, suggestion=exc.suggestion) from None
        if ind.data_source is not None and ind.data_source not in sources:
            raise StrategyError(f"data_source '{ind.data_source}' is not a context_data source id",
                                path=f"{path}.data_source", value=ind.data_source,
                                suggestion=did_you_mean(ind.data_source, sources)
                                or "declare it under context_data")


def _check_reference(cfg: StrategyConfig, ref: str, path: str) -> None:
    try:
        reference_column(ref, cfg.indicator_specs)
    except IndicatorError as exc:
        raise StrategyError(exc.message, path=path, value=ref, suggestion=exc.suggestion) from None


def _check_fuzzy_sets(cfg: StrategyConfig) -> None:
    for name, fset in cfg.fuzzy_sets.items():
        _check_reference(cfg, fset.indicator, f"fuzzy_sets.{name}.indicator")
        if not fset.memberships:
            raise StrategyError("a fuzzy set needs at least one membership", path=f"fuzzy_sets.{name}",
                                suggestion="add e.g. 'low: [0, 20, 40]'")
        for member, mc in fset.memberships.items():
            try:
                check_parameters(mc.type, mc.parameters)
            except FuzzyError as exc:
                raise StrategyError(exc.message, path=f"fuzzy_sets.{name}.{member}",
                                    value=list(mc.parameters), suggestion=exc.hint) from None


def _check_nn_inputs(cfg: StrategyConfig) -> None:
    if not cfg.nn_inputs:
        raise StrategyError("at least one nn_input is needed", path="nn_inputs",
                            suggestion="add e.g. '- {fuzzy_set: rsi_14, timeframes: all}'")
    timeframes = cfg.training_data.timeframe_list
    for i, item in enumerate(cfg.nn_inputs):
        path = f"nn_inputs[{i}]"
        if (item.fuzzy_set is None) == (item.raw_indicator is None):
            raise StrategyError("give exactly one of 'fuzzy_set' or 'raw_indicator'", path=path)
        if item.fuzzy_set is not None:
            if item.normalization is not None:
                raise StrategyError("normalization applies to raw_indicator inputs only",
                                    path=f"{path}.normalization", suggestion="remove it")
            if item.fuzzy_set not in cfg.fuzzy_sets:
                raise StrategyError(f"unknown fuzzy set '{item.fuzzy_set}'", path=f"{path}.fuzzy_set",
                                    value=item.fuzzy_set, suggestion=did_you_mean(item.fuzzy_set, cfg.fuzzy_sets))
        if item.raw_indicator is not None:
            _check_reference(cfg, item.raw_indicator, f"{path}.raw_indicator")
        if item.timeframes != "all":
            for j, tf in enumerate(item.timeframes):
                if tf not in timeframes:
                    raise StrategyError(f"timeframe '{tf}' is not in training_data.timeframes",
                                        path=f"{path}.timeframes[{j}]", value=tf,
                                        suggestion=f"use 'all' or some of {timeframes}")


def _check_split(cfg: StrategyConfig) -> None:
    split = cfg.training.data_split
    total = split.train + split.validation + split.test
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise StrategyError(f"train + validation + test must be 1, got {total:g}",
                            path="training.data_split", value=total, suggestion="e.g. 0.7, 0.15, 0.15")


def _warn_unused(cfg: StrategyConfig, warnings: Warnings) -> None:
    # v2 sections the original still parses in v3 files but never reads.
    if cfg.model.features is not None:
        warnings.append(StrategyWarning("model.features", "accepted but has no effect: v3 features come "
                                                          "from nn_inputs"))
    if cfg.model.training is not None:
        warnings.append(StrategyWarning("model.training", "accepted but has no effect: training settings "
                                                          "are read from the top-level training section"))
    refs = [fs.indicator for fs in cfg.fuzzy_sets.values()]
    refs += [i.raw_indicator for i in cfg.nn_inputs if i.raw_indicator]
    used = {r.partition(".")[0] for r in refs}
    for ind_id in cfg.indicators:
        if ind_id not in used:
            warnings.append(StrategyWarning(f"indicators.{ind_id}", "defined but no fuzzy set or nn_input uses it"))
