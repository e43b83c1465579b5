"""Strategy features: indicators and memberships per timeframe, aligned onto the base timeframe."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ktrdr.fuzzy.engine import fuzzify
from ktrdr.indicators.compute import compute_indicator, compute_indicators
from ktrdr.indicators.spec import IndicatorSpec
from ktrdr.strategy.config import TIMEFRAME_MINUTES, NNInputConfig, StrategyConfig
from ktrdr.strategy.errors import StrategyError


def input_timeframes(strategy: StrategyConfig, item: NNInputConfig) -> list[str]:
    """The timeframes one nn_input covers, in `training_data.timeframes` order."""
    timeframes = strategy.training_data.timeframe_list
    wanted = timeframes if item.timeframes == "all" else item.timeframes
    return [tf for tf in timeframes if tf in wanted]


def input_columns(strategy: StrategyConfig, item: NNInputConfig, timeframe: str) -> list[str]:
    """Feature names of one nn_input on one timeframe."""
    if item.fuzzy_set is not None:
        members = strategy.fuzzy_sets[item.fuzzy_set].memberships
        return [f"{timeframe}_{item.fuzzy_set}_{m}" for m in members]
    return [f"{timeframe}_{item.raw_indicator}"]


def feature_names(strategy: StrategyConfig) -> list[str]:
    """The stable, ordered list of network inputs (nn_inputs order, then timeframe order)."""
    names: list[str] = []
    for item in strategy.nn_inputs:
        for tf in input_timeframes(strategy, item):
            names.extend(c for c in input_columns(strategy, item, tf) if c not in names)
    return names


def normalization_methods(strategy: StrategyConfig) -> dict[str, str]:
    """Feature name → normalization method (`minmax`, `zscore` or `none`)."""
    methods: dict[str, str] = {}
    for item in strategy.nn_inputs:
        for tf in input_timeframes(strategy, item):
            for col in input_columns(strategy, item, tf):
                methods.setdefault(col, item.method)
    return methods


Context = Mapping[str, pd.DataFrame]
"""Context series by source id (`GBPUSD`, `fred_DGS2`, …): OHLCV-shaped frames at their own frequency."""


def context_source_ids(strategy: StrategyConfig) -> list[str]:
    """The context_data source ids the strategy's indicators read (`data_source`), in indicator order."""
    return list(dict.fromkeys(v.data_source for v in strategy.indicators.values() if v.data_source))


def align_context(series: pd.DataFrame, index: pd.DatetimeIndex) -> pd.DataFrame:
    """A context series on `index`: each bar sees the latest observation stamped at or before it (forward
    fill, as the original's aligner); rows before the first observation are dropped."""
    combined = series.reindex(series.index.union(index)).ffill()
    return combined.reindex(index).dropna(how="all")


def _context_indicators(specs: Mapping[str, IndicatorSpec], df: pd.DataFrame, context: Context) -> pd.DataFrame:
    """Indicators whose data_source is a context series: computed on that series aligned to `df`'s bars."""
    missing = sorted({s.data_source for s in specs.values() if s.data_source not in context})
    if missing:
        raise StrategyError(f"context series {missing} were not provided", path="context_data", value=missing,
                            suggestion="import them: ktrdr data import --context NAME FILE.csv")
    parts = [compute_indicator(align_context(context[spec.data_source], df.index), ind_id, spec)
             for ind_id, spec in specs.items() if spec.data_source is not None]
    return pd.concat(parts, axis=1).reindex(df.index)


def _timeframe_features(strategy: StrategyConfig, df: pd.DataFrame, tf: str, context: Context) -> pd.DataFrame:
    # Compute only what this timeframe's inputs use: fewer indicators, faster features.
    items = [i for i in strategy.nn_inputs if tf in input_timeframes(strategy, i)]
    sets = list(dict.fromkeys(i.fuzzy_set for i in items if i.fuzzy_set is not None))
    refs = [i.raw_indicator for i in items if i.raw_indicator is not None]
    refs += [strategy.fuzzy_sets[s].indicator for s in sets]
    used = {r.partition(".")[0] for r in refs}
    specs = {k: v for k, v in strategy.indicator_specs.items() if k in used}
    indicators = compute_indicators(df, {k: v for k, v in specs.items() if v.data_source is None})
    external = {k: v for k, v in specs.items() if v.data_source is not None}
    if external:
        indicators = pd.concat([indicators, _context_indicators(external, df, context)], axis=1)
    parts = [fuzzify(indicators, strategy.fuzzy_sets, tf, only=sets)]
    raw = [r for r in dict.fromkeys(i.raw_indicator for i in items if i.raw_indicator is not None)]
    parts.append(indicators[raw].rename(columns=lambda c: f"{tf}_{c}"))
    return pd.concat(parts, axis=1)


def align_to_base(features: pd.DataFrame, timeframe: str, base_index: pd.DatetimeIndex) -> pd.DataFrame:
    """Place higher-timeframe rows on base bars, each visible only once its bar has closed.

    A bar opening at T with duration D becomes visible at base bars whose timestamp >= T + D, so
    no base row ever sees a higher-timeframe bar that was still forming.
    """
    closed_at = features.index + pd.Timedelta(minutes=TIMEFRAME_MINUTES[timeframe])
    shifted = features.set_axis(closed_at)
    shifted = shifted[~shifted.index.duplicated(keep="last")].sort_index()
    return shifted.reindex(base_index, method="ffill")


def build_features(strategy: StrategyConfig, frames: Mapping[str, pd.DataFrame],
                   *, context: Context | None = None, drop_warmup: bool = False) -> pd.DataFrame:
    """Feature matrix on the base timeframe's index with columns `feature_names(strategy)`.

    `frames` maps timeframe → OHLCV frame; `context` maps source id → context series for indicators
    with a `data_source`. Warm-up rows (any feature NaN) are kept as NaN so the matrix lines up with
    the base bars, unless `drop_warmup` removes them.
    """
    base = strategy.training_data.base
    timeframes = strategy.training_data.timeframe_list
    for tf in timeframes:
        if tf not in frames:
            raise StrategyError(f"no data for timeframe '{tf}'", path="training_data.timeframes",
                                value=sorted(frames), suggestion="pass a frame for every timeframe")
    base_index = frames[base].index
    parts = []
    for tf in timeframes:
        feats = _timeframe_features(strategy, frames[tf], tf, context or {})
        parts.append(feats if tf == base else align_to_base(feats, tf, base_index))
    matrix = pd.concat(parts, axis=1)[feature_names(strategy)]
    return matrix.dropna() if drop_warmup else matrix


def complete_rows(features: pd.DataFrame) -> pd.Series:
    """Boolean mask of rows where every feature is defined (past the warm-up)."""
    return features.notna().all(axis=1)
