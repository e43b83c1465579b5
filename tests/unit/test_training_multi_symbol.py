"""Multi-symbol training: each symbol's features and labels from its own bars, concatenated in the strategy's
order with no symbol identity; each symbol split on its own so that every symbol is validated and tested."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ktrdr.strategy import load_strategy
from ktrdr.training.errors import TrainingError
from ktrdr.training.multi_symbol import combine
from ktrdr.training.pipeline import run_training
from ktrdr.training.synthetic import planted_ohlcv

torch.set_num_threads(1)
HORIZON = 5
STRATEGY = f"""
name: basket
version: "3.0"
training_data:
  symbols: {{mode: multi_symbol, list: [AAA, BBB]}}
  timeframes: {{mode: single, timeframe: 1h}}
indicators:
  sma_4: {{type: sma, period: 4}}
fuzzy_sets: {{}}
nn_inputs:
  - {{raw_indicator: sma_4, timeframes: all}}
model: {{type: mlp, architecture: {{hidden_layers: [4]}}}}
decisions: {{output_format: regression, cost_model: {{round_trip_cost: 0.003, min_edge_multiplier: 1.5}}}}
training:
  labels: {{source: forward_return, horizon: {HORIZON}}}
  epochs: 1
  data_split: {{train: 0.6, validation: 0.2, test: 0.2}}
"""


@pytest.fixture(scope="module")
def frames() -> dict[str, dict[str, pd.DataFrame]]:
    # Different lengths and price levels, so that rows of one symbol cannot pass for the other's.
    return {"AAA": {"1h": planted_ohlcv(200, seed=1)},
            "BBB": {"1h": planted_ohlcv(150, seed=2, start="2024-03-01") * 10}}


def test_symbols_are_computed_apart_and_concatenated_in_order(frames: dict[str, dict[str, pd.DataFrame]]) -> None:
    samples = combine(load_strategy(STRATEGY), frames)
    a, b = frames["AAA"]["1h"]["close"].to_numpy(), frames["BBB"]["1h"]["close"].to_numpy()
    sma = samples.features["1h_sma_4"].to_numpy()
    assert len(sma) == len(a) + len(b)
    # The moving average restarts at the second symbol: its first 3 rows have no value, none reads AAA's bars.
    assert np.isnan(sma[200:203]).all() and sma[203] == pytest.approx(b[:4].mean())
    assert sma[199] == pytest.approx(a[-4:].mean())
    # Forward returns stop HORIZON bars before each symbol's end instead of reaching into the next symbol.
    y = samples.labels.values
    assert y[0] == pytest.approx(a[HORIZON] / a[0] - 1)
    assert np.isnan(y[200 - HORIZON:200]).all() and y[200] == pytest.approx(b[HORIZON] / b[0] - 1)
    assert list(samples.features.columns) == ["1h_sma_4"]  # no symbol identity among the inputs


def test_each_symbol_is_split_on_its_own_time_line(frames: dict[str, dict[str, pd.DataFrame]]) -> None:
    samples = combine(load_strategy(STRATEGY), frames)
    parts = samples.parts
    for lo, hi, name in ((0, 200, "AAA"), (200, 350, "BBB")):
        own = {p: rows[(rows >= lo) & (rows < hi)] for p, rows in parts.items()}
        assert {p: len(r) for p, r in own.items()} == samples.per_symbol[name]
        assert all(len(r) for r in own.values())
        # Chronological with the embargo between parts: validation starts > HORIZON rows after training ends.
        assert own["validation"].min() - own["train"].max() > HORIZON
        assert own["test"].min() - own["validation"].max() > HORIZON


def test_bad_inputs_name_what_is_missing(frames: dict[str, dict[str, pd.DataFrame]]) -> None:
    cfg = load_strategy(STRATEGY)
    with pytest.raises(TrainingError, match=r"\['AAA', 'BBB'\]"):
        combine(cfg, frames["AAA"])  # one symbol's frames for a two-symbol strategy
    with pytest.raises(TrainingError, match="BBB"):
        combine(cfg, {"AAA": frames["AAA"]})
    with pytest.raises(TrainingError, match="BBB"):
        combine(cfg, {"AAA": frames["AAA"], "BBB": {"1h": frames["BBB"]["1h"].iloc[:0]}})


def test_a_multi_symbol_model_trains_and_reports_each_symbol(frames: dict[str, dict[str, pd.DataFrame]]) -> None:
    bundle, summary = run_training(load_strategy(STRATEGY), frames)
    per_symbol = summary["data"]["per_symbol"]
    assert list(per_symbol) == ["AAA", "BBB"] and per_symbol["BBB"]["rows"] == {"1h": 150}
    assert summary["data"]["rows"] == {"1h": 350} and summary["test"]["samples"] == summary["data"]["samples"]["test"]
    assert bundle.data_summary["symbols"] == ["AAA", "BBB"]
