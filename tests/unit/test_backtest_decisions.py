"""decide(): class order, confidence threshold, minimum separation, position awareness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ktrdr.backtesting import CLASSES, BacktestError, decide
from ktrdr.backtesting.decisions import DecisionRule, decision_rule

B, H, S = (0.8, 0.1, 0.1), (0.1, 0.8, 0.1), (0.1, 0.1, 0.8)


def naive(probs: np.ndarray, p: DecisionRule) -> np.ndarray:
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
    assert decide(np.array([B, H, S]), DecisionRule(position_awareness=False)).tolist() == [1, 0, -1]


def test_low_confidence_is_hold() -> None:
    probs = np.array([(0.45, 0.3, 0.25), (0.6, 0.2, 0.2)])
    assert decide(probs, DecisionRule(position_awareness=False)).tolist() == [0, 1]


def test_position_awareness_drops_repeats_and_shorts_from_flat() -> None:
    probs = np.array([S, B, B, S, S, B])
    assert decide(probs, DecisionRule()).tolist() == [0, 1, 0, -1, 0, 1]
    assert decide(probs, DecisionRule(short_from_flat=True)).tolist() == [-1, 1, 1, -1, -1, 1]


def test_minimum_separation_counts_from_the_last_emitted_signal() -> None:
    probs = np.array([B, S, S, B, S, B])
    got = decide(probs, DecisionRule(position_awareness=False, min_separation_bars=2))
    assert got.tolist() == [1, 0, -1, 0, -1, 0]


def test_unknown_output_and_bad_shapes_are_refused() -> None:
    with pytest.raises(BacktestError, match="output_format"):
        decide(np.array([B]), DecisionRule(output_format="ranking"))
    with pytest.raises(BacktestError) as wide:
        decide(np.array([B]), DecisionRule(output_format="regression"))
    assert wide.value.field == "predictions"
    with pytest.raises(BacktestError) as info:
        decide(np.ones((3, 2)), DecisionRule())
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
    p = DecisionRule(position_awareness=aware, short_from_flat=shorts, min_separation_bars=separation)
    np.testing.assert_array_equal(decide(probs, p), naive(probs, p))


def test_reads_the_strategy_decisions_section_with_the_original_meaning() -> None:
    from ktrdr.strategy.config import CostModel, DecisionsConfig, FiltersConfig

    # filters.min_signal_separation is hours since the last fill (the bar after its signal).
    decisions = DecisionsConfig(allow_short_from_flat=True, filters=FiltersConfig(min_signal_separation=1))
    hourly = pd.date_range("2024-01-01", periods=4, freq="h", tz="UTC")
    assert decide(np.array([S, H, B, B]), decisions, hourly).tolist() == [-1, 0, 1, 0]
    assert decision_rule(DecisionsConfig()) == DecisionRule(min_separation_hours=4.0)
    cost = CostModel(round_trip_cost=0.0002, min_edge_multiplier=2.0)
    regression = DecisionsConfig(output_format="regression", cost_model=cost)
    # The SELL comes 1 h after the BUY's fill: within the default 4 h, so held; without separation, a trade.
    assert decide(np.array([0.0004, 0.00041, -0.0005]), regression, hourly[:3]).tolist() == [0, 1, 0]
    free = DecisionsConfig(output_format="regression", cost_model=cost, filters=FiltersConfig(min_signal_separation=0))
    assert decide(np.array([0.0004, 0.00041, -0.0005]), free, hourly[:3]).tolist() == [0, 1, -1]


def test_regression_trades_only_where_the_return_clears_the_costs() -> None:
    # Threshold = 0.003 × 1.5 = 0.0045 by the original's defaults; equal to it does not clear it.
    predicted = np.array([0.0045, 0.00451, -0.00451, -0.0045, np.nan, 0.02, 0.001])
    free = DecisionRule(output_format="regression", position_awareness=False)
    assert decide(predicted, free).tolist() == [0, 1, -1, 0, 0, 1, 0]
    strict = DecisionRule(output_format="regression", position_awareness=False, round_trip_cost=0.01,
                          min_edge_multiplier=2.0)
    assert decide(predicted[:, None], strict).tolist() == [0, 0, 0, 0, 0, 0, 0]
    assert decide(np.array([0.0151, 0.03, -0.03]), strict).tolist() == [0, 1, -1]


def test_regression_may_short_from_flat_and_ignores_the_confidence_threshold() -> None:
    rule = DecisionRule(output_format="regression", short_from_flat=False, confidence_threshold=0.99)
    assert decide(np.array([-0.01, -0.01, 0.01, 0.01, 0.01]), rule).tolist() == [-1, 0, 1, 1, 0]


def original_separation(raw: np.ndarray, times: pd.DatetimeIndex, hours: float, aware: bool,
                        shorts: bool) -> np.ndarray:
    """The original's bar loop: a signal fills at the next bar; separation counts from the last fill."""
    out, side, last_fill, pending = np.zeros(len(raw), np.int8), 0, None, 0
    for i, signal in enumerate(raw.tolist()):
        if pending:
            moved = side + pending if (pending == 1 and side <= 0) or (pending == -1 and (
                side == 1 or side == 0 and shorts)) else None
            if moved is not None:
                side, last_fill = moved, times[i]
            pending = 0
        if not signal or (last_fill is not None and (times[i] - last_fill).total_seconds() / 3600 < hours):
            continue
        redundant = signal == side or (signal == -1 and side == 0 and not shorts)
        if aware and redundant:
            continue
        out[i] = pending = signal
    return out


@settings(max_examples=80, deadline=None)
@given(raw=st.lists(st.sampled_from([-1, 0, 0, 1]), min_size=1, max_size=60),
       gaps=st.lists(st.sampled_from([1, 1, 2, 3, 5]), min_size=60, max_size=60),
       hours=st.sampled_from([0.5, 1.0, 2.0, 4.0, 7.5]), aware=st.booleans(), shorts=st.booleans())
def test_separation_in_hours_counts_from_the_last_fill(raw, gaps, hours, aware, shorts) -> None:
    signals = np.array(raw, dtype=np.int8)
    times = pd.DatetimeIndex(pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        np.cumsum(gaps[: len(raw)]), unit="h"))
    probs = np.full((len(raw), 3), 0.1)
    probs[np.arange(len(raw)), 1 - signals] = 0.8  # column 0 BUY, 1 HOLD, 2 SELL
    rule = DecisionRule(position_awareness=aware, short_from_flat=shorts, min_separation_hours=hours)
    np.testing.assert_array_equal(decide(probs, rule, times), original_separation(signals, times, hours, aware,
                                                                                  shorts))


def test_separation_in_hours_needs_the_timestamps() -> None:
    with pytest.raises(BacktestError) as info:
        decide(np.array([B, S]), DecisionRule(min_separation_hours=4))
    assert info.value.field == "times"
