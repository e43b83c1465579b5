"""Triple-barrier labels: which of take-profit, stop-loss or the time limit a trade opened at a bar meets first.

For a trade entered at close[t] with volatility v[t], the upper barrier is close[t]·(1 + pt·v), the lower
close[t]·(1 - sl·v). Bars t+1 … t+H are walked in order: the first whose high reaches the upper barrier
gives +1 (BUY), whose low reaches the lower gives -1 (SELL); a bar that reaches both decides by its close
against the entry. With no touch by t+H, the return r = close[t+H]/close[t] - 1 decides: 0 (HOLD) when
|r| < v·√H / 2, else its sign. The last H bars have no label. v is an EWMA of (high-low)/close ("atr") or
of the standard deviation of log returns ("close"), its first `vol_span` missing or zero values filled with
v[vol_span] (the reference definition's warm-up, which looks ahead at most `vol_span` bars).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from ktrdr.training.errors import TrainingError
from ktrdr.training.labels.base import (BUY, CLASSES, HOLD, SELL, UNLABELED, LabelSet, column, field, nonzero,
                                        positive)
from ktrdr.training.labels.events import cusum_events, uniqueness_weights
from ktrdr.training.labels.events import cusum_threshold as cusum_scale

VOL_METHODS = ("atr", "close")


@dataclass(frozen=True)
class Barriers:
    """Barrier widths in volatility units, the time limit in bars and how volatility is estimated."""

    pt_multiplier: float = 2.0
    sl_multiplier: float = 1.5
    max_holding_period: int = 50
    vol_span: int = 50
    vol_method: str = "atr"

    def __post_init__(self) -> None:
        for name in ("pt_multiplier", "sl_multiplier", "max_holding_period", "vol_span"):
            positive(getattr(self, name), name)
        if self.vol_method not in VOL_METHODS:
            raise TrainingError(f"vol_method must be one of {VOL_METHODS}, got {self.vol_method!r}",
                                field=field("vol_method"))


def volatility(close: np.ndarray, high: np.ndarray, low: np.ndarray, vol_span: int, vol_method: str) -> np.ndarray:
    """Per-bar volatility estimate (a fraction of price), warm-up filled as the module docstring says."""
    if vol_method == "atr":
        vol = pd.Series((high - low) / close).ewm(span=vol_span).mean().to_numpy(copy=True)
    else:
        vol = np.concatenate([[np.nan], pd.Series(np.diff(np.log(close))).ewm(span=vol_span).std().to_numpy()])
    first = min(vol_span, len(vol) - 1)
    head = vol[:first]
    head[np.isnan(head) | (head == 0)] = vol[first]
    return vol


def barrier_outcomes(close: np.ndarray, high: np.ndarray, low: np.ndarray,
                     spec: Barriers) -> tuple[np.ndarray, np.ndarray]:
    """(outcome, holding) for bars 0 … n-H-1: +1/0/-1 and the bars until it was decided (the last H have none)."""
    n, span = len(close), spec.max_holding_period
    vol = volatility(close, high, low, spec.vol_span, spec.vol_method)
    m = n - span
    entry, v = close[:m], vol[:m]
    # Row t holds bars t+1 … t+H: the only future the label at t may see.
    up = sliding_window_view(high[1:], span)[:m] >= (entry * (1 + spec.pt_multiplier * v))[:, None]
    down = sliding_window_view(low[1:], span)[:m] <= (entry * (1 - spec.sl_multiplier * v))[:, None]
    touched = up | down
    hit = touched.any(axis=1)
    first = touched.argmax(axis=1)
    rows = np.arange(m)
    both_up = close[rows + first + 1] >= entry
    at_hit = np.where(up[rows, first] & down[rows, first], np.where(both_up, 1, -1), np.where(up[rows, first], 1, -1))
    final = (close[rows + span] - entry) / entry
    timed = np.where(np.abs(final) < v * np.sqrt(span) * 0.5, 0, np.sign(final)).astype(np.int64)
    return np.where(hit, at_hit, timed).astype(np.int64), np.where(hit, first + 1, span).astype(np.int64)


_ATR_ALIASES = {"profit_target_atr": "pt_multiplier", "stop_loss_atr": "sl_multiplier",
                "max_holding_bars": "max_holding_period", "atr_period": "vol_span"}


def resolve_barriers(given: dict[str, float | int | str | None]) -> Barriers:
    """Barriers from either naming: pt/sl multipliers or the ATR form (profit_target_atr, stop_loss_atr,
    max_holding_bars, atr_period), which means the same barriers measured in the "atr" volatility."""
    values = {k: v for k, v in given.items() if v is not None}
    for alias, name in _ATR_ALIASES.items():
        if alias in values and name in values:
            raise TrainingError(f"{alias} and {name} are two names for one setting; give only one",
                                field=field(alias))
        if alias in values:
            values[name] = values.pop(alias)
    return Barriers(**values)  # type: ignore[arg-type]


def _classes(outcome: np.ndarray, n: int) -> np.ndarray:
    """+1/0/-1 outcomes as BUY/HOLD/SELL class indices, UNLABELED past the end of `outcome`."""
    labels = np.full(n, UNLABELED, dtype=np.int64)
    labels[:len(outcome)] = np.select([outcome > 0, outcome < 0], [BUY, SELL], HOLD)
    return labels


def triple_barrier_labels(frame: pd.DataFrame, *, pt_multiplier: float | None = None,
                          sl_multiplier: float | None = None, max_holding_period: int | None = None,
                          vol_span: int | None = None, vol_method: str | None = None,
                          profit_target_atr: float | None = None, stop_loss_atr: float | None = None,
                          max_holding_bars: int | None = None, atr_period: int | None = None,
                          cusum_threshold: float | None = None, cusum_multiplier: float = 0.5,
                          compute_weights: bool = False) -> LabelSet:
    """Triple-barrier classes (BUY = take-profit, SELL = stop-loss, HOLD = time limit with a small return).

    `cusum_threshold` keeps only CUSUM event bars (> 0: a fixed threshold; <= 0: `cusum_multiplier` × the
    series' volatility); `compute_weights` adds uniqueness weights (mean 1) over the labels that remain.
    """
    spec = resolve_barriers({
        "pt_multiplier": pt_multiplier, "sl_multiplier": sl_multiplier, "max_holding_period": max_holding_period,
        "vol_span": vol_span, "vol_method": vol_method, "profit_target_atr": profit_target_atr,
        "stop_loss_atr": stop_loss_atr, "max_holding_bars": max_holding_bars, "atr_period": atr_period})
    close, high, low = column(frame), column(frame, "high"), column(frame, "low")
    nonzero(close)
    need = spec.max_holding_period + spec.vol_span
    if len(close) < need:
        raise TrainingError(f"triple-barrier labels need at least {need} bars (max_holding_period "
                            f"{spec.max_holding_period} + vol_span {spec.vol_span}), got {len(close)}",
                            field="frame", hint="load a longer date range or shorten the barrier settings")
    outcome, held = barrier_outcomes(close, high, low, spec)
    labels = _classes(outcome, len(close))
    if cusum_threshold is not None:
        h = cusum_scale(close, cusum_threshold, cusum_multiplier, spec.vol_span)
        labels[~cusum_events(close, h)] = UNLABELED
    holding = np.zeros(len(close), dtype=np.int64)
    holding[:len(held)] = held
    holding[labels == UNLABELED] = 0
    if not compute_weights:
        return LabelSet(labels, CLASSES, holding=holding)
    weights = np.full(len(close), np.nan)
    kept = np.flatnonzero(labels != UNLABELED)
    weights[kept] = uniqueness_weights(kept, holding[kept])
    return LabelSet(labels, CLASSES, weights=weights, holding=holding, weighting="uniqueness")
