"""Deterministic synthetic bars with regimes (trends, ranges, volatility bursts) to learn from.

Determinism: a bar depends only on (seed, symbol, timeframe, its open time). A daily log-price
path is generated from `origin` in fixed blocks of days (state carried from block to block), and
each bar's intraday detail comes from a generator seeded by (seed, symbol, timeframe, day), so any
range gives the same bars whatever chunks it is requested in. Intraday paths are Brownian bridges
pinned to the daily levels, so every timeframe shares the same daily opens and closes.
Grid: `fx` (default) keeps bars overlapping the FX week, Sunday 17:00 to Friday 17:00 New York,
so weekends appear as real gaps; `continuous` keeps every bar (24×7).
"""

from __future__ import annotations

import hashlib
from typing import Literal

import numpy as np
import pandas as pd

from ktrdr.context import CancelToken, ProgressReporter
from ktrdr.data.calendars import open_mask
from ktrdr.data.frames import empty_frame, make_frame
from ktrdr.data.providers import fetch_segments, split_range
from ktrdr.data.symbols import is_fx_pair, normalize_symbol
from ktrdr.data.timeframes import Timeframe, to_utc

_BLOCK = 1024  # days generated per step of the daily path
_DAY = pd.Timedelta(days=1)
# (drift in units of daily vol, vol multiplier, mean-reversion strength) per regime:
# trend up, trend down, range, volatile.
_REGIMES = np.array([[0.15, 1.0, 0.0], [-0.15, 1.0, 0.0], [0.0, 0.7, 0.15], [0.0, 2.2, 0.0]])
_SWITCH_P = 1 / 30  # mean regime length: 30 days
# Intraday swings: CYCLES_PER_DAY oscillations of CYCLE_AMP x the day's volatility, so intraday oscillators
# (RSI, Bollinger %B, MACD) have turning points to learn; zero at day boundaries so daily bars are unchanged.
_CYCLES_PER_DAY, _CYCLE_AMP = 3, 0.6


def _symbol_entropy(symbol: str) -> int:
    return int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:8], "little")


class _DailyPath:
    """Log price at each day boundary since the origin, grown block by block."""

    def __init__(self, seed: int, symbol: str) -> None:
        self.key = [seed, _symbol_entropy(symbol)]
        rng = np.random.default_rng(self.key + [2**32])
        fx = is_fx_pair(symbol)
        self.base = float(np.log(rng.uniform(0.6, 1.8) if fx else rng.uniform(20, 400)))
        self.vol = 0.006 if fx else 0.015
        self.levels, self.vols, self.regimes = [self.base], [], []
        self._anchor, self._regime = self.base, int(rng.integers(4))

    def ensure(self, days: int) -> None:
        """Grow the path to cover day boundaries 0..days."""
        while len(self.vols) < days:
            self._grow(np.random.default_rng(self.key + [len(self.vols) // _BLOCK]))

    def _grow(self, rng: np.random.Generator) -> None:
        z, switch, pick = rng.standard_normal(_BLOCK), rng.random(_BLOCK), rng.integers(1, 4, _BLOCK)
        x = self.levels[-1]
        for i in range(_BLOCK):
            if switch[i] < _SWITCH_P:
                self._regime, self._anchor = (self._regime + pick[i]) % 4, x
            drift, vmul, kappa = _REGIMES[self._regime]
            vol = self.vol * vmul
            # The weak pull to the base keeps decades of trends within plausible prices.
            x += drift * self.vol - kappa * (x - self._anchor) - 0.002 * (x - self.base) + vol * z[i]
            self.levels.append(x)
            self.vols.append(vol)
            self.regimes.append(self._regime)


class SyntheticProvider:
    """Seeded synthetic OHLCV source; see the module docstring for the determinism contract."""

    name = "synthetic"

    def __init__(self, seed: int = 0, *, grid: Literal["fx", "continuous"] = "fx", origin: object = "2000-01-01",
                 chunk_bars: int = 20_000) -> None:
        self.seed, self.grid, self.chunk_bars = seed, grid, chunk_bars
        self.origin = to_utc(origin).floor("D")
        self._paths: dict[str, _DailyPath] = {}

    def earliest(self, symbol: str, timeframe: str | Timeframe) -> pd.Timestamp:
        """First bar open: the origin, on the timeframe grid."""
        return Timeframe.parse(timeframe).ceil(self.origin)

    def segment_span(self, timeframe: str | Timeframe) -> pd.Timedelta:
        """`chunk_bars` bars per segment."""
        return Timeframe.parse(timeframe).duration * self.chunk_bars

    def fetch(self, symbol: str, timeframe: str | Timeframe, start: object, end: object, *,
              progress: ProgressReporter | None = None, cancel: CancelToken | None = None) -> pd.DataFrame:
        """Bars with start <= open < end (nothing before the origin)."""
        tf, sym = Timeframe.parse(timeframe), normalize_symbol(symbol)
        lo = max(to_utc(start), self.earliest(sym, tf))
        segments = split_range(lo, end, self.segment_span(tf), tf)
        return fetch_segments(segments, lambda s, e: self._bars(sym, tf, s, e), label=f"synthetic {sym} {tf}",
                              progress=progress, cancel=cancel)

    def regimes(self, symbol: str, start: object, end: object) -> pd.Series:
        """The regime (0 up, 1 down, 2 range, 3 volatile) of each day in [start, end), for tests and demos."""
        days = pd.date_range(to_utc(start).floor("D"), to_utc(end), freq="D", inclusive="left")
        idx = ((days - self.origin) // _DAY).to_numpy()
        path = self._path(normalize_symbol(symbol))
        path.ensure(int(idx.max()) + 1 if len(idx) else 0)
        return pd.Series(np.asarray(path.regimes)[idx], index=days, name="regime")

    def _path(self, symbol: str) -> _DailyPath:
        if symbol not in self._paths:
            self._paths[symbol] = _DailyPath(self.seed, symbol)
        return self._paths[symbol]

    def _bars(self, symbol: str, tf: Timeframe, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        opens = tf.grid(start, end)
        if self.grid == "fx":
            opens = opens[open_mask(opens, tf, "fx")]
        if not len(opens):
            return empty_frame()
        path = self._path(symbol)
        path.ensure(int((opens[-1] + tf.duration - self.origin) // _DAY) + 1)
        build = self._intraday if tf.minutes < 1440 else self._multiday
        return make_frame(opens, build(path, tf, opens))

    def _rng(self, path: _DailyPath, tf: Timeframe, day: int) -> np.random.Generator:
        return np.random.default_rng(path.key + [tf.minutes, day])

    def _intraday(self, path: _DailyPath, tf: Timeframe, opens: pd.DatetimeIndex) -> dict[str, np.ndarray]:
        n = 1440 // tf.minutes
        day_idx = ((opens - self.origin) // _DAY).to_numpy()
        slot = ((opens - self.origin) % _DAY // tf.duration).to_numpy()
        cols: dict[str, list[np.ndarray]] = {c: [] for c in ("open", "high", "low", "close", "volume")}
        for day in np.unique(day_idx):
            sel = slot[day_idx == day]
            day_cols = self._day_bars(path, tf, int(day), n)
            for c in cols:
                cols[c].append(day_cols[c][sel])
        return {c: np.concatenate(v) for c, v in cols.items()}

    def _day_bars(self, path: _DailyPath, tf: Timeframe, day: int, n: int) -> dict[str, np.ndarray]:
        rng = self._rng(path, tf, day)
        x0, x1, vol = path.levels[day], path.levels[day + 1], path.vols[day]
        step = vol / np.sqrt(n)
        walk = np.concatenate([[0.0], np.cumsum(rng.standard_normal(n) * step)])
        frac = np.arange(n + 1) / n
        logp = x0 + frac * (x1 - x0) + walk - frac * walk[-1]  # Brownian bridge from x0 to x1
        phase = rng.uniform(0, 2 * np.pi)
        logp += _CYCLE_AMP * vol * (np.sin(2 * np.pi * _CYCLES_PER_DAY * frac + phase) - np.sin(phase))
        return _ohlcv(logp[:-1], logp[1:], logp[:-1], logp[1:], step, rng, path.vol, tf)

    def _multiday(self, path: _DailyPath, tf: Timeframe, opens: pd.DatetimeIndex) -> dict[str, np.ndarray]:
        k = tf.minutes // 1440
        first = ((opens - self.origin) // _DAY).to_numpy()
        levels = np.asarray(path.levels)
        spans = np.stack([levels[first + j] for j in range(k + 1)])
        rngs = [self._rng(path, tf, int(d)) for d in first]
        noise = np.array([r.standard_normal(3) for r in rngs])
        vol = np.asarray(path.vols)[first] * np.sqrt(k)
        return _ohlcv(spans[0], spans[-1], spans.max(axis=0), spans.min(axis=0), vol, noise, path.vol, tf)


def _ohlcv(o: np.ndarray, c: np.ndarray, hi: np.ndarray, lo: np.ndarray, step: np.ndarray | float,
           noise: np.random.Generator | np.ndarray, base_vol: float, tf: Timeframe) -> dict[str, np.ndarray]:
    """Prices from log levels: wicks beyond the body/extremes, volume rising with the move's size."""
    z = noise.standard_normal((3, len(o))) if isinstance(noise, np.random.Generator) else noise.T
    high = np.exp(np.maximum(hi, np.maximum(o, c)) + np.abs(z[0]) * step * 0.6)
    low = np.exp(np.minimum(lo, np.minimum(o, c)) - np.abs(z[1]) * step * 0.6)
    per_bar = (1000.0 if base_vol < 0.01 else 100_000.0) * tf.minutes / 1440
    volume = np.round(per_bar * np.exp(0.4 * z[2]) * (1 + np.abs(c - o) / np.maximum(step, 1e-12)))
    return {"open": np.exp(o), "high": high, "low": low, "close": np.exp(c), "volume": volume}
