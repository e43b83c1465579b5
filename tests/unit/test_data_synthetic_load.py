"""Synthetic determinism and chunk invariance, and data_load modes incl. cancellation keeping data."""

import numpy as np
import pandas as pd
import pytest

from ktrdr.context import CancelToken, ProgressReporter
from ktrdr.data.errors import DataLoadCancelled, DataLoadError
from ktrdr.data.frames import resample
from ktrdr.data.gaps import analyze_gaps
from ktrdr.data.loading import load_data
from ktrdr.data.store import DataRepository, MemoryFrameStore
from ktrdr.data.synthetic import SyntheticProvider
from ktrdr.data.validation import validate


def test_same_seed_same_bars_whatever_the_chunks():
    whole = SyntheticProvider(3).fetch("EURUSD", "15m", "2024-01-01", "2024-01-20")
    cuts = ["2024-01-01", "2024-01-03T07:45", "2024-01-09T13:00", "2024-01-20"]
    parts = [SyntheticProvider(3, chunk_bars=97).fetch("EURUSD", "15m", a, b) for a, b in zip(cuts, cuts[1:])]
    pd.testing.assert_frame_equal(pd.concat(parts), whole, check_freq=False)
    assert not SyntheticProvider(4).fetch("EURUSD", "15m", "2024-01-01", "2024-01-20").equals(whole)
    assert not SyntheticProvider(3).fetch("GBPUSD", "15m", "2024-01-01", "2024-01-20").equals(whole)


def test_bars_are_valid_and_fx_grid_has_only_weekend_gaps():
    df = SyntheticProvider(1).fetch("EURUSD", "1h", "2024-01-01", "2024-03-01")
    assert validate(df)[1].clean and (df[["open", "high", "low", "close"]] > 0).all().all()
    report = analyze_gaps(df, "1h", "fx")
    assert report.gaps and not report.unexpected


def test_timeframes_share_daily_opens_and_closes_on_the_continuous_grid():
    provider = SyntheticProvider(2, grid="continuous")
    hourly = resample(provider.fetch("AAPL", "1h", "2024-02-01", "2024-02-15"), "1d")
    daily = provider.fetch("AAPL", "1d", "2024-02-01", "2024-02-15")
    pd.testing.assert_series_equal(hourly["close"], daily["close"], rtol=1e-12, check_freq=False)
    pd.testing.assert_series_equal(hourly["open"], daily["open"], rtol=1e-12, check_freq=False)


def test_regimes_switch_and_differ_in_volatility():
    provider = SyntheticProvider(0, grid="continuous")
    regimes = provider.regimes("AAPL", "2000-01-01", "2010-01-01")
    assert set(regimes.unique()) == {0, 1, 2, 3} and (regimes.diff().fillna(0) != 0).sum() > 50
    daily = provider.fetch("AAPL", "1d", "2000-01-01", "2010-01-01")
    returns = np.log(daily["close"] / daily["open"])  # a daily bar spans exactly one day's regime
    by_regime = returns.groupby(regimes.reindex(daily.index).to_numpy())
    assert by_regime.std()[3] > 1.5 * by_regime.std()[2]  # the volatile regime moves more than the range one
    assert by_regime.mean()[0] > 0 > by_regime.mean()[1]  # trends trend


def test_load_modes_full_tail_backfill():
    repo, provider = DataRepository(MemoryFrameStore()), SyntheticProvider(5, chunk_bars=200)
    truth = provider.fetch("EURUSD", "1h", "2024-01-01", "2024-03-01")
    first = load_data(provider, repo, "EURUSD", "1h", "full", "2024-01-15", "2024-02-01")
    assert first.status == "completed" and first.segments_total > 1
    tail = load_data(provider, repo, "EURUSD", "1h", "tail", now="2024-03-01T00:30Z")
    assert tail.start == pd.Timestamp("2024-02-01", tz="UTC")
    back = load_data(provider, repo, "EURUSD", "1h", "backfill", start="2024-01-01")
    assert back.end == pd.Timestamp("2024-01-15", tz="UTC")
    pd.testing.assert_frame_equal(repo.load("EURUSD", "1h"), truth, check_freq=False)
    again = load_data(provider, repo, "EURUSD", "1h", "tail", now="2024-03-01T00:30Z")
    assert again.status == "up_to_date" and again.stored_rows == len(truth)


def test_cancel_keeps_what_was_fetched_and_reports_progress():
    repo, provider = DataRepository(MemoryFrameStore()), SyntheticProvider(5, chunk_bars=100)
    token, progress = CancelToken(), ProgressReporter()

    class Cancelling:
        name = "synthetic"
        earliest, segment_span = provider.earliest, provider.segment_span

        def fetch(self, *args, **kwargs):
            if progress.snapshot().get("steps_completed") == 3:
                token.cancel("user asked")
            return provider.fetch(*args, **kwargs)

    with pytest.raises(DataLoadCancelled) as info:
        load_data(Cancelling(), repo, "EURUSD", "1h", "full", "2024-01-01", "2024-03-01", progress=progress,
                  cancel=token, save_every=100)
    result = info.value.result
    assert result.status == "cancelled" and result.segments_done == 3 < result.segments_total
    stored = repo.load("EURUSD", "1h")
    assert result.stored_rows == len(stored) == result.fetched_rows > 0
    truth = provider.fetch("EURUSD", "1h", "2024-01-01", "2024-03-01")
    pd.testing.assert_frame_equal(stored, truth.iloc[: len(stored)], check_freq=False)


def test_failure_saves_partial_and_backfill_goes_newest_first():
    repo, provider = DataRepository(MemoryFrameStore()), SyntheticProvider(5, chunk_bars=100)
    load_data(provider, repo, "EURUSD", "1h", "full", "2024-02-01", "2024-02-10")
    calls = []

    class Failing:
        name = "synthetic"
        earliest, segment_span = provider.earliest, provider.segment_span

        def fetch(self, symbol, tf, start, end, **kwargs):
            calls.append(start)
            if len(calls) == 3:
                raise ConnectionError("source went away")
            return provider.fetch(symbol, tf, start, end, **kwargs)

    with pytest.raises(DataLoadError) as info:
        load_data(Failing(), repo, "EURUSD", "1h", "backfill", start="2024-01-01")
    assert calls == sorted(calls, reverse=True)
    stored = repo.load("EURUSD", "1h")
    assert stored.index[0] == calls[1] and info.value.result.status == "failed"
    assert isinstance(info.value.__cause__.__cause__, ConnectionError)
