"""Features: example strategies end to end, multi-timeframe alignment, no look-ahead, normalizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ktrdr.strategy import (
    Normalizer,
    align_to_base,
    build_features,
    complete_rows,
    feature_names,
    load_strategy,
    normalization_methods,
)

ROOT = Path(__file__).parents[2] / "strategies"
MTF = load_strategy(ROOT / "trend_momentum_mtf.yaml")


def hourly(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    open_ = np.r_[close[0], close[:-1]]
    idx = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC", name="timestamp")
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.002,
                         "low": np.minimum(open_, close) * 0.998, "close": close,
                         "volume": rng.uniform(100, 1000, n)}, index=idx)


def frames(h1: pd.DataFrame) -> dict[str, pd.DataFrame]:
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    return {"1h": h1, "4h": h1.resample("4h", label="left", closed="left").agg(agg)}


@pytest.mark.parametrize("path", sorted(ROOT.glob("*.yaml")), ids=lambda p: p.stem)
def test_examples_produce_features(path):
    cfg = load_strategy(path)
    x = build_features(cfg, frames(hourly(1500, 1)))
    assert list(x.columns) == feature_names(cfg)
    ok = complete_rows(x)
    assert ok.iloc[-1000:].all(), "features complete after the warm-up"
    members = [c for c in x.columns if "." not in c and not c.endswith("atr_14")]
    assert ((x[members][ok] >= 0) & (x[members][ok] <= 1)).all().all()
    assert build_features(cfg, frames(hourly(1500, 1)), drop_warmup=True).notna().all().all()


def test_higher_timeframe_bar_visible_only_after_close():
    idx4 = pd.date_range("2024-01-01", periods=3, freq="4h", tz="UTC")
    htf = pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=idx4)
    base = pd.date_range("2024-01-01", periods=12, freq="h", tz="UTC")
    out = align_to_base(htf, "4h", base)["v"]
    # The 00:00 bar closes at 04:00: unseen before, seen from the 04:00 row on.
    assert out.iloc[:4].isna().all()
    assert out.iloc[4:8].tolist() == [1.0] * 4 and out.iloc[8:].tolist() == [2.0] * 4


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=20, max_value=380), seed=st.integers(0, 10_000),
       scale=st.floats(0.5, 2.0))
def test_no_feature_depends_on_the_future(cut, seed, scale):
    h1 = hourly(400, 3)
    future = h1.copy()
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0.9, 1.1, size=(len(h1) - cut - 1, 1))
    cols = ["open", "high", "low", "close"]
    future.iloc[cut + 1:, :4] = future.iloc[cut + 1:][cols].to_numpy() * noise * scale
    future.iloc[cut + 1:, 4] *= scale
    a = build_features(MTF, frames(h1)).iloc[: cut + 1]
    b = build_features(MTF, frames(future)).iloc[: cut + 1]
    pd.testing.assert_frame_equal(a, b)


def test_normalizer_fits_training_rows_only_and_round_trips():
    cfg = MTF
    x = build_features(cfg, frames(hourly(1200, 5)), drop_warmup=True)
    train, rest = x.iloc[:600], x.iloc[600:]
    norm = Normalizer.fit(train, normalization_methods(cfg))
    assert Normalizer.fit(train, normalization_methods(cfg)) == norm
    assert Normalizer.from_dict(norm.to_dict()) == norm
    out = norm.transform(train)
    assert out["1h_atr_14"].min() == pytest.approx(0) and out["1h_atr_14"].max() == pytest.approx(1)
    pd.testing.assert_series_equal(out["1h_rsi_14_mid"], train["1h_rsi_14_mid"])
    # Later rows reuse the training parameters: no refit on data the model must not see.
    again = norm.transform(rest)["1h_atr_14"]
    lo, span = norm.offset[norm.feature_names.index("1h_atr_14")], norm.scale[
        norm.feature_names.index("1h_atr_14")]
    np.testing.assert_allclose(again, (rest["1h_atr_14"] - lo) / span)


def test_zscore_normalization():
    cfg = load_strategy(ROOT / "rsi_mean_reversion.yaml")
    x = build_features(cfg, frames(hourly(800, 2)), drop_warmup=True)
    z = Normalizer.fit(x, normalization_methods(cfg)).transform(x)["1h_macd_12_26_9.histogram"]
    assert z.mean() == pytest.approx(0, abs=1e-9) and z.std(ddof=0) == pytest.approx(1)


def test_missing_timeframe_is_reported():
    with pytest.raises(ValueError, match="no data for timeframe '4h'"):
        build_features(MTF, {"1h": hourly(50, 0)})
