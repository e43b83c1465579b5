"""Trading calendars: US exchange holidays by rule, and session intervals for us_stock, fx, crypto.

us_stock: regular hours 09:30–16:00 America/New_York on weekdays that are not NYSE holidays
(early closes are treated as full days). fx: 24×5, Sunday 17:00 to Friday 17:00 New York, no
holidays. crypto: always open.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import pandas as pd

from ktrdr.data.errors import DataError
from ktrdr.data.timeframes import Timeframe

CalendarName = Literal["us_stock", "fx", "crypto"]
CALENDARS: tuple[str, ...] = ("us_stock", "fx", "crypto")
NEW_YORK = "America/New_York"
# Closures decided case by case, not by rule.
SPECIAL_CLOSURES = {dt.date(2025, 1, 9): "National Day of Mourning (President Carter)"}


def _easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th (1-based; -1 = last) given weekday (Mon=0) of a month."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    """Saturday holidays are observed on Friday, Sunday holidays on Monday."""
    return day + dt.timedelta(days={5: -1, 6: 1}.get(day.weekday(), 0))


def us_holidays(year: int) -> dict[dt.date, str]:
    """NYSE full-day holidays of a year, by rule (observed dates), plus special closures."""
    days = {
        _nth_weekday(year, 1, 0, 3): "Martin Luther King Jr. Day",
        _nth_weekday(year, 2, 0, 3): "Presidents' Day",
        _easter(year) - dt.timedelta(days=2): "Good Friday",
        _nth_weekday(year, 5, 0, -1): "Memorial Day",
        _observed(dt.date(year, 7, 4)): "Independence Day",
        _nth_weekday(year, 9, 0, 1): "Labor Day",
        _nth_weekday(year, 11, 3, 4): "Thanksgiving Day",
        _observed(dt.date(year, 12, 25)): "Christmas Day",
    }
    new_year = dt.date(year, 1, 1)
    if new_year.weekday() != 5:  # NYSE rule: a Saturday New Year is not observed on the Friday before
        days[_observed(new_year)] = "New Year's Day"
    if year >= 2022:
        days[_observed(dt.date(year, 6, 19))] = "Juneteenth"
    days.update({d: n for d, n in SPECIAL_CLOSURES.items() if d.year == year})
    return dict(sorted(days.items()))


def holiday_name(day: dt.date) -> str | None:
    """The NYSE holiday on `day`, or None."""
    return us_holidays(day.year).get(day)


def check_calendar(name: str) -> CalendarName:
    """Validate a calendar name."""
    if name not in CALENDARS:
        raise DataError(f"unknown calendar {name!r}", hint=f"use one of {', '.join(CALENDARS)}")
    return name  # type: ignore[return-value]


def _ny_to_utc_ns(days: pd.DatetimeIndex, clock: str) -> np.ndarray:
    local = (days + pd.Timedelta(clock)).tz_localize(NEW_YORK)
    return local.tz_convert("UTC").as_unit("ns").asi8


def sessions(calendar: str, start: pd.Timestamp, end: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (opens, closes) in UTC ns of every session overlapping [start, end)."""
    name = check_calendar(calendar)
    if name == "crypto":
        return np.array([start.value]), np.array([end.value])
    days = pd.date_range(start.tz_convert(NEW_YORK).date() - dt.timedelta(days=7),
                         end.tz_convert(NEW_YORK).date() + dt.timedelta(days=1), freq="D")
    if name == "fx":
        sundays = days[days.day_of_week == 6]
        return _ny_to_utc_ns(sundays, "17:00:00"), _ny_to_utc_ns(sundays + pd.Timedelta(days=5), "17:00:00")
    holidays = {d for y in range(days[0].year, days[-1].year + 1) for d in us_holidays(y)}
    trading = days[(days.day_of_week < 5) & ~np.isin(days.date, list(holidays))]
    return _ny_to_utc_ns(trading, "09:30:00"), _ny_to_utc_ns(trading, "16:00:00")


def open_mask(bar_opens: pd.DatetimeIndex, timeframe: Timeframe, calendar: str) -> np.ndarray:
    """For each bar [open, open + tf): True when it overlaps a trading session."""
    if len(bar_opens) == 0:
        return np.zeros(0, dtype=bool)
    starts = bar_opens.as_unit("ns").asi8
    ends = starts + timeframe.duration.value
    opens, closes = sessions(calendar, bar_opens[0], bar_opens[-1] + timeframe.duration)
    i = np.searchsorted(closes, starts, side="right")  # first session closing after the bar opens
    ok = i < len(opens)
    return ok & (opens[np.minimum(i, len(opens) - 1)] < ends)
