"""Decisions: turn a model's outputs into per-bar BUY/HOLD/SELL signals.

Classification: the most probable of CLASSES, if at least `confidence_threshold`. Regression: the original
KTRDR's cost model, BUY/SELL only where the predicted return clears round_trip_cost × min_edge_multiplier.
Then the filters: minimum separation (in bars from the last emitted signal, and in hours from the fill of the
last trade, as the original's `filters.min_signal_separation`) and position awareness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ktrdr.backtesting.book import BUY, HOLD, SELL, first_two_of_runs, next_side
from ktrdr.backtesting.costs import (DEFAULT_MIN_EDGE_MULTIPLIER, DEFAULT_ROUND_TRIP_COST, regression_signals,
                                    trade_threshold)
from ktrdr.backtesting.errors import BacktestError
from ktrdr.strategy.config import CostModel, DecisionsConfig

# Column order of the probabilities a classification model emits (and of its training labels).
CLASSES = ("BUY", "HOLD", "SELL")
_SIGNAL_OF_CLASS = np.array([BUY, HOLD, SELL], dtype=np.int8)
_NS_PER_HOUR = 3_600_000_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionRule:
    """Every decision setting as a plain value (defaults: the original's, but no separation)."""

    output_format: str = "classification"
    confidence_threshold: float = 0.5
    position_awareness: bool = True
    short_from_flat: bool = False
    min_separation_bars: int = 0
    min_separation_hours: float = 0.0
    round_trip_cost: float = DEFAULT_ROUND_TRIP_COST
    min_edge_multiplier: float = DEFAULT_MIN_EDGE_MULTIPLIER

    @property
    def shorts_from_flat(self) -> bool:
        """Whether SELL while flat opens a short: always for regression models, as in the original."""
        return self.short_from_flat or self.output_format == "regression"

    @property
    def filtered(self) -> bool:
        """Whether any filter can drop a raw signal."""
        return self.position_awareness or self.min_separation_bars > 0 or self.min_separation_hours > 0


def decision_rule(decisions: DecisionsConfig | DecisionRule) -> DecisionRule:
    """The plain rule of a strategy's `decisions` section (a DecisionRule is returned as is).

    `filters.min_signal_separation` is in hours, as in the original; `cost_model` absent means its defaults.
    """
    if isinstance(decisions, DecisionRule):
        return decisions
    cost = decisions.cost_model or CostModel()
    return DecisionRule(output_format=decisions.output_format, confidence_threshold=decisions.confidence_threshold,
                        position_awareness=decisions.position_awareness,
                        short_from_flat=decisions.allow_short_from_flat,
                        min_separation_hours=float(decisions.filters.min_signal_separation),
                        round_trip_cost=cost.round_trip_cost, min_edge_multiplier=cost.min_edge_multiplier)


def decide(outputs: np.ndarray, decisions: DecisionsConfig | DecisionRule,
           times: pd.DatetimeIndex | None = None) -> np.ndarray:
    """Signals (+1 BUY, -1 SELL, 0 HOLD; int8, one per row) from model outputs.

    `outputs` are (n, 3) probabilities in CLASSES order for classification, (n,) or (n, 1) predicted returns
    for regression. `times` (the bars' timestamps) are needed only for a separation in hours.
    """
    rule = decision_rule(decisions)
    if rule.output_format == "regression":
        raw = regression_signals(outputs, trade_threshold(rule.round_trip_cost, rule.min_edge_multiplier))
    elif rule.output_format == "classification":
        raw = _classify(outputs, rule.confidence_threshold)
    else:
        raise BacktestError(f"output_format {rule.output_format!r} is not supported by decide()",
                            field="decisions.output_format", hint="use classification or regression")
    if not rule.filtered:
        return raw
    if rule.min_separation_hours > 0 and (times is None or len(times) != len(raw)):
        raise BacktestError("a separation in hours needs one timestamp per bar", field="times",
                            hint="pass the base frame's index as `times`")
    clock = times.as_unit("ns").asi8 if times is not None and rule.min_separation_hours > 0 else None
    return _filter(raw, rule, clock)


def _classify(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """The most probable class as a signal; HOLD where its probability is below `threshold`."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(CLASSES) or not np.isfinite(probs).all():
        raise BacktestError(f"probabilities must be a finite (n, 3) array, got shape {probs.shape}",
                            field="probabilities", hint=f"columns are {CLASSES}")
    best = np.argmax(probs, axis=1)
    raw = _SIGNAL_OF_CLASS[best]
    raw[probs[np.arange(len(probs)), best] < threshold] = HOLD
    return raw


def _filter(raw: np.ndarray, rule: DecisionRule, clock: np.ndarray | None) -> np.ndarray:
    """Apply minimum separation and position awareness, visiting only the non-HOLD bars.

    The position is tracked even without position awareness: a signal that changes it is a trade, and the
    separation in hours counts from that trade's fill at the next bar's open (the original's last_signal_time).
    """
    bars = np.flatnonzero(raw)
    if rule.position_awareness and rule.min_separation_bars <= 0 and rule.min_separation_hours <= 0:
        # A third equal signal can change nothing, unless a separation held back one of the first two.
        bars = bars[first_two_of_runs(raw[bars])]
    out = np.zeros_like(raw)
    side, last, free_at = 0, -rule.min_separation_bars - 1, np.iinfo(np.int64).min
    wait = int(rule.min_separation_hours * _NS_PER_HOUR)
    for bar, signal in zip(bars.tolist(), raw[bars].tolist()):
        if bar - last < rule.min_separation_bars or (clock is not None and clock[bar] < free_at):
            continue
        target = next_side(side, signal, rule.shorts_from_flat)
        if target is None and rule.position_awareness:
            continue
        out[bar], last = signal, bar
        if target is not None:
            side = target
            if clock is not None and bar + 1 < len(clock):
                free_at = int(clock[bar + 1]) + wait
    return out
