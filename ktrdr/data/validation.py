"""Repair or reject bad OHLCV rows, and say exactly what was done."""

from __future__ import annotations

import msgspec
import numpy as np
import pandas as pd

from ktrdr.data.errors import FrameError
from ktrdr.data.frames import OHLCV_COLUMNS, utc_index

PRICE_COLUMNS = ("open", "high", "low", "close")
MAX_LISTED = 200  # rows listed per report; counts stay exact beyond it

DUPLICATE = "duplicate timestamp (kept the last row)"
NO_TIMESTAMP = "missing timestamp"
NAN_PRICE = "missing or infinite price"
NON_POSITIVE = "non-positive price"
NAN_VOLUME = "missing volume set to 0"
NEGATIVE_VOLUME = "negative volume set to 0"
OHLC_RELATION = "high/low widened to contain open and close"


class RowIssue(msgspec.Struct, frozen=True, kw_only=True):
    """One row that was repaired or rejected."""

    timestamp: str
    reason: str
    action: str  # "repaired" | "rejected" | "dropped"


class ValidationReport(msgspec.Struct, frozen=True, kw_only=True):
    """What validate() changed: exact counts per reason and the first MAX_LISTED rows."""

    rows_in: int
    rows_out: int
    reordered: bool = False
    duplicates_removed: int = 0
    rejected: int = 0
    repaired: int = 0
    counts: dict[str, int] = {}
    issues: list[RowIssue] = []
    truncated: bool = False

    @property
    def clean(self) -> bool:
        """True when the input needed no change at all."""
        return not (self.reordered or self.duplicates_removed or self.rejected or self.repaired)

    def summary(self) -> str:
        """One human line: rows in/out and counts per reason."""
        parts = [f"{n} × {reason}" for reason, n in self.counts.items()]
        if self.reordered:
            parts.insert(0, "rows sorted by time")
        return f"{self.rows_in} rows in, {self.rows_out} out" + (": " + "; ".join(parts) if parts else " (clean)")


class _Collector:
    """Accumulates issues by mask so that every rule records rows the same way."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.issues: list[RowIssue] = []
        self.actions: dict[str, int] = {"repaired": 0, "rejected": 0, "dropped": 0}
        self.truncated = False

    def add(self, index: pd.Index, mask: np.ndarray, reason: str, action: str) -> None:
        n = int(mask.sum())
        if not n:
            return
        self.counts[reason] = self.counts.get(reason, 0) + n
        self.actions[action] += n
        room = MAX_LISTED - len(self.issues)
        self.truncated |= n > room
        for ts in index[mask][: max(room, 0)]:
            self.issues.append(RowIssue(timestamp=str(ts), reason=reason, action=action))


def _coerce(df: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in OHLCV_COLUMNS if c not in df.columns]
    if missing:
        raise FrameError(f"missing column(s) {missing}", hint=f"columns must be {list(OHLCV_COLUMNS)}")
    try:
        out = df.loc[:, list(OHLCV_COLUMNS)].astype(np.float64)
        out.index = utc_index(df.index)
    except (TypeError, ValueError) as exc:
        raise FrameError(f"cannot convert to an OHLCV frame: {exc}",
                         hint="index must be timestamps and columns numbers") from exc
    return out


def _prices_and_volume(df: pd.DataFrame, col: _Collector) -> pd.DataFrame:
    prices = df[list(PRICE_COLUMNS)].to_numpy()
    nan = ~np.isfinite(prices).all(axis=1)
    col.add(df.index, nan, NAN_PRICE, "rejected")
    nonpos = ~nan & (prices <= 0).any(axis=1)
    col.add(df.index, nonpos, NON_POSITIVE, "rejected")
    df = df.loc[~(nan | nonpos)].copy()
    vol = df["volume"].to_numpy()
    nan_vol, neg_vol = np.isnan(vol), vol < 0
    col.add(df.index, nan_vol, NAN_VOLUME, "repaired")
    col.add(df.index, neg_vol, NEGATIVE_VOLUME, "repaired")
    df.loc[nan_vol | neg_vol, "volume"] = 0.0
    return df


def _ohlc_relation(df: pd.DataFrame, col: _Collector) -> pd.DataFrame:
    p = df[list(PRICE_COLUMNS)].to_numpy()
    hi, lo = p.max(axis=1), p.min(axis=1)
    bad = (df["high"].to_numpy() < hi) | (df["low"].to_numpy() > lo)
    col.add(df.index, bad, OHLC_RELATION, "repaired")
    if bad.any():
        df = df.copy()
        df["high"], df["low"] = np.maximum(df["high"].to_numpy(), hi), np.minimum(df["low"].to_numpy(), lo)
    return df


def validate(df: pd.DataFrame) -> tuple[pd.DataFrame, ValidationReport]:
    """Sort, de-duplicate (keep last), reject NaN/non-positive prices, repair volume and OHLC relations."""
    col = _Collector()
    out = _coerce(df)
    rows_in = len(out)
    nat = np.asarray(out.index.isna())
    col.add(out.index, nat, NO_TIMESTAMP, "rejected")
    out = out.loc[~nat]
    reordered = not out.index.is_monotonic_increasing
    if reordered:
        out = out.sort_index(kind="stable")  # stable: "keep last" still means last in the input
    dup = out.index.duplicated(keep="last")
    col.add(out.index, dup, DUPLICATE, "dropped")
    out = _ohlc_relation(_prices_and_volume(out.loc[~dup], col), col)
    report = ValidationReport(
        rows_in=rows_in, rows_out=len(out), reordered=reordered, duplicates_removed=col.actions["dropped"],
        rejected=col.actions["rejected"], repaired=col.actions["repaired"], counts=col.counts,
        issues=col.issues, truncated=col.truncated)
    return out, report
