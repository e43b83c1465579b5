"""Forward-return and context labels, the label-source table, and the current LabelConfig's labels."""

import inspect

import numpy as np
import pandas as pd
import pytest

from ktrdr.strategy.config import LabelConfig
from ktrdr.training.errors import TrainingError
from ktrdr.training.labels import (BUY, CLASSES, HOLD, LABEL_SOURCES, SELL, UNLABELED, compute_labels,
                                   context_labels, forward_return_labels, label_span, labeled_mask, make_labels)
from ktrdr.training.synthetic import planted_ohlcv


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


def test_table_lists_each_source_with_the_parameters_its_function_takes() -> None:
    assert set(LABEL_SOURCES) == {"zigzag", "triple_barrier", "regime", "context", "forward_return"}
    for source in LABEL_SOURCES.values():
        accepted = set(inspect.signature(source.function).parameters) - {"frame"}
        assert set(source.parameters) == accepted
    assert {"profit_target_atr", "vol_method", "compute_weights", "cusum_threshold"} <= \
        set(LABEL_SOURCES["triple_barrier"].parameters)
    assert LABEL_SOURCES["forward_return"].output == "regression"
    assert LABEL_SOURCES["regime"].classes is not None and len(LABEL_SOURCES["regime"].classes) == 4


def test_dispatch_passes_parameters_and_rejects_unknown_ones() -> None:
    frame = planted_ohlcv(300)
    direct = forward_return_labels(frame, horizon=7).values
    np.testing.assert_array_equal(compute_labels(frame, "forward_return", {"horizon": 7}).values, direct)
    with pytest.raises(TrainingError, match="did you mean 'horizon'"):
        compute_labels(frame, "forward_return", {"horizn": 7})
    with pytest.raises(TrainingError, match="did you mean 'zigzag'"):
        compute_labels(frame, "zigzg")
    for name in LABEL_SOURCES:  # every source runs on plain OHLCV with its defaults
        out = compute_labels(frame, name, {"max_holding_period": 20, "vol_span": 20} if name == "triple_barrier" else {})
        assert len(out.values) == len(frame) and out.mask.any()


def test_span_is_the_lookahead_each_source_states() -> None:
    assert label_span("triple_barrier", {"max_holding_bars": 24}) == 24
    assert label_span("triple_barrier", {}) == 50
    assert label_span("forward_return", {"horizon": 20}) == 20
    assert label_span("zigzag", {"label_lookahead": 12, "zigzag_threshold": 0.02}) == 12


def test_current_label_config_uses_the_segment_zigzag_and_forward_returns() -> None:
    close = pd.Series(100 * np.exp(np.linspace(0, 0.3, 50)))
    zz = make_labels(close.to_numpy(), LabelConfig(method="zigzag", threshold=0.05, lookahead=10), "classification")
    assert zz.dtype.kind == "i" and zz[0] == HOLD and (zz[5:-1] == BUY).all()  # one rising leg from bar 0
    fr = make_labels(close.to_numpy(), LabelConfig(method="forward_return", horizon=4), "regression")
    assert fr.dtype.kind == "f" and np.isnan(fr[-4:]).all()
    classes = make_labels(np.array([100, 110, 99, 99, 120.0]), LabelConfig(method="forward_return", horizon=2,
                                                                          threshold=0.05), "classification")
    np.testing.assert_array_equal(classes, [HOLD, SELL, BUY, UNLABELED, UNLABELED])
    with pytest.raises(TrainingError, match="regression"):
        make_labels(close.to_numpy(), LabelConfig(method="zigzag"), "regression")
