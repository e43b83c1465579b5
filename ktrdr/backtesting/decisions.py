"""Decisions: turn a model's class probabilities into per-bar BUY/HOLD/SELL signals."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ktrdr.backtesting.book import BUY, HOLD, SELL, first_two_of_runs, next_side
from ktrdr.backtesting.errors import BacktestError

# Column order of the probabilities a classification model emits (and of its training labels).
CLASSES = ("BUY", "HOLD", "SELL")
_SIGNAL_OF_CLASS = np.array([BUY, HOLD, SELL], dtype=np.int8)


class DecisionParams(Protocol):
    """What decide() reads; ktrdr.strategy.config.DecisionsConfig has these attributes."""

    output_format: str
    confidence_threshold: float
    position_awareness: bool
    short_from_flat: bool
    min_separation_bars: int


def decide(probabilities: np.ndarray, decisions: DecisionParams) -> np.ndarray:
    """Signals (+1 BUY, -1 SELL, 0 HOLD; int8, one per row) from (n, 3) probabilities in CLASSES order."""
    if decisions.output_format != "classification":
        raise BacktestError(f"output_format {decisions.output_format!r} is not supported by decide()",
                            field="decisions.output_format", hint="use output_format: classification")
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(CLASSES) or not np.isfinite(probs).all():
        raise BacktestError(f"probabilities must be a finite (n, 3) array, got shape {probs.shape}",
                            field="probabilities", hint=f"columns are {CLASSES}")
    best = np.argmax(probs, axis=1)
    raw = _SIGNAL_OF_CLASS[best]
    # A prediction below the threshold is not acted upon.
    raw[probs[np.arange(len(probs)), best] < decisions.confidence_threshold] = HOLD
    if not decisions.position_awareness and decisions.min_separation_bars <= 0:
        return raw
    return _filter(raw, decisions)


def _filter(raw: np.ndarray, decisions: DecisionParams) -> np.ndarray:
    """Apply minimum separation and position awareness, visiting only the non-HOLD bars."""
    bars = np.flatnonzero(raw)
    separation = decisions.min_separation_bars
    if separation <= 0:
        bars = bars[first_two_of_runs(raw[bars])]
    out = np.zeros_like(raw)
    side, last = 0, -separation - 1
    for bar, signal in zip(bars.tolist(), raw[bars].tolist()):
        if bar - last < separation:
            continue
        if decisions.position_awareness:
            target = next_side(side, signal, decisions.short_from_flat)
            if target is None:
                continue
            side = target
        out[bar], last = signal, bar
    return out
