"""IB pacing with a fake clock, and IbProvider at the ib_insync boundary.

`FakeIB` stands in for `ib_insync.IB`: the same method names and arguments (qualifyContracts,
reqHeadTimeStamp, reqHistoricalData), returning ib_insync `BarData` and raising ib_insync's
`RequestError` with IB's error 162 (pacing violation), as `IB` does with RaiseRequestErrors set.
"""

import datetime as dt

import pandas as pd
import pytest
from ib_insync import BarData
from ib_insync.wrapper import RequestError

from ktrdr.context import CancelToken
from ktrdr.data.errors import ContractNotFound, FetchCancelled, FetchError
from ktrdr.data.ib import IB_BAR_SIZES, IbProvider
from ktrdr.data.pacing import PacingLimiter, PacingRules
from ktrdr.data.synthetic import SyntheticProvider
from ktrdr.data.timeframes import Timeframe

PACING = "Historical Market Data Service error message:Historical data request pacing violation"
_DURATIONS = {"1 D": pd.DateOffset(days=1), "1 W": pd.DateOffset(weeks=1), "1 M": pd.DateOffset(months=1),
              "1 Y": pd.DateOffset(years=1)}


class FakeClock:
    """Monotonic time that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class FakeIB:
    """Stand-in for ib_insync.IB serving bars of a known truth series."""

    def __init__(self, truth: pd.DataFrame, head: dt.datetime, pacing_errors: int = 0) -> None:
        self.truth, self.head, self.pacing_errors = truth, head, pacing_errors
        self.calls: list[dict] = []
        self.RaiseRequestErrors = False
        self.on_call = lambda n: None

    def qualifyContracts(self, *contracts):
        known = [c for c in contracts if c.symbol != "ZZZZ"]
        for c in known:
            c.conId = 4242
        return known

    def reqHeadTimeStamp(self, contract, whatToShow, useRTH, formatDate=1):
        return self.head

    def reqHistoricalData(self, contract, endDateTime, durationStr, barSizeSetting, whatToShow, useRTH,
                          formatDate=1, keepUpToDate=False, chartOptions=(), timeout=60):
        self.calls.append({"end": endDateTime, "duration": durationStr, "bar": barSizeSetting, "what": whatToShow})
        self.on_call(len(self.calls))
        if self.pacing_errors:
            self.pacing_errors -= 1
            raise RequestError(len(self.calls), 162, PACING)
        end = pd.Timestamp(endDateTime)
        rows = self.truth[(self.truth.index >= end - _DURATIONS[durationStr]) & (self.truth.index < end)]
        daily = barSizeSetting in ("1 day", "1 week")
        return [BarData(date=ts.date() if daily else ts.to_pydatetime(), open=r.open, high=r.high, low=r.low,
                        close=r.close, volume=-1 if whatToShow == "MIDPOINT" else r.volume, average=0, barCount=1)
                for ts, r in rows.iterrows()]


def make_provider(tf: str, symbol: str = "AAPL", pacing_errors: int = 0, span=("2023-01-01", "2024-01-01")):
    truth = SyntheticProvider(9, grid="continuous").fetch(symbol, tf, *span)
    clock = FakeClock()
    ib = FakeIB(truth, dt.datetime(2023, 3, 1, tzinfo=dt.timezone.utc), pacing_errors)
    limiter = PacingLimiter(clock=clock.now, sleep=clock.sleep)
    return IbProvider(ib, limiter), ib, truth, clock


def test_burst_of_100_requests_is_spread_as_ib_rules_demand():
    clock = FakeClock()
    limiter = PacingLimiter(clock=clock.now, sleep=clock.sleep)
    for i in range(100):
        limiter.acquire(f"C{i % 3}", f"req{i}")
    times = [t for t, _, _ in limiter.requests]
    r = PacingRules()
    assert all(b - a >= r.min_interval_s for a, b in zip(times, times[1:]))
    assert all(times[i + r.max_requests] - times[i] >= r.window_s for i in range(len(times) - r.max_requests))
    # As early as the rules allow: 2 s spacing until the 60-in-10-minutes window is full.
    assert times[r.max_requests - 1] == (r.max_requests - 1) * r.min_interval_s
    assert times[r.max_requests] == times[0] + r.window_s
    assert times[-1] == times[99 - r.max_requests] + r.window_s


def test_identical_request_waits_15_s_and_per_contract_limit_holds():
    clock = FakeClock()
    limiter = PacingLimiter(clock=clock.now, sleep=clock.sleep)
    limiter.acquire("A", "same")
    limiter.acquire("A", "same")
    assert clock.t == PacingRules().identical_interval_s
    burst = PacingLimiter(PacingRules(min_interval_s=0.0), clock=clock.now, sleep=clock.sleep)
    start = clock.t
    for i in range(7):
        burst.acquire("A", f"r{i}")
    times = [t - start for t, _, _ in burst.requests]
    assert times[:6] == [0.0] * 6 and times[6] == 2.0


def test_backoff_doubles_after_violations_and_resets_on_success():
    clock = FakeClock()
    limiter = PacingLimiter(clock=clock.now, sleep=clock.sleep)
    assert limiter.record_violation() == 15.0 and limiter.record_violation() == 30.0
    assert limiter.delay("A", "x") == 30.0
    limiter.record_success()
    assert limiter.record_violation() == 15.0


def test_segments_follow_ib_duration_limits_and_merge_exactly():
    provider, ib, truth, _ = make_provider("1h")
    out = provider.fetch("AAPL", "1h", "2023-06-01", "2023-09-01")
    expected = truth[(truth.index >= "2023-06-01") & (truth.index < "2023-09-01")]
    pd.testing.assert_frame_equal(out, expected, check_freq=False)
    assert len(ib.calls) == 4 and {c["duration"] for c in ib.calls} == {"1 M"}  # 92 days / 28-day segments
    assert {c["bar"] for c in ib.calls} == {"1 hour"} and ib.RaiseRequestErrors is True
    assert IB_BAR_SIZES[Timeframe.M1][1] == "1 D" and IB_BAR_SIZES[Timeframe.D1][1] == "1 Y"


def test_head_timestamp_clips_the_start_and_fx_uses_midpoint():
    provider, ib, truth, _ = make_provider("1d", symbol="EURUSD")
    out = provider.fetch("EURUSD", "1d", "2020-01-01", "2023-06-01")
    assert out.index[0] == pd.Timestamp("2023-03-01", tz="UTC") and (out["volume"] == 0).all()
    assert {c["what"] for c in ib.calls} == {"MIDPOINT"}
    assert type(provider.contract("EURUSD")).__name__ == "Forex"
    with pytest.raises(ContractNotFound):
        provider.contract("ZZZZ")


def test_pacing_error_162_is_retried_after_backoff():
    provider, ib, truth, clock = make_provider("1d", pacing_errors=2)
    out = provider.fetch("AAPL", "1d", "2023-06-01", "2023-07-01")
    assert len(out) == 30 and len(ib.calls) == 3
    hist = [t for t, _, req in provider.pacing.requests if not req.startswith("head")]
    assert hist[1] - hist[0] >= 15.0 and hist[2] - hist[1] >= 30.0  # doubling back-off


def test_failure_keeps_partial_and_cancel_stops_between_segments():
    provider, ib, truth, _ = make_provider("1m", span=("2023-05-30", "2023-06-07"))

    def fail_third(n):
        if n == 3:
            raise ConnectionError("IB gateway went away")
    ib.on_call = fail_third
    with pytest.raises(FetchError) as info:
        provider.fetch("AAPL", "1m", "2023-06-01", "2023-06-06")
    assert info.value.partial.index[-1] < pd.Timestamp("2023-06-03", tz="UTC") and len(info.value.partial) == 2880
    assert isinstance(info.value.__cause__, ConnectionError)

    provider, ib, truth, _ = make_provider("1m", span=("2023-05-30", "2023-06-07"))
    token = CancelToken()
    ib.on_call = lambda n: token.cancel("user") if n == 2 else None
    with pytest.raises(FetchCancelled) as cancelled:
        provider.fetch("AAPL", "1m", "2023-06-01", "2023-06-06", cancel=token)
    assert len(ib.calls) == 2 and len(cancelled.value.partial) == 2880
