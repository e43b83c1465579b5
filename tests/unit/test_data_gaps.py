"""US holiday rules, sessions, and expected versus unexpected gaps."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ktrdr.data.calendars import open_mask, us_holidays
from ktrdr.data.frames import OHLCV_COLUMNS, make_frame
from ktrdr.data.gaps import analyze_gaps
from ktrdr.data.timeframes import Timeframe


def bars_at(index: pd.DatetimeIndex) -> pd.DataFrame:
    return make_frame(index, {c: np.ones(len(index)) for c in OHLCV_COLUMNS})


def session_bars(tf: str, start: str, end: str, calendar: str) -> pd.DatetimeIndex:
    t = Timeframe.parse(tf)
    grid = t.grid(start, end)
    return grid[open_mask(grid, t, calendar)]


@pytest.mark.parametrize(("day", "name"), [
    (dt.date(2021, 12, 24), "Christmas Day"),       # Saturday Christmas observed Friday
    (dt.date(2022, 6, 20), "Juneteenth"),           # Sunday Juneteenth observed Monday
    (dt.date(2023, 1, 2), "New Year's Day"),        # Sunday New Year observed Monday
    (dt.date(2024, 3, 29), "Good Friday"),
    (dt.date(2024, 11, 28), "Thanksgiving Day"),
    (dt.date(2026, 7, 3), "Independence Day"),      # Saturday July 4 observed Friday
    (dt.date(2027, 1, 18), "Martin Luther King Jr. Day"),
])
def test_us_holidays_by_rule(day, name):
    assert us_holidays(day.year)[day] == name


def test_saturday_new_year_and_pre_2022_juneteenth_are_not_holidays():
    assert dt.date(2021, 12, 31) not in us_holidays(2021)  # NYSE does not observe a Saturday New Year
    assert all("Juneteenth" not in n for n in us_holidays(2021).values())
    assert all(len(us_holidays(y)) >= 9 for y in range(2020, 2028))


def test_stock_overnight_weekend_and_holiday_gaps_are_expected():
    idx = session_bars("1h", "2024-11-25", "2024-12-03", "us_stock")
    report = analyze_gaps(bars_at(idx), "1h", "us_stock")
    assert report.gaps and not report.unexpected and report.coverage == 1.0
    reasons = {g.reason for g in report.gaps}
    assert {"outside market hours", "weekend", "holiday: Thanksgiving Day"} <= reasons


def test_missing_bars_in_trading_hours_are_unexpected():
    idx = session_bars("15m", "2024-03-04", "2024-03-09", "us_stock")
    report = analyze_gaps(bars_at(idx.delete([5, 6, 7])), "15m", "us_stock")
    [gap] = report.unexpected
    assert gap.start == idx[5].to_pydatetime() and gap.end == idx[8].to_pydatetime() and gap.missing_bars == 3
    assert report.missing_unexpected_bars == 3 and report.coverage < 1.0


def test_fx_weekend_is_expected_but_a_weekday_hole_is_not():
    idx = session_bars("1h", "2024-01-03", "2024-01-12", "fx")
    report = analyze_gaps(bars_at(idx), "1h", "fx")
    [weekend] = report.gaps
    assert weekend.expected and weekend.reason == "fx weekend"
    assert weekend.start == dt.datetime(2024, 1, 5, 22, tzinfo=dt.timezone.utc)  # Friday 17:00 New York (EST)
    holed = analyze_gaps(bars_at(idx.delete([3])), "1h", "fx")
    assert len(holed.unexpected) == 1


def test_fx_weekend_follows_new_york_summer_time():
    idx = session_bars("1h", "2024-07-01", "2024-07-10", "fx")
    [weekend] = analyze_gaps(bars_at(idx), "1h", "fx").gaps
    assert weekend.start.hour == 21 and weekend.end.hour == 21  # 17:00 EDT is 21:00 UTC


def test_crypto_weekend_gap_is_unexpected():
    idx = Timeframe.H4.grid("2024-01-01", "2024-01-15")
    weekday = idx[idx.day_of_week < 5]
    report = analyze_gaps(bars_at(weekday), "4h", "crypto")
    assert report.gaps and all(not g.expected for g in report.gaps)
