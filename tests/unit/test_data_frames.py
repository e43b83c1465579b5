"""Timeframes, resampling, validation and the storage codec."""

import numpy as np
import pandas as pd
import pytest

from ktrdr.data.codec import decode_frame, encode_frame
from ktrdr.data.errors import CorruptDataError, TimeframeError
from ktrdr.data.frames import OHLCV_COLUMNS, make_frame, resample
from ktrdr.data.timeframes import Timeframe
from ktrdr.data.validation import DUPLICATE, NON_POSITIVE, OHLC_RELATION, validate


def frame(index, rows):
    """Build a frame from (o, h, l, c, v) tuples."""
    arr = np.array(rows, dtype=float).reshape(len(rows), 5)
    return make_frame(index, {c: arr[:, i] for i, c in enumerate(OHLCV_COLUMNS)})


def random_frame(n: int, tf: str = "1h", start: str = "2024-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    opens = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(opens, close) * 1.002
    low = np.minimum(opens, close) * 0.998
    idx = pd.date_range(start, periods=n, freq=Timeframe.parse(tf).duration, tz="UTC")
    return make_frame(idx, {"open": opens, "high": high, "low": low, "close": close, "volume": rng.integers(1, 99, n)})


def test_timeframe_parse_aliases_and_hint():
    assert Timeframe.parse("60min") is Timeframe.H1 and Timeframe.parse("Daily") is Timeframe.D1
    with pytest.raises(TimeframeError, match="did you mean"):
        Timeframe.parse("1hr")


def test_weekly_grid_starts_on_sunday():
    assert Timeframe.W1.floor("2024-01-03T12:00Z").day_name() == "Sunday"
    assert Timeframe.H4.floor("2024-01-01T05:59Z") == pd.Timestamp("2024-01-01T04:00Z")


def test_resample_aggregates_first_max_min_last_sum_labelled_by_open():
    df = random_frame(48)
    out = resample(df, "4h")
    block = df.iloc[4:8]
    row = out.loc[block.index[0]]
    assert row["open"] == block["open"].iloc[0] and row["close"] == block["close"].iloc[-1]
    assert row["high"] == block["high"].max() and row["low"] == block["low"].min()
    assert row["volume"] == block["volume"].sum()
    assert len(out) == 12 and out.index[0] == df.index[0]


def test_resample_drops_empty_bins_and_refuses_smaller_target():
    df = random_frame(48).drop(random_frame(48).index[8:16])
    out = resample(df, "4h")
    assert pd.Timestamp("2024-01-01T08:00Z") not in out.index and len(out) == 10
    with pytest.raises(TimeframeError, match="smaller timeframe"):
        resample(df, "15m")


def test_resample_daily_to_weekly_keeps_whole_weeks():
    df = random_frame(21, "1d", start="2024-01-07")  # three Sunday-started weeks
    out = resample(df, "1w")
    assert len(out) == 3 and out["volume"].sum() == df["volume"].sum()


def test_validate_sorts_dedups_keeping_last_and_reports():
    idx = pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-02"], utc=True)
    df = frame(idx, [(1, 2, 0.5, 1.5, 1), (1, 2, 0.5, 1.5, 2), (3, 4, 2, 3.5, 9)])
    clean, report = validate(df)
    assert list(clean.index) == sorted(set(idx))
    assert clean.loc["2024-01-02", "volume"] == 9  # the last of the duplicated rows
    assert report.reordered and report.duplicates_removed == 1 and report.counts[DUPLICATE] == 1


def test_validate_rejects_bad_prices_and_repairs_relations():
    idx = pd.date_range("2024-01-01", periods=4, freq="1D", tz="UTC")
    df = frame(idx, [(1, 2, 0.5, 1.5, 1), (0, 2, 0.5, 1.5, 1), (np.nan, 2, 1, 1.5, 1), (2, 1.5, 1.8, 1.0, -5)])
    clean, report = validate(df)
    assert len(clean) == 2 and report.rejected == 2 and report.counts[NON_POSITIVE] == 1
    last = clean.iloc[-1]
    assert last["high"] == 2 and last["low"] == 1.0 and last["volume"] == 0
    assert report.counts[OHLC_RELATION] == 1 and not report.clean
    assert {i.timestamp for i in report.issues if i.action == "rejected"} == {str(idx[1]), str(idx[2])}


def test_validate_clean_frame_is_unchanged():
    df = random_frame(50)
    clean, report = validate(df)
    pd.testing.assert_frame_equal(clean, df)
    assert report.clean and report.rows_out == 50


def test_codec_round_trip_is_bit_exact():
    df = random_frame(1000, "1m")
    df.iloc[3, 4] = -0.0
    back = decode_frame(encode_frame(df))
    pd.testing.assert_frame_equal(back, df, check_freq=False)
    assert np.array_equal(back.to_numpy().view(np.int64), df.to_numpy().view(np.int64))
    assert len(encode_frame(df)) < df.memory_usage().sum()


def test_codec_rejects_garbage():
    with pytest.raises(CorruptDataError):
        decode_frame(b"not a frame", key="X/1h")
    data = encode_frame(random_frame(10))
    with pytest.raises(CorruptDataError):
        decode_frame(data[:-5])
