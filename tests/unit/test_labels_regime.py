"""Regime labels (signed efficiency + volatility ratio) and multi-scale ZigZag regime labels, worked by hand."""

import numpy as np
import pandas as pd
import pytest

from ktrdr.training.errors import TrainingError
from ktrdr.training.labels import UNLABELED, multi_scale_regime_labels, regime_labels, zigzag_extremes
from ktrdr.training.labels.multiscale import atr_threshold, classify_segments, progresses
from ktrdr.training.labels.regime import RANGING, TRENDING_DOWN, TRENDING_UP, VOLATILE

# Log returns .01 -.01 .03 -.03 .01 .01 .01 from 100: closes 100·e^x for x = 0, .01, 0, .03, 0, .01, .02, .03.
LOG_RETURNS = [0.01, -0.01, 0.03, -0.03, 0.01, 0.01, 0.01]
CLOSE = 100 * np.exp(np.cumsum([0.0, *LOG_RETURNS]))


def test_regime_worked_example() -> None:
    # horizon 2, vol_lookback 2: labels for t in [2, 6).
    # t=2: returns ahead (.03, -.03) vs behind (.01, -.01): std ratio 3 > 2 → VOLATILE.
    # t=3: ahead (-.03, .01), behind (-.01, .03): ratio 1; SER = (c5 - c3) / (|c4 - c3| + |c5 - c4|)
    #      = (101.005 - 103.045) / (3.045 + 1.005) = -0.504 < -0.3 → TRENDING_DOWN.
    # t=4, t=5: two equal rises: SER = 1 → TRENDING_UP (ahead std 0 → ratio 0).
    out = regime_labels(CLOSE, horizon=2, vol_lookback=2, trending_threshold=0.3, vol_crisis_threshold=2.0)
    np.testing.assert_array_equal(out.values, [UNLABELED, UNLABELED, VOLATILE, TRENDING_DOWN, TRENDING_UP,
                                               TRENDING_UP, UNLABELED, UNLABELED])
    # Without the volatility override t=2 (net move 0 over the path .03, -.03) is RANGING.
    calm = regime_labels(CLOSE, horizon=2, vol_lookback=2, vol_crisis_threshold=10.0)
    assert calm.values[2] == RANGING
    assert out.classes == ("TRENDING_UP", "TRENDING_DOWN", "RANGING", "VOLATILE")


def test_regime_needs_horizon_plus_lookback_bars() -> None:
    with pytest.raises(TrainingError, match="at least 145 bars"):
        regime_labels(np.ones(100))


def test_atr_threshold_worked_example() -> None:
    # true range: bar 0 high-low = 2; bar 1 max(2, |103-100|, |101-100|) = 3; bar 2 max(1, |101-102|, |100-102|) = 2.
    # ATR(2) = 2.5, 2.5 → median 2.5; median close 101 → 3 × 2.5 / 101.
    high, low, close = np.array([101.0, 103, 101]), np.array([99.0, 101, 100]), np.array([100.0, 102, 101])
    assert atr_threshold(high, low, close, 2, 3.0) == pytest.approx(7.5 / 101)


def test_progression_of_micro_pivots() -> None:
    # pivots 100 105 102 108 104 110: lows 100, 102, 104 (ends judged by their one neighbour) rise in 2 of 2
    # pairs → an up segment progresses; highs 105, 108, 110 do not fall → a down segment does not.
    pivots = np.array([100.0, 105, 102, 108, 104, 110])
    assert progresses(pivots, up=True, tolerance=0.5)
    assert not progresses(pivots, up=False, tolerance=0.5)
    # lows 100, 98, 104: one rising pair in two → 0.5 passes a 0.5 tolerance, not a strict 1.0.
    mixed = np.array([100.0, 105, 98, 108, 104, 110])
    assert progresses(mixed, up=True, tolerance=0.5) and not progresses(mixed, up=True, tolerance=1.0)
    assert not progresses(pivots[:3], up=True, tolerance=0.0)  # fewer than 4 pivots never progress


def test_segments_take_direction_progression_and_volatility() -> None:
    # macro pivots 0, 6, 9: bars 0-6 rise (micro pivots 0 2 3 4 6 at 100 96 103 99 110: lows 96, 99 rise →
    # TRENDING_UP), bars 6-9 fall with no micro structure (RANGING; bar 6 belongs to the later segment);
    # bar 8 is volatile; bar 10 is after the last macro pivot.
    close = np.array([100, 98, 96, 103, 99, 105, 110, 104, 101, 95, 97], dtype=float)
    volatile = np.zeros(11, dtype=bool)
    volatile[8] = True
    out = classify_segments(close, np.array([0, 6, 9]), np.array([0, 2, 3, 4, 6, 9]), volatile, 0.5)
    np.testing.assert_array_equal(out, [TRENDING_UP] * 6 + [RANGING, RANGING, VOLATILE, RANGING, UNLABELED])


def test_multi_scale_labels_cover_macro_segments_only() -> None:
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(scale=0.004, size=1500)))
    frame = pd.DataFrame({"close": close, "high": close * 1.002, "low": close * 0.998})
    out = multi_scale_regime_labels(frame).values
    macro = zigzag_extremes(close, atr_threshold(frame["high"].to_numpy(), frame["low"].to_numpy(), close,
                                                 14, 3.0)).index
    assert len(macro) > 3
    assert (out[:macro[-1] + 1] != UNLABELED).all() and (out[macro[-1] + 1:] == UNLABELED).all()
    assert set(np.unique(out[out != UNLABELED])) >= {TRENDING_UP, TRENDING_DOWN}
    short = multi_scale_regime_labels(frame.iloc[:10])
    assert (short.values == UNLABELED).all()  # under atr_period + 2 bars there is nothing to label


def _pivots_reference(close: np.ndarray, threshold: float) -> list[int]:
    """The multi-scale definition's pivots: bar 0, each extreme when a reversal confirms it, the last extreme."""
    pivots, last, direction = [0], 0, 0
    for i in range(1, len(close)):
        pct = (close[i] - close[last]) / close[last]
        if direction == 0:
            if abs(pct) >= threshold:
                direction, last = (1 if pct > 0 else -1), i
        elif (direction == 1 and close[i] > close[last]) or (direction == -1 and close[i] < close[last]):
            last = i
        elif (direction == 1 and pct <= -threshold) or (direction == -1 and pct >= threshold):
            pivots.append(last)
            direction, last = -direction, i
    return pivots if pivots[-1] == last else [*pivots, last]


@pytest.mark.parametrize("seed,threshold", [(1, 0.01), (2, 0.03)])
def test_the_regime_pivots_are_the_zigzag_extremes(seed: int, threshold: float) -> None:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(scale=0.005, size=2000)))
    assert zigzag_extremes(close, threshold).index.tolist() == _pivots_reference(close, threshold)
