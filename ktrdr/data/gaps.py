"""Gap analysis: missing bars on a series' grid, classified as expected (market closed) or not."""

from __future__ import annotations

import datetime as dt

import msgspec
import numpy as np
import pandas as pd

from ktrdr.data.calendars import NEW_YORK, check_calendar, holiday_name, open_mask
from ktrdr.data.frames import utc_index
from ktrdr.data.timeframes import Timeframe


class Gap(msgspec.Struct, frozen=True, kw_only=True):
    """A run of missing bars: opens from `start` up to (not including) `end`, the next bar present."""

    start: dt.datetime
    end: dt.datetime
    missing_bars: int
    expected: bool
    reason: str


class GapReport(msgspec.Struct, frozen=True, kw_only=True):
    """Every gap of a series between its first and last bar, and coverage of trading-time bars."""

    timeframe: str
    calendar: str
    bars: int
    first: dt.datetime | None
    last: dt.datetime | None
    trading_bars: int  # grid bars between first and last that overlap a session
    gaps: list[Gap] = []

    @property
    def unexpected(self) -> list[Gap]:
        """Gaps during trading time."""
        return [g for g in self.gaps if not g.expected]

    @property
    def missing_unexpected_bars(self) -> int:
        """Bars missing during trading time."""
        return sum(g.missing_bars for g in self.unexpected)

    @property
    def coverage(self) -> float:
        """Share of trading-time bars that are present (1.0 = none missing)."""
        if not self.trading_bars:
            return 1.0
        return 1.0 - self.missing_unexpected_bars / self.trading_bars


def _expected_reason(start: pd.Timestamp, end: pd.Timestamp, calendar: str) -> str:
    if calendar == "fx":
        return "fx weekend"
    days = pd.date_range(start.tz_convert(NEW_YORK).date(), (end - pd.Timedelta(1)).tz_convert(NEW_YORK).date())
    names = [n for n in (holiday_name(d.date()) for d in days if d.day_of_week < 5) if n]
    weekend = bool((days.day_of_week >= 5).any())
    if names:
        return "holiday: " + ", ".join(dict.fromkeys(names)) + (" + weekend" if weekend else "")
    return "weekend" if weekend else "outside market hours"


def _runs(positions: np.ndarray) -> list[np.ndarray]:
    """Split sorted grid positions into runs of consecutive values."""
    if not len(positions):
        return []
    return np.split(positions, np.flatnonzero(np.diff(positions) != 1) + 1)


def analyze_gaps(df: pd.DataFrame, timeframe: str | Timeframe, calendar: str = "us_stock") -> GapReport:
    """List each gap of `df` on the `timeframe` grid, expected when no missing bar overlaps a session."""
    tf, cal = Timeframe.parse(timeframe), check_calendar(calendar)
    if df.empty:
        return GapReport(timeframe=str(tf), calendar=cal, bars=0, first=None, last=None, trading_bars=0)
    present = utc_index(df.index).map(tf.floor).unique()  # off-grid stamps count for the bar they fall in
    grid = tf.grid(present[0], present[-1] + tf.duration)
    trading = open_mask(grid, tf, cal)
    missing = np.flatnonzero(~grid.isin(present))
    gaps = []
    for run in _runs(missing):
        start, end = grid[run[0]], grid[run[-1]] + tf.duration
        expected = not trading[run].any()
        reason = _expected_reason(start, end, cal) if expected else "missing during trading hours"
        gaps.append(Gap(start=start.to_pydatetime(), end=end.to_pydatetime(), missing_bars=len(run),
                        expected=expected, reason=reason))
    return GapReport(timeframe=str(tf), calendar=cal, bars=len(present), first=present[0].to_pydatetime(),
                     last=present[-1].to_pydatetime(), trading_bars=int(trading.sum()), gaps=gaps)
