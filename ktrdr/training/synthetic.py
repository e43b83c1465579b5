"""Synthetic data with a planted, learnable signal: for tests, benches and end-to-end demos."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ktrdr.data.frames import make_frame
from ktrdr.training.labels import BUY, HOLD, SELL


def planted_features(n: int, n_features: int = 8, *, seed: int = 0,
                     noise: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """(X, y): standard-normal features where y is BUY/SELL/HOLD by a noisy threshold on features 0 and 1."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features)).astype(np.float32)
    score = x[:, 0] - 0.5 * x[:, 1] + noise * rng.normal(size=n)
    y = np.where(score > 0.6, BUY, np.where(score < -0.6, SELL, HOLD)).astype(np.int64)
    return x, y


def planted_close(n: int, *, seed: int = 0, period: int = 40, amplitude: float = 0.03,
                  noise: float = 0.002) -> np.ndarray:
    """Close prices: a sine cycle of `period` bars (±amplitude) on a small random walk, so that zigzag labels
    are predictable from oscillators such as RSI."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    drift = np.cumsum(rng.normal(scale=noise, size=n))
    return 100.0 * np.exp(amplitude * np.sin(2 * np.pi * t / period) + drift)


def planted_ohlcv(n: int, *, start: str = "2024-01-01", freq: str = "1h", seed: int = 0,
                  period: int = 40) -> pd.DataFrame:
    """An OHLCV frame (UTC `timestamp` index) whose closes follow planted_close; highs/lows bracket open/close."""
    close = planted_close(n, seed=seed, period=period)
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = 0.001 * close
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC")
    return make_frame(index, {"open": open_, "high": np.maximum(open_, close) + spread,
                              "low": np.minimum(open_, close) - spread, "close": close,
                              "volume": np.full(n, 1000.0)})
