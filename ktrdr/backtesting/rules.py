"""Plain signal rules computed from prices alone: for runs without a model and for checks against other engines."""

from __future__ import annotations

import numpy as np
import pandas as pd


def ma_cross_signals(close: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """+1 on the bar where the fast SMA crosses above the slow one, -1 where it crosses below, else 0 (int8).

    Comparisons with an undefined average are false, so no signal appears before `slow` bars of history.
    """
    f = pd.Series(close).rolling(fast).mean().to_numpy()
    s = pd.Series(close).rolling(slow).mean().to_numpy()
    up, down = np.zeros(len(close), bool), np.zeros(len(close), bool)
    with np.errstate(invalid="ignore"):
        up[1:] = (f[:-1] < s[:-1]) & (f[1:] > s[1:])
        down[1:] = (s[:-1] < f[:-1]) & (s[1:] > f[1:])
    return np.where(up, 1, np.where(down, -1, 0)).astype(np.int8)
