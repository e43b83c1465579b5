"""Training samples from one symbol or several, combined by the original's rules.

The original KTRDR builds each symbol's features and labels on that symbol's own bars (no indicator, label
or window reads across two symbols), requires the same feature columns for every symbol, and concatenates
the symbols in the strategy's list order, keeping time order within each and adding no symbol identity:
the model is symbol-agnostic. Here each symbol is also split chronologically on its own (with the embargo)
and the parts are concatenated part by part, so that validation and test hold every symbol's latest bars
rather than only the last symbol's (the original splits the concatenation, which tests on the last symbol).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ktrdr.strategy.config import StrategyConfig, label_span
from ktrdr.strategy.features import Context, build_features, complete_rows
from ktrdr.training.errors import TrainingError
from ktrdr.training.labels import LabelSet
from ktrdr.training.split import split_from_config
from ktrdr.training.targets import strategy_labels

Frames = Mapping[str, pd.DataFrame]
"""One symbol's bars: timeframe → OHLCV frame."""
PARTS = ("train", "validation", "test")


@dataclass(frozen=True)
class SymbolSamples:
    """One symbol's features (every base bar), labels, and the row numbers of each split part."""

    symbol: str
    features: pd.DataFrame
    labels: LabelSet
    parts: dict[str, np.ndarray]


@dataclass(frozen=True)
class Samples:
    """All symbols combined: features and labels row for row, global row numbers of each part."""

    source: str
    features: pd.DataFrame
    labels: LabelSet
    parts: dict[str, np.ndarray]
    embargo: int
    per_symbol: dict[str, dict[str, int]]
    """Symbol → samples per part (in the strategy's symbol order)."""


def by_symbol(cfg: StrategyConfig, frames: Frames | Mapping[str, Frames]) -> dict[str, Frames]:
    """{symbol: {timeframe: frame}}, given either that or one symbol's {timeframe: frame}."""
    symbols = cfg.training_data.symbol_list
    if all(isinstance(v, pd.DataFrame) for v in frames.values()):
        if len(symbols) > 1:
            raise TrainingError(f"frames of one symbol were given for the symbols {symbols}", field="frames",
                                hint="pass {symbol: {timeframe: frame}} for a multi-symbol strategy")
        return {symbols[0]: frames}  # type: ignore[dict-item]
    missing = [s for s in symbols if s not in frames]
    if missing:
        raise TrainingError(f"no frames for {missing}", field="frames", hint=f"load data for {symbols}")
    return {s: frames[s] for s in symbols}  # type: ignore[misc]


def symbol_samples(cfg: StrategyConfig, symbol: str, frames: Frames, context: Context | None) -> SymbolSamples:
    """Features, labels and the chronological split of one symbol's bars."""
    base = cfg.training_data.base
    if base not in frames or len(frames[base]) == 0:
        raise TrainingError(f"no rows for {symbol} on the base timeframe {base!r}", field="frames",
                            hint=f"load data for {symbol} {cfg.training_data.timeframe_list}")
    features = build_features(cfg, frames, context=context)
    _, labels = strategy_labels(cfg, frames[base])
    rows = np.flatnonzero(complete_rows(features).to_numpy() & labels.mask)
    try:
        split = split_from_config(len(rows), cfg.training.data_split, label_span(cfg.training.labels))
    except TrainingError as exc:
        raise TrainingError(f"{symbol}: {exc.message}", field=exc.field, hint=exc.hint) from None
    return SymbolSamples(symbol, features, labels, {p: rows[getattr(split, p)] for p in PARTS})


def _concat_labels(sets: list[LabelSet]) -> LabelSet:
    """Label sets of several symbols, row for row after one another."""
    first = sets[0]

    def cat(name: str) -> np.ndarray | None:
        arrays = [getattr(s, name) for s in sets]
        return None if any(a is None for a in arrays) else np.concatenate(arrays)

    return LabelSet(values=np.concatenate([s.values for s in sets]), classes=first.classes, weights=cat("weights"),
                    holding=cat("holding"), weighting=first.weighting)


def combine(cfg: StrategyConfig, frames: Frames | Mapping[str, Frames], context: Context | None = None) -> Samples:
    """Every symbol's samples, concatenated in the strategy's symbol order (see the module docstring)."""
    parts = [symbol_samples(cfg, s, f, context) for s, f in by_symbol(cfg, frames).items()]
    columns = {tuple(p.features.columns) for p in parts}
    if len(columns) != 1:  # one strategy gives one column list; a mismatch would silently mix inputs
        raise TrainingError(f"symbols have different feature columns: {sorted(columns)}", field="features")
    offsets = np.cumsum([0] + [len(p.features) for p in parts[:-1]])
    merged = {name: np.concatenate([p.parts[name] + off for p, off in zip(parts, offsets)]) for name in PARTS}
    features = pd.concat([p.features for p in parts], ignore_index=True)
    embargo = cfg.training.data_split.embargo_bars
    source = cfg.training.labels.source
    return Samples(source=source, features=features, labels=_concat_labels([p.labels for p in parts]),
                   parts=merged, embargo=label_span(cfg.training.labels) if embargo is None else embargo,
                   per_symbol={p.symbol: {k: len(v) for k, v in p.parts.items()} for p in parts})
