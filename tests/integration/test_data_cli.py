"""`ktrdr data …` against the session server: import, list, show, range, gaps, export, and bad CSV input."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ktrdr.cli.main import app
from ktrdr.config import Settings
from ktrdr.data import SyntheticProvider, read_csv, write_csv
from ktrdr.protocol.subjects import Names

HEADER = "timestamp,open,high,low,close,volume\n"


async def cli(settings: Settings, *args: str) -> object:
    """Invoke the CLI in a thread (it runs its own event loop) against this test's namespace."""
    env = {"KTRDR_NATS_URL": settings.nats_url, "KTRDR_NAMESPACE": settings.namespace, "KTRDR_HOME": settings.home}
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


@pytest.fixture
def eurusd(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """Two weeks of synthetic EURUSD 1h bars written as EURUSD_1h.csv."""
    frame = SyntheticProvider(seed=11).fetch("EURUSD", "1h", "2024-03-04", "2024-03-18")
    return write_csv(frame, tmp_path / "EURUSD_1h.csv"), frame


async def test_import_then_list_show_range_gaps_export(topology: Names, settings: Settings,
                                                       eurusd: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    path, frame = eurusd
    imported = await cli(settings, "--json", "data", "import", str(path))
    assert imported.exit_code == 0, imported.output
    item = json.loads(imported.stdout)["imported"][0]
    assert item["series"]["rows"] == len(frame) and item["report"]["rows_in"] == len(frame)

    listed = json.loads((await cli(settings, "--json", "data", "list")).stdout)
    assert [(s["symbol"], s["timeframe"], s["rows"], s["source"]) for s in listed] == [
        ("EURUSD", "1h", len(frame), "csv")]
    rng = json.loads((await cli(settings, "--json", "data", "range", "eurusd", "1h")).stdout)
    assert pd.Timestamp(rng["first"]) == frame.index[0] and pd.Timestamp(rng["last"]) == frame.index[-1]

    shown = json.loads((await cli(settings, "--json", "data", "show", "EURUSD", "1h", "--rows", "3")).stdout)
    assert [pd.Timestamp(b["timestamp"]) for b in shown["bars"]] == list(frame.index[-3:])
    assert shown["bars"][-1]["close"] == frame["close"].iloc[-1]
    human = await cli(settings, "data", "show", "EURUSD", "1h", "--rows", "2", "--head")
    assert human.exit_code == 0 and "EURUSD 1h" in human.stdout

    gaps = json.loads((await cli(settings, "--json", "data", "gaps", "EURUSD", "1h")).stdout)
    assert gaps["calendar"] == "fx" and gaps["unexpected"] == 0 and gaps["coverage"] == 1.0
    assert any("weekend" in g["reason"] for g in gaps["gaps"]), "the FX weekend is an expected gap"

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    exported = await cli(settings, "data", "export", "EURUSD", "1h", str(out_dir))
    assert exported.exit_code == 0, exported.output
    pd.testing.assert_frame_equal(read_csv(out_dir / "EURUSD_1h.csv"), frame)


async def test_gaps_reports_a_missing_trading_day(topology: Names, settings: Settings, tmp_path: Path) -> None:
    frame = SyntheticProvider(seed=2).fetch("EURUSD", "1h", "2024-03-04", "2024-03-09")
    holed = frame.drop(frame.loc["2024-03-06T10:00":"2024-03-06T12:00"].index)  # Wednesday: trading time
    await cli(settings, "data", "import", str(write_csv(holed, tmp_path / "EURUSD_1h.csv")))
    report = json.loads((await cli(settings, "--json", "data", "gaps", "EURUSD", "1h")).stdout)
    assert report["unexpected"] == 1 and report["missing_unexpected_bars"] == 3
    human = await cli(settings, "data", "gaps", "EURUSD", "1h")
    assert "1 unexpected" in human.stdout and "unexpected gaps" in human.stdout


def _bad(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


@pytest.mark.parametrize("body, line, column", [
    ("timestamp,open,high,low,close\n2024-01-01T00:00:00Z,1,2,0.5,1.5\n", 1, "volume"),
    (HEADER + "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\nnot-a-date,1,2,0.5,1.5,10\n", 3, "timestamp"),
    (HEADER + "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n2024-01-01T01:00:00Z,1,x,0.5,1.5,10\n", 3, "high"),
])
async def test_bad_csv_names_file_line_and_column(topology: Names, settings: Settings, tmp_path: Path,
                                                  body: str, line: int, column: str) -> None:
    path = _bad(tmp_path, "AAPL_1d.csv", body)
    result = await cli(settings, "data", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}:{line}: column '{column}'" in result.stderr and "nothing was imported" in result.stderr
    assert json.loads((await cli(settings, "--json", "data", "list")).stdout) == []


async def test_duplicates_are_repaired_and_reported_or_refused_with_strict(topology: Names, settings: Settings,
                                                                          tmp_path: Path) -> None:
    rows = ["2024-01-01T00:00:00Z,1,2,0.5,1.5,10", "2024-01-01T01:00:00Z,1,2,0.5,1.6,10",
            "2024-01-01T01:00:00Z,1,2,0.5,1.7,12"]
    path = _bad(tmp_path, "AAPL_1h.csv", HEADER + "\n".join(rows) + "\n")
    strict = await cli(settings, "data", "import", "--strict", str(path))
    assert strict.exit_code == 1 and f"{path}:4: column 'timestamp'" in strict.stderr
    assert "first on line 3" in strict.stderr

    repaired = await cli(settings, "data", "import", str(path))
    assert repaired.exit_code == 0, repaired.output
    assert "duplicate timestamp (kept the last row)" in repaired.stdout and "3 rows in, 2 out" in repaired.stdout
    shown = json.loads((await cli(settings, "--json", "data", "show", "AAPL", "1h")).stdout)
    assert [b["close"] for b in shown["bars"]] == [1.5, 1.7], "the last of the duplicated rows is kept"


async def test_missing_series_and_bad_file_name_fail_cleanly(topology: Names, settings: Settings,
                                                             tmp_path: Path) -> None:
    missing = await cli(settings, "data", "range", "ZZZ", "1h")
    assert missing.exit_code == 1 and "no data for ZZZ 1h" in missing.stderr
    badname = await cli(settings, "data", "import", str(_bad(tmp_path, "prices.csv", HEADER)))
    assert badname.exit_code == 1 and "SYMBOL_timeframe.csv" in badname.stderr
