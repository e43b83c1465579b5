"""Regime labels from the path ahead: signed efficiency ratio for direction, realized-volatility ratio for crises.

SER[t] = (close[t+H] - close[t]) / Σ|close[k+1] - close[k]| for k in [t, t+H) (0 on a flat path);
RV[t] = std(log returns over [t, t+H)) / std(log returns over [t-L, t)) (0 when the past is flat).
Priority: VOLATILE (RV > crisis) over TRENDING_UP (SER > trend) over TRENDING_DOWN (SER < -trend) over RANGING.
Bars before L and the last H bars have no label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from ktrdr.training.errors import TrainingError
from ktrdr.training.labels.base import REGIME_CLASSES, LabelSet, classes_from, column, positive

TRENDING_UP, TRENDING_DOWN, RANGING, VOLATILE = 0, 1, 2, 3


def _window_std(values: np.ndarray, width: int) -> np.ndarray:
    """Sample std (ddof=1) of every window of `width` values, starting at each position; 0 for width < 2."""
    windows = sliding_window_view(values, width)
    return windows.std(axis=1, ddof=1) if width > 1 else np.zeros(len(windows))


def rv_ratio(close: np.ndarray, forward: int, lookback: int) -> np.ndarray:
    """Forward realized volatility over `forward` bars ÷ the past `lookback` bars'; NaN where either is missing."""
    n = len(close)
    out = np.full(n, np.nan)
    if n - forward <= lookback:
        return out
    log_returns = np.diff(np.log(np.maximum(close, 1e-10)))
    t = np.arange(lookback, n - forward)
    ahead = _window_std(log_returns, forward)[t]
    behind = _window_std(log_returns, lookback)[t - lookback]
    out[t] = np.divide(ahead, behind, out=np.zeros_like(ahead), where=behind > 0)
    return out


def signed_efficiency(close: np.ndarray, horizon: int) -> np.ndarray:
    """SER over the next `horizon` bars, from -1 (straight fall) to +1 (straight rise); NaN for the last bars."""
    n = len(close)
    out = np.full(n, np.nan)
    if n <= horizon:
        return out
    path = sliding_window_view(np.abs(np.diff(close)), horizon).sum(axis=1)[: n - horizon]
    net = close[horizon:] - close[:-horizon]
    out[: n - horizon] = np.divide(net, path, out=np.zeros_like(net), where=path != 0)
    return out


def regime_labels(frame: pd.DataFrame | np.ndarray, *, horizon: int = 24, trending_threshold: float = 0.3,
                  vol_crisis_threshold: float = 2.0, vol_lookback: int = 120) -> LabelSet:
    """Four regime classes from the next `horizon` bars (see the module docstring)."""
    positive(horizon, "horizon")
    positive(vol_lookback, "vol_lookback")
    close = column(frame)
    need = horizon + vol_lookback + 1
    if len(close) < need:
        raise TrainingError(f"regime labels need at least {need} bars (horizon {horizon} + vol_lookback "
                            f"{vol_lookback} + 1), got {len(close)}", field="frame",
                            hint="load a longer date range or shorten horizon / vol_lookback")
    ser, rv = signed_efficiency(close, horizon), rv_ratio(close, horizon, vol_lookback)
    codes = np.full(len(close), RANGING, dtype=np.int64)
    codes[ser > trending_threshold] = TRENDING_UP
    codes[ser < -trending_threshold] = TRENDING_DOWN
    codes[rv > vol_crisis_threshold] = VOLATILE
    return LabelSet(classes_from(codes, ~np.isnan(ser) & ~np.isnan(rv)), REGIME_CLASSES)
