"""Context series: CSV import (value or OHLCV), storage beside market series, the error naming missing ones,
forward-fill alignment without lookahead, and indicators computed on them inside a strategy's features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ktrdr.data import DataRepository, MemoryFrameStore
from ktrdr.data.context_series import (MissingContextError, context_names, load_context, read_context_csv,
                                       save_context)
from ktrdr.data.errors import CsvFormatError, DataError
from ktrdr.strategy import StrategyError, load_strategy
from ktrdr.strategy.features import align_context, build_features
from ktrdr.training.synthetic import planted_ohlcv
from ktrdr.workers.inputs import load_context as strategy_context

STRATEGY = """
name: ctx
version: "3.0"
training_data:
  symbols: {mode: single, symbol: EURUSD}
  timeframes: {mode: single, timeframe: 1h}
context_data:
  - {provider: fred, series: [DGS2, BUND]}
  - {provider: ib, symbol: GBPUSD, timeframe: 1h}
indicators:
  spread_sma: {type: sma, period: 3, data_source: yield_spread_DGS2_BUND}
  gbp_sma: {type: sma, period: 5, data_source: GBPUSD}
  rsi_14: {type: rsi, period: 14}
fuzzy_sets:
  rsi_14: {indicator: rsi_14, low: [0, 30, 50], high: [50, 70, 100]}
nn_inputs:
  - {fuzzy_set: rsi_14, timeframes: all}
  - {raw_indicator: spread_sma, timeframes: all}
  - {raw_indicator: gbp_sma, timeframes: all}
model: {type: mlp, architecture: {hidden_layers: [4]}}
decisions: {output_format: classification}
training:
  labels: {source: zigzag, zigzag_threshold: 0.02, label_lookahead: 10}
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_value_csv_becomes_a_close_series_and_keeps_negative_values(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.csv", "date,value\n2024-01-03,-0.25\n2024-01-01,0.5\n2024-01-02,0.1\n"
                                      "2024-01-02,0.2\n")
    frame = read_context_csv(path)
    # Sorted, the duplicated day keeps its last row, and a spread may be negative.
    assert frame.index.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert frame["close"].tolist() == [0.5, 0.2, -0.25] and (frame["open"] == frame["close"]).all()
    ohlcv = _write(tmp_path / "o.csv", "timestamp,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,1.5,7\n")
    assert read_context_csv(ohlcv).iloc[0].tolist() == [1.0, 2.0, 0.5, 1.5, 7.0]


def test_bad_context_csvs_name_the_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(CsvFormatError, match=r"s.csv:3: column 'value': not a number"):
        read_context_csv(_write(tmp_path / "s.csv", "date,value\n2024-01-01,1\n2024-01-02,n/a\n"))
    with pytest.raises(CsvFormatError, match="column 'value'"):
        read_context_csv(_write(tmp_path / "t.csv", "date,price\n2024-01-01,1\n"))
    with pytest.raises(DataError, match="invalid context series name"):
        save_context(DataRepository(MemoryFrameStore()), "a/b", planted_ohlcv(3))


def test_stored_context_series_are_apart_from_market_series_and_missing_ones_are_named() -> None:
    repo = DataRepository(MemoryFrameStore())
    repo.save("EURUSD", "1h", planted_ohlcv(10), "synthetic")
    save_context(repo, "fred_DGS2", planted_ohlcv(5, freq="1D"))
    assert [s.symbol for s in repo.list()] == ["EURUSD"] and context_names(repo) == ["fred_DGS2"]
    assert len(load_context(repo, ["fred_DGS2"])["fred_DGS2"]) == 5
    with pytest.raises(MissingContextError) as caught:
        load_context(repo, ["fred_DGS2", "cot_EUR_net_pct", "GBPUSD"])
    assert caught.value.names == ["cot_EUR_net_pct", "GBPUSD"]
    assert "stored: fred_DGS2" in str(caught.value)
    assert "ktrdr data import --context cot_EUR_net_pct cot_EUR_net_pct.csv" in str(caught.value)


def test_alignment_shows_an_observation_from_its_timestamp_on_and_never_before() -> None:
    days = pd.DatetimeIndex(["2024-01-02", "2024-01-04"], tz="UTC")
    series = pd.DataFrame({"close": [1.0, 2.0]}, index=days)
    hours = pd.date_range("2024-01-01T12:00", "2024-01-04T02:00", freq="12h", tz="UTC")
    aligned = align_context(series, hours)
    # 2024-01-01 12:00 precedes every observation: dropped. Jan 4 00:00 sees the Jan 4 value, 12:00 before it not.
    assert aligned.index[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert aligned["close"].tolist() == [1.0, 1.0, 1.0, 1.0, 2.0]


def test_strategy_context_reads_imported_series_and_an_instrument_from_market_data() -> None:
    cfg = load_strategy(STRATEGY)
    repo = DataRepository(MemoryFrameStore())
    bars = planted_ohlcv(300, seed=1)
    with pytest.raises(MissingContextError, match="yield_spread_DGS2_BUND, GBPUSD"):
        strategy_context(repo, cfg)
    spread = planted_ohlcv(20, freq="1D", start="2023-12-30", seed=2)
    save_context(repo, "yield_spread_DGS2_BUND", spread)
    repo.save("GBPUSD", "1h", planted_ohlcv(300, seed=3), "synthetic")
    context = strategy_context(repo, cfg)
    assert sorted(context) == ["GBPUSD", "yield_spread_DGS2_BUND"]
    features = build_features(cfg, {"1h": bars}, context=context)
    # The reference: the daily spread carried forward onto hourly bars, then a plain 3-row mean over those bars.
    carried = spread["close"].reindex(spread.index.union(bars.index)).ffill().reindex(bars.index)
    np.testing.assert_allclose(features["1h_spread_sma"], carried.rolling(3).mean(), equal_nan=True)
    gbp = context["GBPUSD"]["close"].reindex(bars.index)
    np.testing.assert_allclose(features["1h_gbp_sma"], gbp.rolling(5).mean(), equal_nan=True)
    with pytest.raises(StrategyError, match="GBPUSD"):
        build_features(cfg, {"1h": bars}, context={"yield_spread_DGS2_BUND": spread})


def test_the_import_command_reports_bad_context_input_without_a_server(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ktrdr.cli.main import app

    env = {"KTRDR_NATS_URL": "nats://127.0.0.1:1"}  # never reached: the input is checked first
    bad = _write(tmp_path / "s.csv", "date,value\n2024-01-01,x\n")
    for args, expected in ((["--context", "fred_DGS2", str(bad)], "not a number"),
                           (["--context", "a b", str(bad)], "invalid context series name"),
                           (["--context", "fred_DGS2", str(bad), str(bad)], "exactly one CSV file")):
        result = CliRunner().invoke(app, ["data", "import", *args], env=env)
        assert (result.exit_code, expected in result.output) == (1, True), result.output
        assert isinstance(result.exception, SystemExit)  # a clean exit, not an escaped error


def test_only_the_originals_alignment_is_accepted() -> None:
    with pytest.raises(StrategyError, match=r"context_data\[0\]\.alignment.*forward_fill"):
        load_strategy(STRATEGY.replace("{provider: fred, series: [DGS2, BUND]}",
                                       "{provider: fred, series: [DGS2, BUND], alignment: nearest}"))
