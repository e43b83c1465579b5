"""Bar timeframes (1m … 1w), their fixed UTC grids, and timestamp normalisation."""

from __future__ import annotations

import datetime as dt
import difflib
from enum import StrEnum

import pandas as pd

from ktrdr.data.errors import TimeframeError

_MINUTES = {"1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "4h": 240, "1d": 1440, "1w": 10080}
_ALIASES = {
    "1min": "1m", "1minute": "1m", "m1": "1m", "5min": "5m", "m5": "5m", "15min": "15m", "m15": "15m",
    "30min": "30m", "m30": "30m", "60m": "1h", "60min": "1h", "1hour": "1h", "h1": "1h", "h": "1h",
    "240m": "4h", "4hour": "4h", "4hours": "4h", "h4": "4h", "1day": "1d", "d": "1d", "d1": "1d",
    "daily": "1d", "1440m": "1d", "24h": "1d", "1week": "1w", "w": "1w", "w1": "1w", "weekly": "1w",
}
# Every grid starts at the Unix epoch, except weeks: they start on Sunday 00:00 UTC so that the
# FX week (Sunday 17:00 New York to Friday 17:00 New York) falls inside one weekly bar.
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
_WEEK_ORIGIN = pd.Timestamp("1970-01-04", tz="UTC")


class Timeframe(StrEnum):
    """A supported bar size; the value is its canonical string (`"1h"`)."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"
    W1 = "1w"

    @classmethod
    def parse(cls, value: str | Timeframe) -> Timeframe:
        """Parse `"1h"`, `"60min"`, `"H1"`, `"daily"`…; raise TimeframeError with a suggestion."""
        if isinstance(value, Timeframe):
            return value
        text = str(value).strip().lower().replace(" ", "")
        text = _ALIASES.get(text, text)
        if text in _MINUTES:
            return cls(text)
        close = difflib.get_close_matches(text, list(_MINUTES) + list(_ALIASES), n=1)
        hint = f"did you mean {_ALIASES.get(close[0], close[0])!r}?" if close else None
        raise TimeframeError(f"unknown timeframe {value!r}; use one of {', '.join(_MINUTES)}",
                             value=str(value), hint=hint)

    @property
    def minutes(self) -> int:
        """Length of one bar in minutes."""
        return _MINUTES[self.value]

    @property
    def duration(self) -> pd.Timedelta:
        """Length of one bar."""
        return pd.Timedelta(minutes=self.minutes)

    @property
    def rule(self) -> str:
        """pandas resample rule (fixed-length, so that `origin` is honoured on UTC indexes)."""
        return f"{self.minutes}min" if self.minutes < 60 else f"{self.minutes // 60}h"

    @property
    def origin(self) -> pd.Timestamp:
        """Start of this timeframe's grid; bars open at origin + k * duration."""
        return _WEEK_ORIGIN if self is Timeframe.W1 else _EPOCH

    def floor(self, ts: object) -> pd.Timestamp:
        """Open time of the bar containing `ts`."""
        t = to_utc(ts)
        return self.origin + ((t - self.origin) // self.duration) * self.duration

    def ceil(self, ts: object) -> pd.Timestamp:
        """First bar open at or after `ts`."""
        t = to_utc(ts)
        floored = self.floor(t)
        return floored if floored == t else floored + self.duration

    def grid(self, start: object, end: object) -> pd.DatetimeIndex:
        """All bar opens in [start, end)."""
        first, stop = self.ceil(start), to_utc(end)
        if first >= stop:
            return pd.DatetimeIndex([], dtype="datetime64[ns, UTC]", name="timestamp")
        count = int((stop - first - pd.Timedelta(1)) // self.duration) + 1
        return pd.date_range(first, periods=count, freq=self.duration, name="timestamp").as_unit("ns")


def to_utc(value: object) -> pd.Timestamp:
    """A UTC pandas Timestamp from a str/datetime/date/Timestamp; naive values are taken as UTC."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise TimeframeError(f"not a timestamp: {value!r}", value=str(value),
                             hint="use ISO 8601, e.g. 2024-01-31T00:00:00Z") from exc
    if ts is pd.NaT:
        raise TimeframeError(f"not a timestamp: {value!r}", value=str(value))
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
