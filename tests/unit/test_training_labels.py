"""Forward-return and context labels, and the table of label functions matching the label config structs."""

import inspect

import numpy as np
import pytest

from ktrdr.strategy.labels_config import LABEL_SOURCES
from ktrdr.training.errors import TrainingError
from ktrdr.training.labels import (BUY, CLASSES, HOLD, LABEL_FUNCTIONS, SELL, UNLABELED, compute_labels,
                                   context_labels, forward_return_classes, forward_return_labels, labeled_mask,
                                   regime_labels)
from ktrdr.training.synthetic import planted_ohlcv
from ktrdr.training.targets import CONFIG_ONLY


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


@pytest.mark.parametrize("label,horizon", [
    (lambda c: forward_return_labels(c, horizon=6).values, 6),
    (lambda c: context_labels(c, horizon=6).values, 6),
    (lambda c: regime_labels(c, horizon=6, vol_lookback=20).values, 6),
])
def test_changing_bars_after_the_horizon_never_changes_a_label(label, horizon: int) -> None:
    rng = np.random.default_rng(8)
    close = 100 * np.exp(np.cumsum(rng.normal(scale=0.01, size=200)))
    before = label(close)
    for t in (25, 90, 170):
        other = close.copy()
        other[t + horizon + 1:] *= rng.uniform(0.5, 1.5, size=len(close) - t - horizon - 1)
        np.testing.assert_array_equal(label(other)[:t + 1], before[:t + 1])
