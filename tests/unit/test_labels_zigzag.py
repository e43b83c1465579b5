"""ZigZag segment labels: whole legs between ZigZag extremes, as the reference indicator defines them."""

import numpy as np
import pytest

from ktrdr.training.errors import TrainingError
from ktrdr.training.labels import BUY, HOLD, SELL, zigzag_extremes, zigzag_labels
from ktrdr.training.labels.zigzag import label_horizons


def _indicator_reference(close: np.ndarray, threshold: float) -> np.ndarray:
    """The reference definition step by step: a price line with NaN off the extremes, then segment labels."""
    marks = np.full(len(close), np.nan)
    marks[0] = close[0]
    last, direction = 0, None
    for i in range(1, len(close)):
        pct = (close[i] - close[last]) / close[last]
        if direction is None and abs(pct) >= threshold:
            direction, marks[i], last = (1 if pct > 0 else -1), close[i], i
        elif direction == 1 and close[i] > close[last] or direction == -1 and close[i] < close[last]:
            marks[last], marks[i], last = np.nan, close[i], i
        elif direction == 1 and pct <= -threshold or direction == -1 and pct >= threshold:
            direction, marks[i], last = -direction, close[i], i
    labels = np.full(len(close), HOLD)
    ext = np.flatnonzero(~np.isnan(marks))
    for a, b in zip(ext[:-1], ext[1:]):
        for j in range(a + 1, b):
            labels[j] = BUY if marks[b] > marks[a] else SELL
    return labels


def test_worked_example_from_the_definition() -> None:
    # threshold 5%. Bar 0 (100) is the first extreme. 102 (+2%) and 98 (-2%) do not move 5% from 100;
    # 106 (+6%) opens an up leg; 110 is a new high; 108 is -1.8%; 103 is -6.4% from 110: the high at bar 4 is
    # fixed and a down leg opens at bar 6. 104 is neither lower nor +5%; 97 is a new low (bar 8); 99 and 100
    # are under +5% from 97; 106 (+9.3%) fixes bar 8 and opens an up leg at bar 11; 105 is -0.9%.
    # Extremes 0, 4, 8, 11: bars 1-3 rise (BUY, bar 2 too although it dips), 5-7 fall (SELL, bar 6 too: it was
    # the reversal bar but the low moved on), 9-10 rise; extremes and bar 12 after the last one are HOLD.
    close = np.array([100, 102, 98, 106, 110, 108, 103, 104, 97, 99, 100, 106, 105], dtype=float)
    expected = [HOLD, BUY, BUY, BUY, HOLD, SELL, SELL, SELL, HOLD, BUY, BUY, HOLD, HOLD]
    np.testing.assert_array_equal(zigzag_labels(close, zigzag_threshold=0.05).values, expected)
    ext = zigzag_extremes(close, 0.05)
    np.testing.assert_array_equal(ext.index, [0, 4, 8, 11])
    np.testing.assert_array_equal(ext.fixed_at, [0, 6, 11, 12])  # the running extreme is fixed only at the end


def test_no_move_of_threshold_means_all_hold() -> None:
    close = np.array([100, 101, 99, 100.5, 99.5], dtype=float)
    assert (zigzag_labels(close, zigzag_threshold=0.05).values == HOLD).all()


@pytest.mark.parametrize("seed,threshold", [(1, 0.01), (2, 0.02), (3, 0.05)])
def test_equals_the_reference_definition_on_random_walks(seed: int, threshold: float) -> None:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(scale=0.01, size=800)))
    np.testing.assert_array_equal(zigzag_labels(close, zigzag_threshold=threshold).values,
                                  _indicator_reference(close, threshold))


def test_changing_bars_after_a_labels_horizon_never_changes_it() -> None:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(scale=0.01, size=400)))
    labels = zigzag_labels(close, zigzag_threshold=0.02).values
    horizon = label_horizons(len(close), zigzag_extremes(close, 0.02))
    final = np.flatnonzero(horizon < len(close) - 1)
    assert len(final) > 300  # most labels are fixed well before the end
    for t in final[::7]:
        other, h = close.copy(), horizon[t]
        other[h + 1:] = other[h] * np.exp(np.cumsum(rng.normal(scale=0.03, size=len(close) - h - 1)))
        assert zigzag_labels(other, zigzag_threshold=0.02).values[t] == labels[t], t


def test_bad_inputs_are_reported() -> None:
    with pytest.raises(TrainingError, match="zigzag_threshold"):
        zigzag_labels(np.ones(10), zigzag_threshold=0.0)
    with pytest.raises(TrainingError, match="at least 3 bars"):
        zigzag_labels(np.ones(2))
    with pytest.raises(TrainingError, match="zero"):
        zigzag_labels(np.array([1.0, 0.0, 1.0]))


def test_a_move_of_exactly_the_threshold_counts() -> None:
    # (105 - 100) / 100 is exactly 0.05: bar 1 opens an up leg; (99.75 - 105) / 105 = -0.05 reverses it at bar 2.
    close = np.array([100, 105, 99.75, 99.75], dtype=float)
    np.testing.assert_array_equal(zigzag_extremes(close, 0.05).index, [0, 1, 2])
