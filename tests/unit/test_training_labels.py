"""Forward-return and context labels, the table of label functions, and a strategy's labels from its config."""

import inspect

import msgspec
import numpy as np
import pytest

from ktrdr.strategy import load_strategy
from ktrdr.strategy.labels_config import LABEL_SOURCES, TripleBarrierLabels
from ktrdr.training.errors import TrainingError
from ktrdr.training.labels import (BUY, CLASSES, HOLD, LABEL_FUNCTIONS, SELL, UNLABELED, compute_labels,
                                   context_labels, forward_return_classes, forward_return_labels, labeled_mask,
                                   triple_barrier_labels)
from ktrdr.training.synthetic import planted_ohlcv
from ktrdr.training.targets import CONFIG_ONLY, label_params, strategy_labels


def test_class_order_is_buy_hold_sell() -> None:
    assert CLASSES == ("BUY", "HOLD", "SELL") and (BUY, HOLD, SELL) == (0, 1, 2)


def test_forward_return_worked_example() -> None:
    # horizon 2: (99-100)/100, (99-110)/110, (120-99)/99; the last 2 bars have no future.
    close = np.array([100, 110, 99, 99, 120], dtype=float)
    out = forward_return_labels(close, horizon=2)
    np.testing.assert_allclose(out.values[:3], [-0.01, -0.1, 21 / 99])
    assert np.isnan(out.values[3:]).all() and out.output == "regression" and out.classes is None
    np.testing.assert_array_equal(labeled_mask(out.values), [True, True, True, False, False])


def test_context_worked_example() -> None:
    # horizon 1, thresholds ±0.5%: +1% BULLISH (0), -0.99% BEARISH (1), +0.2% NEUTRAL (2), last bar none.
    close = np.array([100, 101, 100, 100.2], dtype=float)
    out = context_labels(close, horizon=1)
    np.testing.assert_array_equal(out.values, [0, 1, 2, UNLABELED])
    assert out.classes == ("BULLISH", "BEARISH", "NEUTRAL")


def test_return_labels_reject_bad_input() -> None:
    with pytest.raises(TrainingError, match="horizon"):
        forward_return_labels(np.ones(10), horizon=0)
    with pytest.raises(TrainingError, match="more than horizon=20"):
        forward_return_labels(np.ones(10))
    with pytest.raises(TrainingError, match="zero"):
        context_labels(np.array([1.0, 0.0, 2.0]))


def test_forward_return_classes_bucket_by_threshold() -> None:
    # horizon 2, threshold 5%: -1% HOLD, -10% SELL, +21.2% BUY, then no future.
    out = forward_return_classes(np.array([100, 110, 99, 99, 120.0]), horizon=2, threshold=0.05)
    np.testing.assert_array_equal(out.values, [HOLD, SELL, BUY, UNLABELED, UNLABELED])


def test_every_config_source_has_a_function_taking_its_fields_with_the_same_defaults() -> None:
    assert set(LABEL_FUNCTIONS) == set(LABEL_SOURCES)
    for name, struct in LABEL_SOURCES.items():
        entry = LABEL_FUNCTIONS[name]
        fields = set(struct.__struct_fields__) - {"source"} - CONFIG_ONLY.get(name, frozenset())
        assert fields == set(entry.parameters), name
        defaults = struct()
        for param, value in entry.defaults().items():
            assert value is None or getattr(defaults, param) == value, (name, param)
        accepted = set(inspect.signature(entry.function).parameters) - {"frame"}
        assert set(entry.parameters) == accepted


def test_dispatch_passes_parameters_and_rejects_unknown_ones() -> None:
    frame = planted_ohlcv(300)
    direct = forward_return_labels(frame, horizon=7).values
    np.testing.assert_array_equal(compute_labels(frame, "forward_return", {"horizon": 7}).values, direct)
    with pytest.raises(TrainingError, match="did you mean 'horizon'"):
        compute_labels(frame, "forward_return", {"horizn": 7})
    with pytest.raises(TrainingError, match="did you mean 'zigzag'"):
        compute_labels(frame, "zigzg")
    for name in LABEL_FUNCTIONS:  # every source runs on plain OHLCV with its defaults
        params = {"max_holding_period": 20, "vol_span": 20} if name == "triple_barrier" else {}
        out = compute_labels(frame, name, params)
        assert len(out.values) == len(frame) and out.mask.any()


STRATEGY = """
name: labels_from_config
version: "3.0"
training_data:
  symbols: {mode: single, symbol: SYNTH}
  timeframes: {mode: single, timeframe: 1h}
indicators:
  rsi_7: {type: rsi, period: 7}
fuzzy_sets:
  rsi_7: {indicator: rsi_7, low: [0, 0, 50], high: [50, 100, 100]}
nn_inputs:
  - {fuzzy_set: rsi_7, timeframes: all}
model: {type: mlp, architecture: {hidden_layers: [8]}}
decisions: {output_format: %s}
training:
  labels: %s
"""


def _cfg(labels: str, output_format: str = "classification"):
    return load_strategy(STRATEGY % (output_format, labels))


def test_strategy_labels_follow_the_source_and_its_atr_spelling() -> None:
    frame = planted_ohlcv(400)
    source, out = strategy_labels(_cfg("{source: triple_barrier, profit_target_atr: 2.0, stop_loss_atr: 1.0, "
                                       "max_holding_bars: 12, atr_period: 14, compute_weights: true}"), frame)
    direct = triple_barrier_labels(frame, pt_multiplier=2.0, sl_multiplier=1.0, max_holding_period=12, vol_span=14)
    assert source == "triple_barrier" and out.weighting == "uniqueness"
    np.testing.assert_array_equal(out.values, direct.values)
    with pytest.raises(TrainingError, match="only one"):
        strategy_labels(_cfg("{source: triple_barrier, pt_multiplier: 3.0, profit_target_atr: 2.0}"), frame)
    assert label_params(TripleBarrierLabels(vol_span=20)) == {"vol_span": 20}


def test_strategy_labels_match_the_output_format() -> None:
    frame = planted_ohlcv(300)
    regression = "regression, cost_model: {round_trip_cost: 0.003, min_edge_multiplier: 1.5}"
    source, out = strategy_labels(_cfg("{source: forward_return, horizon: 4}", regression), frame)
    assert source == "forward_return" and out.output == "regression" and np.isnan(out.values[-4:]).all()
    _, classes = strategy_labels(_cfg("{source: forward_return, horizon: 4, threshold: 0.01}"), frame)
    assert classes.classes == CLASSES and (classes.values[-4:] == UNLABELED).all()
    # The loader refuses this pair; a config built in code meets the same rule here.
    zigzag = _cfg("{source: zigzag}")
    wrong = msgspec.structs.replace(zigzag, decisions=msgspec.structs.replace(zigzag.decisions,
                                                                              output_format="regression"))
    with pytest.raises(TrainingError, match="regression"):
        strategy_labels(wrong, frame)
