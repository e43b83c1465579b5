"""CSV import/export errors and repairs, and the repository (merge, range, digest-keyed cache)."""

from pathlib import Path

import pandas as pd
import pytest

from ktrdr.data.symbols import series_key
from ktrdr.data.csv_provider import CsvProvider
from ktrdr.data.csvio import read_csv, read_csv_with_report, symbol_timeframe_from_filename, write_csv
from ktrdr.data.errors import CorruptDataError, CsvFormatError, DataNotFoundError
from ktrdr.data.store import DataRepository, MemoryFrameStore
from ktrdr.data.synthetic import SyntheticProvider
from ktrdr.data.timeframes import Timeframe

FIXTURE = Path(__file__).parents[1] / "fixtures" / "data" / "EURUSD_1h.csv"
HEADER = "timestamp,open,high,low,close,volume\n"
GOOD = "2024-01-02T00:00:00Z,1,2,0.5,1.5,10\n"


def write(tmp_path: Path, body: str, name: str = "EURUSD_1h.csv") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def test_fixture_reads_as_conventional_frame():
    df = read_csv(FIXTURE)
    assert str(df.index.tz) == "UTC" and df.index.name == "timestamp" and len(df) == 4
    assert symbol_timeframe_from_filename(FIXTURE) == ("EURUSD", Timeframe.H1)


@pytest.mark.parametrize(("body", "line", "column", "problem"), [
    ("timestamp,open,high,low,volume\n" + GOOD.replace(",1.5", ""), 1, "close", "missing column"),
    (HEADER + GOOD + "2024-13-45T00:00:00Z,1,2,0.5,1.5,10\n", 3, "timestamp", "unparseable date"),
    (HEADER + GOOD + GOOD.replace("02T", "03T") + "2024-01-04T00:00:00Z,1,2,x,1.5,10\n", 4, "low", "not a number"),
    ("open,high,low,close,volume\n1,2,0.5,1.5,10\n", 1, "timestamp", "missing column"),
])
def test_bad_csv_names_file_line_and_column(tmp_path, body, line, column, problem):
    path = write(tmp_path, body)
    with pytest.raises(CsvFormatError) as info:
        read_csv(path)
    err = info.value
    assert (err.path, err.line, err.column) == (str(path), line, column)
    assert problem in str(err) and str(path) in str(err)


def test_duplicated_rows_are_repaired_keep_last_and_reported(tmp_path):
    path = write(tmp_path, HEADER + GOOD + GOOD.replace(",10", ",77"))
    df, report = read_csv_with_report(path)
    assert len(df) == 1 and df["volume"].iloc[0] == 77
    assert report.duplicates_removed == 1 and report.issues[0].timestamp.startswith("2024-01-02")


def test_csv_round_trip_keeps_every_digit(tmp_path):
    df = SyntheticProvider(5).fetch("EURUSD", "1h", "2024-01-01", "2024-01-08")
    back = read_csv(write_csv(df, tmp_path / "EURUSD_1h.csv"))
    pd.testing.assert_frame_equal(back, df, check_freq=False)


def test_csv_provider_resamples_a_finer_file():
    provider = CsvProvider(FIXTURE.parent)
    four = provider.fetch("eurusd", "4h", "2024-01-01", "2024-01-03")
    assert len(four) == 1 and four["high"].iloc[0] == 1.15
    with pytest.raises(DataNotFoundError):
        provider.fetch("GBPUSD", "1h", "2024-01-01", "2024-01-03")


def test_repository_merge_keeps_newest_rows_and_reports_range():
    repo = DataRepository(MemoryFrameStore())
    df = SyntheticProvider(1).fetch("EURUSD", "1h", "2024-01-01", "2024-01-10")
    repo.save("EURUSD", "1h", df.iloc[:100], source="csv")
    newer = df.iloc[50:].copy()
    newer["volume"] += 1
    meta = repo.merge_save("eurusd", "1h", newer, source="synthetic")
    out = repo.load("EURUSD", "1h")
    assert len(out) == len(df) and int(meta["rows"]) == len(df)
    assert (out["volume"].iloc[50:] == df["volume"].iloc[50:] + 1).all()
    assert (out["volume"].iloc[:50] == df["volume"].iloc[:50]).all()
    assert repo.range("EURUSD", "1h") == (df.index[0], df.index[-1])
    assert [(s.symbol, s.timeframe, s.source) for s in repo.list()] == [("EURUSD", "1h", "synthetic")]
    assert len(repo.load("EURUSD", "1h", start=df.index[10], end=df.index[20])) == 10


def test_repository_cache_is_keyed_by_digest(tmp_path):
    store = MemoryFrameStore()
    df = SyntheticProvider(1).fetch("AAPL", "1d", "2024-01-01", "2024-03-01")
    DataRepository(store).save("AAPL", "1d", df, source="synthetic")
    reader = DataRepository(store, cache_dir=tmp_path)
    first = reader.load("AAPL", "1d")
    gets = store.gets
    pd.testing.assert_frame_equal(reader.load("AAPL", "1d"), first)
    assert store.gets == gets  # served from the cache
    DataRepository(store).save("AAPL", "1d", df.iloc[:10], source="synthetic")  # new digest
    assert len(reader.load("AAPL", "1d")) == 10 and store.gets == gets + 1


def test_corrupt_cache_file_is_ignored_and_corrupt_object_refused(tmp_path):
    store = MemoryFrameStore()
    df = SyntheticProvider(1).fetch("AAPL", "1d", "2024-01-01", "2024-02-01")
    meta = DataRepository(store, cache_dir=tmp_path).save("AAPL", "1d", df, source="synthetic")
    (tmp_path / f"{meta['digest']}.ktf").write_bytes(b"torn")
    pd.testing.assert_frame_equal(DataRepository(store, cache_dir=tmp_path).load("AAPL", "1d"), df)
    data, info = store.objects[series_key("AAPL", "1d")]
    store.objects[series_key("AAPL", "1d")] = (data[:-1] + b"\0", info)
    with pytest.raises(CorruptDataError):
        DataRepository(store).load("AAPL", "1d")
    with pytest.raises(DataNotFoundError):
        DataRepository(store).load("MSFT", "1d")
