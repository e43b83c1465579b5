"""decide(): class order, confidence threshold, minimum separation, position awareness."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ktrdr.backtesting import CLASSES, BacktestError, decide
from ktrdr.strategy.config import DecisionsConfig

B, H, S = (0.8, 0.1, 0.1), (0.1, 0.8, 0.1), (0.1, 0.1, 0.8)


def params(**overrides: object) -> SimpleNamespace:
    """Duck-typed DecisionsConfig with the schema's defaults."""
    fields = dict(output_format="classification", confidence_threshold=0.5, position_awareness=True,
                  short_from_flat=False, min_separation_bars=0)
    return SimpleNamespace(**(fields | overrides))


def naive(probs: np.ndarray, p: SimpleNamespace) -> np.ndarray:
    """Bar-by-bar statement of the rules, to check the vectorized version."""
    out, side, last = np.zeros(len(probs), np.int8), 0, None
    for i, row in enumerate(probs):
        label = CLASSES[int(np.argmax(row))]
        signal = {"BUY": 1, "HOLD": 0, "SELL": -1}[label] if row.max() >= p.confidence_threshold else 0
        if signal == 0 or (last is not None and i - last < p.min_separation_bars):
            continue
        if p.position_awareness:
            if signal == 1 and side == 1 or signal == -1 and (side == -1 or side == 0 and not p.short_from_flat):
                continue
            side += signal
        out[i], last = signal, i
    return out


def test_class_order_is_buy_hold_sell() -> None:
    assert CLASSES == ("BUY", "HOLD", "SELL")
    assert decide(np.array([B, H, S]), params(position_awareness=False)).tolist() == [1, 0, -1]


def test_low_confidence_is_hold() -> None:
    probs = np.array([(0.45, 0.3, 0.25), (0.6, 0.2, 0.2)])
    assert decide(probs, params(position_awareness=False)).tolist() == [0, 1]


def test_position_awareness_drops_repeats_and_shorts_from_flat() -> None:
    probs = np.array([S, B, B, S, S, B])
    assert decide(probs, params()).tolist() == [0, 1, 0, -1, 0, 1]
    assert decide(probs, params(short_from_flat=True)).tolist() == [-1, 1, 1, -1, -1, 1]


def test_minimum_separation_counts_from_the_last_emitted_signal() -> None:
    probs = np.array([B, S, S, B, S, B])
    got = decide(probs, params(position_awareness=False, min_separation_bars=2))
    assert got.tolist() == [1, 0, -1, 0, -1, 0]


def test_regression_output_and_bad_shapes_are_refused() -> None:
    with pytest.raises(BacktestError, match="output_format"):
        decide(np.array([B]), params(output_format="regression"))
    with pytest.raises(BacktestError) as info:
        decide(np.ones((3, 2)), params())
    assert info.value.field == "probabilities"


@settings(max_examples=80, deadline=None)
@given(
    labels=st.lists(st.integers(0, 2), min_size=1, max_size=80),
    confident=st.lists(st.booleans(), min_size=80, max_size=80),
    aware=st.booleans(), shorts=st.booleans(), separation=st.integers(0, 4),
)
def test_matches_bar_by_bar_rules(labels, confident, aware, shorts, separation) -> None:
    probs = np.full((len(labels), 3), 0.2)
    probs[np.arange(len(labels)), labels] = np.where(np.array(confident[: len(labels)]), 0.6, 0.4)
    p = params(position_awareness=aware, short_from_flat=shorts, min_separation_bars=separation)
    np.testing.assert_array_equal(decide(probs, p), naive(probs, p))


def test_accepts_the_strategy_decisions_struct() -> None:
    decisions = DecisionsConfig(short_from_flat=True, min_separation_bars=1)
    assert decide(np.array([S, H, B, B]), decisions).tolist() == [-1, 0, 1, 1]
