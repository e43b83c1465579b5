"""Every indicator TA-Lib has equals TA-Lib on tie-rich 5-decimal data, or differs by a stated rule.

Each rule is written in docs/indicators.md; the test beside it proves it. Indicators TA-Lib lacks
are checked against their definitions assembled from TA-Lib's building blocks (SMA, MAX, SUM, …).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from ktrdr.indicators import IndicatorSpec, compute_indicator
from tests.unit.tie_rich import tie_rich

TOL = 1e-9


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return tie_rich()


@pytest.fixture(scope="module")
def hlcv(df: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(df[k].to_numpy() for k in ("high", "low", "close", "volume"))


def ours(df: pd.DataFrame, type_: str, **params) -> pd.DataFrame:
    out = compute_indicator(df, "x", IndicatorSpec(type=type_, params=params))
    return out.rename(columns=lambda c: c.removeprefix("x."))


def same(actual, expected, where=None, tol: float = TOL) -> None:
    """Equal to `tol` (relative beyond 1) wherever the reference is defined (and `where` holds)."""
    a, e = np.asarray(actual, float), np.asarray(expected, float)
    keep = ~np.isnan(e) if where is None else ~np.isnan(e) & np.asarray(where, bool)
    assert keep.sum() > 100, "too few rows compared to mean anything"
    np.testing.assert_allclose(a[keep], e[keep], rtol=tol, atol=tol)


def test_the_data_has_the_ties_real_quotes_have(df, hlcv):
    h, lo, c, _ = hlcv
    assert (np.diff(c) == 0).sum() > 1000 and (np.diff(h) == 0).sum() > 500
    assert (h == lo).sum() > 400 and (talib.MAX(h, 14) == talib.MIN(lo, 14)).sum() > 20
    tp = talib.TYPPRICE(h, lo, c)
    noise = (np.diff(tp) != 0) & (np.abs(np.diff(tp)) < 1e-12 * tp[1:])
    assert noise.sum() > 10  # equal typical prices that differ in the last bit


def test_sma(df, hlcv):
    same(ours(df, "sma", period=20)["x"], talib.SMA(hlcv[2], 20))


def test_wma(df, hlcv):
    same(ours(df, "wma", period=20)["x"], talib.WMA(hlcv[2], 20))


def test_ema_started_at_the_first_bar_converges_geometrically_to_talib(df, hlcv):
    # TA-Lib seeds with the SMA of the first `period` bars; the recursion then shrinks the
    # difference by (1 - alpha) every bar.
    moving = df.iloc[100:]  # after the flat start, where the two seeds differ
    n, c = 20, moving["close"].to_numpy()
    alpha = 2 / (n + 1)
    rec = ours(moving, "ema", period=n, adjust=False)["x"].to_numpy()
    diff = rec - talib.EMA(c, n)
    decay = diff[n - 1] * (1 - alpha) ** np.arange(len(c) - n + 1)
    np.testing.assert_allclose(diff[n - 1:], decay, atol=1e-15)
    horizon = n - 1 + int(np.ceil(np.log(TOL / abs(diff[n - 1])) / np.log(1 - alpha)))
    same(rec, talib.EMA(c, n), np.arange(len(c)) >= horizon)


def test_adjusted_ema_is_the_recursive_one_renormalised(df, hlcv):
    # adjusted_t = (recursive_t - (1-a)^(t+1) x_0) / (1 - (1-a)^(t+1)), exactly.
    n, c = 20, hlcv[2]
    q = (1 - 2 / (n + 1)) ** np.arange(1, len(c) + 1)
    rec = ours(df, "ema", period=n, adjust=False)["x"]
    same(ours(df, "ema", period=n)["x"], (rec - q * c[0]) / (1 - q))


def test_macd_equals_talib_once_the_seeding_has_decayed(df, hlcv):
    out, c = ours(df, "macd", fast_period=12, slow_period=26, signal_period=9), hlcv[2]
    line, signal, hist = talib.MACD(c, 12, 26, 9)
    horizon = np.arange(len(c)) >= 26 + 9 + int(np.log(1e-13) / np.log(1 - 2 / 27))
    for name, ref in (("line", line), ("signal", signal), ("histogram", hist)):
        same(out[name], ref, horizon)


def test_rsi_equals_talib_and_is_50_before_any_move(df, hlcv):
    c = hlcv[2]
    out, ref = ours(df, "rsi", period=14)["x"].to_numpy(), talib.RSI(c, 14)
    still = np.cumsum(c != c[0]) == 0  # no gain and no loss yet: TA-Lib says 0
    assert still[14:].sum() > 5 and (out[14:][still[14:]] == 50).all()
    same(out, ref, ~still)


def test_roc(df, hlcv):
    same(ours(df, "roc", period=10)["x"], talib.ROC(hlcv[2], 10))


def test_momentum(df, hlcv):
    same(ours(df, "momentum", period=10)["x"], talib.MOM(hlcv[2], 10))


def test_slow_stochastic_is_talib_with_50_for_a_range_of_none(df, hlcv):
    h, lo, c, _ = hlcv
    out = ours(df, "stochastic", k_period=14, d_period=3, smooth_k=3)
    slow_k, slow_d = talib.STOCH(h, lo, c, 14, 3, 0, 3, 0)
    flat = talib.MAX(h, 14) == talib.MIN(lo, 14)  # TA-Lib's fast %K is 0 there
    clean = talib.MAX(flat.astype(float), 5) == 0  # no such bar in either smoothing window
    same(out["k"], slow_k, clean)
    same(out["d"], slow_d, clean)
    fast_k = np.where(flat, 50.0, talib.STOCHF(h, lo, c, 14, 1, 0)[0])
    same(out["k"], talib.SMA(fast_k, 3))
    same(out["d"], talib.SMA(talib.SMA(fast_k, 3), 3))


def test_cci_equals_exact_arithmetic_and_talib_to_its_rounding(df, hlcv):
    from fractions import Fraction

    h, lo, c, _ = hlcv
    out = ours(df, "cci", period=20)["x"].to_numpy()
    for row in range(19, len(c), 37):
        tp = [(Fraction(h[i]) + Fraction(lo[i]) + Fraction(c[i])) / 3 for i in range(row - 19, row + 1)]
        mean = sum(tp) / 20
        dev = sum(abs(t - mean) for t in tp) / 20
        exact = (tp[-1] - mean) / (Fraction(15, 1000) * dev) if dev else 0
        assert out[row] == pytest.approx(float(exact), rel=1e-12, abs=1e-11)
    # TA-Lib's mean of ~1.1 prices loses digits the deviation needs: up to ~2e-9 on this data.
    same(out, talib.CCI(h, lo, c, 20), tol=5e-9)


def test_williams_r_is_talib_with_minus_50_for_a_range_of_none(df, hlcv):
    h, lo, c, _ = hlcv
    out = ours(df, "williamsr", period=14)["x"].to_numpy()
    flat = talib.MAX(h, 14) == talib.MIN(lo, 14)
    assert flat.sum() > 20 and (out[flat] == -50).all()
    same(out, talib.WILLR(h, lo, c, 14), ~flat)


def test_atr(df, hlcv):
    same(ours(df, "atr", period=14)["x"], talib.ATR(*hlcv[:3], 14))


def test_bollinger_bands_use_the_sample_deviation(df, hlcv):
    # TA-Lib divides the variance by n, the original KTRDR by n - 1: bands sqrt(n/(n-1)) wider.
    n, c = 20, hlcv[2]
    out = ours(df, "bbands", period=n, multiplier=2.0)
    upper, middle, lower = talib.BBANDS(c, n, 2.0, 2.0, 0)
    scale = np.sqrt(n / (n - 1))
    same(out["middle"], middle)
    same(out["upper"], middle + scale * (upper - middle))
    same(out["lower"], middle - scale * (middle - lower))


def test_adx_and_directional_indicators(df, hlcv):
    out = ours(df, "adx", period=14)
    same(out["adx"], talib.ADX(*hlcv[:3], 14))
    same(out["plus_di"], talib.PLUS_DI(*hlcv[:3], 14))
    same(out["minus_di"], talib.MINUS_DI(*hlcv[:3], 14))


def test_aroon_counts_from_the_newest_extreme(df, hlcv):
    out = ours(df, "aroon", period=14)
    down, up = talib.AROON(hlcv[0], hlcv[1], 14)
    same(out["up"], up)
    same(out["down"], down)
    same(out["oscillator"], talib.AROONOSC(hlcv[0], hlcv[1], 14))


@pytest.mark.parametrize("afs", [(0.02, 0.02, 0.2), (0.01, 0.03, 0.25)])
def test_parabolic_sar(df, hlcv, afs):
    h, lo = hlcv[0], hlcv[1]
    out = ours(df, "parabolicsar", initial_af=afs[0], step_af=afs[1], max_af=afs[2])["x"]
    same(out, np.abs(talib.SAREXT(h, lo, 0, 0, *afs, *afs)))  # SAREXT signs short stops
    if afs[0] == afs[1]:
        same(out, talib.SAR(h, lo, afs[1], afs[2]))


def test_obv_starts_at_zero(df, hlcv):
    # TA-Lib starts from the first bar's volume; the original KTRDR from 0.
    c, v = hlcv[2], hlcv[3]
    same(ours(df, "obv")["x"], talib.OBV(c, v) - v[0])


def test_mfi_counts_no_flow_for_an_unchanged_typical_price(df, hlcv):
    h, lo, c, v = hlcv
    out = ours(df, "mfi", period=14)["x"].to_numpy()
    tp = talib.TYPPRICE(h, lo, c)
    # No flow in the window (typical prices equal but for rounding): TA-Lib says 0.
    still = talib.MAX(tp, 15) - talib.MIN(tp, 15) <= 1e-12 * tp
    assert still.sum() > 20 and (out[still] == 50).all()
    same(out, talib.MFI(h, lo, c, v, 14), ~still)


def test_ad_line_and_its_companions(df, hlcv):
    out = ours(df, "adline")
    ad = talib.AD(*hlcv)
    same(out["line"], ad)
    same(out["roc_10"], talib.ROC(ad, 10))
    same(out["momentum_21"], talib.MOM(ad, 21))
    mean = talib.SMA(ad, 50)
    same(out["relative_strength"], np.where(mean == 0, 0.0, 100 * (ad - mean) / mean))


def test_cmf_and_its_companions(df, hlcv):
    n, v = 21, hlcv[3]
    out = ours(df, "cmf", period=n)
    ad = talib.AD(*hlcv)
    cmf = (ad - np.r_[np.full(n, np.nan), ad[:-n]]) / talib.SUM(v, n)  # Σ flow = AD_t - AD_t-n
    same(out["cmf"], cmf)
    same(out["momentum"], talib.MOM(cmf, 5))
    signal = pd.Series(cmf).ewm(span=9, adjust=False).mean().to_numpy()
    same(out["signal"], signal)
    same(out["histogram"], cmf - signal)
    same(out["above_zero"], np.where(np.isnan(cmf), np.nan, cmf > 0))


def test_vwap(df, hlcv):
    v = hlcv[3]
    same(ours(df, "vwap", period=20)["x"], talib.SUM(talib.TYPPRICE(*hlcv[:3]) * v, 20) / talib.SUM(v, 20))
    same(ours(df, "vwap", period=0, use_typical_price=False)["x"], np.cumsum(hlcv[2] * v) / np.cumsum(v))


def test_volume_ratio(df, hlcv):
    same(ours(df, "volumeratio", period=20)["x"], hlcv[3] / talib.SMA(hlcv[3], 20))


def test_donchian_channels(df, hlcv):
    out = ours(df, "donchianchannels", period=20)
    upper, lower = talib.MAX(hlcv[0], 20), talib.MIN(hlcv[1], 20)
    same(out["upper"], upper)
    same(out["lower"], lower)
    same(out["middle"], (upper + lower) / 2)


def test_ichimoku_lines_stay_on_their_bar(df, hlcv):
    out = ours(df, "ichimoku")
    mid = {n: (talib.MAX(hlcv[0], n) + talib.MIN(hlcv[1], n)) / 2 for n in (9, 26, 52)}
    same(out["tenkan"], mid[9])
    same(out["kijun"], mid[26])
    same(out["senkou_a"], (mid[9] + mid[26]) / 2)
    same(out["senkou_b"], mid[52])
    same(out["chikou"], hlcv[2])


def _keltner(hlcv, period: int, atr_period: int, multiplier: float) -> tuple[np.ndarray, ...]:
    h, lo, c, _ = hlcv
    tr = np.r_[h[0] - lo[0], talib.TRANGE(h, lo, c)[1:]]  # the original's first true range is the bar's own range
    middle = pd.Series(c).ewm(span=period, adjust=False, min_periods=period).mean().to_numpy()
    band = multiplier * talib.SMA(tr, atr_period)
    return middle + band, middle, middle - band


def test_keltner_channels(df, hlcv):
    out = ours(df, "keltnerchannels", period=20, atr_period=10, multiplier=2.0)
    for name, ref in zip(("upper", "middle", "lower"), _keltner(hlcv, 20, 10, 2.0), strict=True):
        same(out[name], ref)


def _window_mean(x: np.ndarray, n: int) -> np.ndarray:
    # Two-pass window means: exact zeros for windows of zeros, where running sums leave dust.
    return np.r_[[np.nan] * (n - 1), np.lib.stride_tricks.sliding_window_view(x, n).mean(axis=1)]


def _sample_bands(c: np.ndarray, n: int, k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # TA-Lib's variance (mean of squares - square of mean) loses the digits a ratio of band gaps
    # needs on 5-decimal prices, so these bands take the two-pass deviation numpy computes.
    windows = np.lib.stride_tricks.sliding_window_view(c, n)
    middle = np.r_[[np.nan] * (n - 1), windows.mean(axis=1)]
    width = k * np.r_[[np.nan] * (n - 1), windows.std(axis=1, ddof=1)]
    return middle + width, middle, middle - width


def test_bollinger_band_width(df, hlcv):
    upper, middle, lower = _sample_bands(hlcv[2], 20, 2.0)
    same(ours(df, "bollingerbandwidth", period=20, multiplier=2.0)["x"], (upper - lower) / middle)


def test_squeeze_intensity(df, hlcv):
    bb_up, _, bb_lo = _sample_bands(hlcv[2], 20, 2.0)
    kc_up, _, kc_lo = _keltner(hlcv, 20, 10, 1.5)
    span = kc_up - kc_lo
    with np.errstate(divide="ignore", invalid="ignore"):  # a channel of no width: no squeeze
        gap = np.minimum(kc_up - bb_up, bb_lo - kc_lo) / span
    ref = np.where(span == 0, 0.0, np.maximum(0, gap))
    out = ours(df, "squeezeintensity", kc_multiplier=1.5)["x"]
    same(out, ref)
    assert (out > 0).sum() > 50  # squeezes do happen in this data


def test_distance_from_ma(df, hlcv):
    c = hlcv[2]
    same(ours(df, "distancefromma", period=20)["x"], 100 * (c / talib.SMA(c, 20) - 1))
    ema = pd.Series(c).ewm(span=20, adjust=True, min_periods=20).mean().to_numpy()
    same(ours(df, "distancefromma", period=20, ma_type="EMA")["x"], 100 * (c / ema - 1))


def test_rvi(df, hlcv):
    o = df["open"].to_numpy()
    h, lo, c, _ = hlcv

    def symmetric(x: np.ndarray) -> np.ndarray:
        lag = {k: np.r_[[np.nan] * k, x[:-k]] for k in (1, 2, 3)}
        return (lag[3] + 2 * lag[2] + 2 * lag[1] + x) / 6

    num, den = _window_mean(symmetric(c - o), 10), _window_mean(symmetric(h - lo), 10)
    value = np.where(den == 0, 0.0, num / np.where(den == 0, 1, den))
    out = ours(df, "rvi", period=10, signal_period=4)
    same(out["rvi"], value)
    same(out["signal"], talib.SMA(value, 4))


def test_fisher_transform(df, hlcv):
    h, lo = hlcv[0], hlcv[1]
    top, bottom = talib.MAX(h, 10), talib.MIN(lo, 10)
    span = top - bottom
    place = np.where(span == 0, 0.0, 2 * (talib.MEDPRICE(h, lo) - bottom) / np.where(span == 0, 1, span) - 1)
    place = np.clip(place, -0.999, 0.999)
    raw = pd.Series(0.5 * np.log((1 + place) / (1 - place)))
    fisher = raw.ewm(span=3, adjust=False).mean().to_numpy()
    out = ours(df, "fishertransform", period=10, smoothing=3)
    same(out["fisher"], fisher)
    same(out["signal"], np.r_[np.nan, fisher[:-1]])


def test_supertrend_trails_the_talib_atr_band(df, hlcv):
    h, lo, c, _ = hlcv
    out = ours(df, "supertrend", period=10, multiplier=3.0)
    hl2, band = (h + lo) / 2, 3.0 * talib.ATR(h, lo, c, 10)
    trend, up = out["trend"].to_numpy(), out["direction"].to_numpy() > 0
    rows = np.arange(11, len(c))
    # On an up move the line is today's lower band or, if that is lower, the line it had.
    same(trend[rows][up[rows] & up[rows - 1]],
         np.maximum(hl2 - band, np.r_[np.nan, trend[:-1]])[rows][up[rows] & up[rows - 1]])
    # The direction turns only when the close crosses the line it had.
    flips = up[rows] != up[rows - 1]
    assert flips.sum() > 10
    crossed = np.where(up[rows - 1], c[rows] < trend[rows - 1], c[rows] > trend[rows - 1])
    assert (crossed[flips]).all()


def test_zigzag_hand_worked_example():
    close = [100, 104, 110, 107, 98, 99, 95, 100, 106, 104]
    idx = pd.date_range("2024-01-01", periods=len(close), freq="h", tz="UTC")
    frame = pd.DataFrame({"close": close}, index=idx, dtype=float)
    out = ours(frame, "zigzag", threshold=0.1)
    # 110 is confirmed as a peak at 98 (-10.9%), 95 as a trough at 106 (+11.6%).
    assert out["direction"].tolist() == [0, 0, 0, 0, -1, -1, -1, -1, 1, 1]
    assert out["pivot"].tolist() == [100] * 4 + [110] * 4 + [95] * 2
