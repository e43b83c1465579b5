"""Triple-barrier labels, the CUSUM event filter and uniqueness weights: hand-worked cases and a naive loop."""

import numpy as np
import pandas as pd
import pytest

from ktrdr.training.errors import TrainingError
from ktrdr.training.labels import (BUY, HOLD, SELL, UNLABELED, cusum_events, cusum_threshold, triple_barrier_labels,
                                   uniqueness_weights, volatility)

# pt 2, sl 1, H 3, vol_span 2 over bars whose high/low are close ±1%: the "atr" volatility is (h-l)/c = 0.02 at
# every bar, so a trade entered at 100 has barriers 104 (2×2%) and 98 (1×2%), and the time-limit band is
# 0.02·√3/2 = 1.732%.
SMALL = {"pt_multiplier": 2.0, "sl_multiplier": 1.0, "max_holding_period": 3, "vol_span": 2}


def _bars(close: list[float], wide: dict[int, tuple[float, float]] | None = None) -> pd.DataFrame:
    c = np.asarray(close, dtype=float)
    high, low = c * 1.01, c * 0.99
    for i, (h, lo) in (wide or {}).items():
        high[i], low[i] = h, lo
    return pd.DataFrame({"open": c, "high": high, "low": low, "close": c})


def _label0(close: list[float], wide: dict[int, tuple[float, float]] | None = None, **change: float) -> tuple[int, int]:
    out = triple_barrier_labels(_bars(close, wide), **(SMALL | change))
    return int(out.values[0]), int(out.holding[0])


def test_take_profit_touched_by_a_high() -> None:
    # bar 1: high 101.505 < 104, low 99.495 > 98; bar 2: high 1.01 × 103.2 = 104.232 >= 104 (its close is not).
    assert _label0([100, 100.5, 103.2, 101, 100, 100]) == (BUY, 2)


def test_stop_loss_touched_by_a_low() -> None:
    # bar 1: low 98.505 > 98; bar 2: low 0.99 × 98.5 = 97.515 <= 98.
    assert _label0([100, 99.5, 98.5, 97, 97, 97]) == (SELL, 2)


@pytest.mark.parametrize("close1,expected", [(100.5, BUY), (99.5, SELL)])
def test_a_bar_touching_both_barriers_is_decided_by_its_close(close1: float, expected: int) -> None:
    # bar 1 spans 97 … 105, beyond both barriers; its close against the entry (100) decides.
    assert _label0([100, close1, 100, 100, 100, 100], {1: (105.0, 97.0)}) == (expected, 1)


@pytest.mark.parametrize("close3,expected", [(101.8, BUY), (101.5, HOLD), (98.2, SELL)])
def test_time_limit_labels_by_the_return_beyond_the_band(close3: float, expected: int) -> None:
    # sl 2 puts the lower barrier at 96: bars 1-3 stay inside 96 … 104 on high and low (highest high
    # 1.01 × 101.8 = 102.818, lowest low 0.99 × 98.2 = 97.218). The return at bar 3 is +1.8% (>= 1.732%: BUY),
    # +1.5% (inside the band: HOLD) or -1.8% (SELL).
    mid = 100.8 if close3 > 100 else 99.2
    assert _label0([100, mid, mid, close3, 100, 100], sl_multiplier=2.0) == (expected, 3)


def test_last_holding_period_bars_have_no_label() -> None:
    out = triple_barrier_labels(_bars([100.0] * 8), **SMALL)
    np.testing.assert_array_equal(out.values[-3:], [UNLABELED] * 3)
    assert (out.values[:-3] != UNLABELED).all() and (out.holding[-3:] == 0).all()


def _naive(frame: pd.DataFrame, pt: float, sl: float, span: int, vol_span: int) -> tuple[list[int], list[int]]:
    """The definition as a plain loop: walk each trade forward until a barrier is touched or time runs out."""
    c, h, lo = (frame[k].to_numpy() for k in ("close", "high", "low"))
    vol = ((frame["high"] - frame["low"]) / frame["close"]).ewm(span=vol_span).mean().to_numpy()
    labels, holds = [], []
    for t in range(len(c) - span):
        upper, lower = c[t] * (1 + pt * vol[t]), c[t] * (1 - sl * vol[t])
        label, hold = None, span
        for k in range(t + 1, t + span + 1):
            if h[k] >= upper or lo[k] <= lower:
                label = (BUY if c[k] >= c[t] else SELL) if h[k] >= upper and lo[k] <= lower else \
                    (BUY if h[k] >= upper else SELL)
                hold = k - t
                break
        if label is None:
            ret = c[t + span] / c[t] - 1
            label = HOLD if abs(ret) < vol[t] * np.sqrt(span) / 2 else (BUY if ret > 0 else SELL)
        labels.append(label)
        holds.append(hold)
    return labels, holds


@pytest.mark.parametrize("seed,pt,sl,span,vol_span",
                         [(1, 2.0, 1.5, 10, 5), (2, 1.0, 1.0, 24, 14), (3, 3.0, 0.5, 5, 20)])
def test_label_is_the_first_barrier_touched(seed: int, pt: float, sl: float, span: int, vol_span: int) -> None:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(scale=0.01, size=600)))
    spread = close * rng.uniform(0.001, 0.02, size=600)
    frame = pd.DataFrame({"close": close, "high": close + spread * rng.uniform(0, 1, 600),
                          "low": close - spread * rng.uniform(0, 1, 600)})
    out = triple_barrier_labels(frame, pt_multiplier=pt, sl_multiplier=sl, max_holding_period=span,
                                vol_span=vol_span)
    labels, holds = _naive(frame, pt, sl, span, vol_span)
    np.testing.assert_array_equal(out.values[:-span], labels)
    np.testing.assert_array_equal(out.holding[:-span], holds)


def test_changing_bars_after_the_horizon_never_changes_a_label() -> None:
    rng = np.random.default_rng(5)
    close = 100 * np.exp(np.cumsum(rng.normal(scale=0.01, size=300)))
    frame = pd.DataFrame({"close": close, "high": close * 1.005, "low": close * 0.995})
    before = triple_barrier_labels(frame, max_holding_period=10, vol_span=20).values
    for t in (30, 120, 250):  # past the vol_span warm-up, a label sees bars t … t+10 only
        other = frame.copy()
        other.iloc[t + 11:] = other.iloc[t + 11:] * rng.uniform(0.5, 1.5)
        assert triple_barrier_labels(other, max_holding_period=10, vol_span=20).values[t] == before[t]


def test_close_volatility_warm_up_is_filled_from_bar_vol_span() -> None:
    rng = np.random.default_rng(9)
    close = 100 * np.exp(np.cumsum(rng.normal(scale=0.01, size=50)))
    vol = volatility(close, close, close, 10, "close")
    ewm = pd.Series(np.diff(np.log(close))).ewm(span=10).std().to_numpy()
    # bar 0 has no return and bar 1 one return (no std): both take the estimate at bar 10.
    np.testing.assert_allclose(vol[:2], [ewm[9], ewm[9]])
    np.testing.assert_allclose(vol[2:], ewm[1:])


def test_the_atr_naming_means_the_same_barriers() -> None:
    rng = np.random.default_rng(4)
    close = 100 * np.exp(np.cumsum(rng.normal(scale=0.01, size=200)))
    frame = pd.DataFrame({"close": close, "high": close * 1.004, "low": close * 0.996})
    atr = triple_barrier_labels(frame, profit_target_atr=2.0, stop_loss_atr=1.5, max_holding_bars=24, atr_period=14)
    plain = triple_barrier_labels(frame, pt_multiplier=2.0, sl_multiplier=1.5, max_holding_period=24, vol_span=14,
                                  vol_method="atr")
    np.testing.assert_array_equal(atr.values, plain.values)
    with pytest.raises(TrainingError, match="only one"):
        triple_barrier_labels(frame, profit_target_atr=2.0, pt_multiplier=2.0)


def test_bad_settings_and_short_data_are_reported() -> None:
    frame = _bars([100.0] * 20)
    with pytest.raises(TrainingError, match="vol_method"):
        triple_barrier_labels(frame, vol_method="parkinson", max_holding_period=3, vol_span=2)
    with pytest.raises(TrainingError, match="at least 100 bars"):
        triple_barrier_labels(frame)
    with pytest.raises(TrainingError, match="'high'"):
        triple_barrier_labels(frame[["close"]], max_holding_period=3, vol_span=2)


def test_cusum_worked_example() -> None:
    # h = 0.01 on log returns .018 .018 -.004 -.032 .001 .025:
    # bar 1: s+ = .008, s- = 0; bar 2: s+ = .016 > h → event, s+ = 0; bar 3: s+ = 0, s- = min(0, .006) = 0;
    # bar 4: s- = -.022 < -h → event, s- = 0; bar 5: s+ = max(0, -.009) = 0, s- = min(0, .011) = 0;
    # bar 6: s+ = .015 > h → event.
    close = 100 * np.exp(np.cumsum([0, 0.018, 0.018, -0.004, -0.032, 0.001, 0.025]))
    np.testing.assert_array_equal(cusum_events(close, 0.01), [False, False, True, False, True, False, True])


def test_cusum_threshold_fixed_or_from_volatility() -> None:
    rng = np.random.default_rng(2)
    close = 100 * np.exp(np.cumsum(rng.normal(scale=0.01, size=300)))
    assert cusum_threshold(close, 0.02, 0.5, 50) == 0.02
    vol = pd.Series(np.diff(np.log(close))).ewm(span=50).std().mean()
    assert cusum_threshold(close, 0.0, 0.5, 50) == pytest.approx(0.5 * vol)


def test_uniqueness_weights_worked_example() -> None:
    # labels active on bars {0,1,2}, {1,2}, {3}: concurrency 1,2,2,1. Mean of 1/concurrency: 2/3, 1/2, 1;
    # their mean is 13/18, so normalized: 12/13, 9/13, 18/13.
    starts, holding = np.array([0, 1, 3]), np.array([3, 2, 1])
    np.testing.assert_allclose(uniqueness_weights(starts, holding, normalize=False), [2 / 3, 1 / 2, 1])
    np.testing.assert_allclose(uniqueness_weights(starts, holding), [12 / 13, 9 / 13, 18 / 13])
    # Labels kept apart by a filter do not overlap: each is fully unique.
    np.testing.assert_allclose(uniqueness_weights(np.array([0, 5]), np.array([3, 3])), [1, 1])


def test_filter_and_weights_in_the_labels() -> None:
    rng = np.random.default_rng(6)
    close = 100 * np.exp(np.cumsum(rng.normal(scale=0.01, size=400)))
    frame = pd.DataFrame({"close": close, "high": close * 1.005, "low": close * 0.995})
    plain = triple_barrier_labels(frame, max_holding_period=10, vol_span=20)
    out = triple_barrier_labels(frame, max_holding_period=10, vol_span=20, cusum_threshold=0.015,
                                compute_weights=True)
    events = cusum_events(close, 0.015)
    kept = out.values != UNLABELED
    np.testing.assert_array_equal(kept, events & (plain.values != UNLABELED))
    np.testing.assert_array_equal(out.values[kept], plain.values[kept])
    assert out.weighting == "uniqueness" and plain.weighting == "uniform" and plain.weights is None
    assert np.isnan(out.weights[~kept]).all() and out.weights[kept].mean() == pytest.approx(1.0)
    idx = np.flatnonzero(kept)
    np.testing.assert_allclose(out.weights[kept], uniqueness_weights(idx, plain.holding[idx]))
