"""Zigzag and forward-return labels: first threshold crossing wins, no label without a full future."""

import numpy as np
import pytest

from ktrdr.strategy.config import ContextLabels, ForwardReturnLabels, RegimeLabels, TripleBarrierLabels, ZigzagLabels
from ktrdr.training.errors import TrainingError
from ktrdr.training.labels import (BUY, CLASSES, HOLD, SELL, UNLABELED, forward_return_classes,
                                   forward_return_labels, labeled_mask, make_labels, zigzag_labels)


def _zigzag_reference(close: np.ndarray, threshold: float, lookahead: int) -> np.ndarray:
    out = np.full(len(close), UNLABELED)
    for t in range(len(close) - lookahead):
        out[t] = HOLD
        for k in range(1, lookahead + 1):
            r = close[t + k] / close[t] - 1
            if r >= threshold:
                out[t] = BUY
                break
            if r <= -threshold:
                out[t] = SELL
                break
    return out


def test_class_order_is_buy_hold_sell() -> None:
    assert CLASSES == ("BUY", "HOLD", "SELL") and (BUY, HOLD, SELL) == (0, 1, 2)


def test_zigzag_first_crossing_wins() -> None:
    close = np.array([100, 101, 103, 99, 96, 96, 96, 96], dtype=float)
    labels = zigzag_labels(close, threshold=0.025, lookahead=3)
    assert labels[0] == BUY          # +3% at t+2 comes before -4% at t+4 (outside the window anyway)
    assert labels[1] == SELL         # 101 → 96.0 is -4.95% at t+3 while the +1.98% rise stays under threshold
    assert labels[4] == HOLD         # flat
    assert (labels[-3:] == UNLABELED).all()


def test_zigzag_matches_loop_reference_on_random_walk() -> None:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(scale=0.01, size=500)))
    for threshold, lookahead in [(0.01, 5), (0.02, 20), (0.05, 3)]:
        np.testing.assert_array_equal(zigzag_labels(close, threshold, lookahead),
                                      _zigzag_reference(close, threshold, lookahead))


def test_zigzag_label_ignores_bars_beyond_lookahead() -> None:
    close = np.full(30, 100.0)
    before = zigzag_labels(close, 0.02, 5)
    close[10:] = 200.0               # a jump at bar 10 is visible only to t >= 5
    after = zigzag_labels(close, 0.02, 5)
    np.testing.assert_array_equal(after[:5], before[:5])
    assert (after[5:10] == BUY).all()


def test_short_series_and_bad_parameters() -> None:
    assert (zigzag_labels(np.ones(3), 0.01, 5) == UNLABELED).all()
    with pytest.raises(TrainingError):
        zigzag_labels(np.ones(10), 0.0, 5)
    with pytest.raises(TrainingError):
        forward_return_labels(np.ones(10), 0)


def test_forward_returns_and_classes() -> None:
    close = np.array([100, 110, 99, 99, 120], dtype=float)
    r = forward_return_labels(close, 2)
    np.testing.assert_allclose(r[:3], [-0.01, -0.1, 120 / 99 - 1])
    assert np.isnan(r[3:]).all()
    classes = forward_return_classes(close, 2, 0.05)
    np.testing.assert_array_equal(classes, [HOLD, SELL, BUY, UNLABELED, UNLABELED])
    np.testing.assert_array_equal(labeled_mask(r), [True, True, True, False, False])
    np.testing.assert_array_equal(labeled_mask(classes), [True, True, True, False, False])


def test_make_labels_follows_config_and_rejects_zigzag_regression() -> None:
    close = 100 + np.arange(50, dtype=float)
    zz = make_labels(close, ZigzagLabels(zigzag_threshold=0.05, label_lookahead=10), "classification")
    assert zz.dtype.kind == "i" and (zz[-10:] == UNLABELED).all()
    fr = make_labels(close, ForwardReturnLabels(horizon=4), "regression")
    assert fr.dtype.kind == "f" and np.isnan(fr[-4:]).all()
    with pytest.raises(TrainingError, match="regression"):
        make_labels(close, ZigzagLabels(), "regression")


@pytest.mark.parametrize("labels", [TripleBarrierLabels(), RegimeLabels(), ContextLabels()],
                         ids=lambda c: c.source)
def test_sources_without_a_labeler_yet_fail_naming_the_source(labels) -> None:
    with pytest.raises(TrainingError, match=f"'{labels.source}' labels is not yet supported") as info:
        make_labels(100 + np.arange(50, dtype=float), labels, "classification")
    assert info.value.field == "training.labels.source"
