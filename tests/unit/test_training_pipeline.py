"""End to end on synthetic frames: a strategy with a planted signal trains, beats the majority baseline,
reports its steps, and yields a bundle that predicts the same after a byte round trip."""

import numpy as np
import pytest
import torch

from ktrdr.context import CancelToken, ProgressReporter
from ktrdr.errors import OperationCancelled
from ktrdr.strategy import load_strategy
from ktrdr.strategy.features import build_features
from ktrdr.strategy.normalize import Normalizer
from ktrdr.training.bundle import ModelBundle
from ktrdr.training.pipeline import STEPS, run_training
from ktrdr.training.synthetic import planted_ohlcv

torch.set_num_threads(1)

STRATEGY = """
name: planted_rsi
version: "3.0"
training_data:
  symbols: {mode: single, symbol: SYNTH}
  timeframes: {mode: single, timeframe: 1h}
indicators:
  rsi_7: {type: rsi, period: 7}
fuzzy_sets:
  rsi_7:
    indicator: rsi_7
    oversold: [0, 0, 40]
    neutral: [30, 50, 70]
    overbought: [60, 100, 100]
nn_inputs:
  - {fuzzy_set: rsi_7, timeframes: all}
  - {raw_indicator: rsi_7, timeframes: all, normalization: zscore}
model: {type: %s, architecture: {hidden_layers: [16], dropout: 0.0, sequence_length: 4}}
training:
  labels: {source: zigzag, zigzag_threshold: 0.02, label_lookahead: 10}
  # Segment labels make HOLD rare (extremes only): inverse-frequency weights would trade accuracy for it.
  class_weights: none
  epochs: 12
  batch_size: 64
  learning_rate: 0.01
  early_stopping: {enabled: true, patience: 4}
"""


@pytest.fixture(scope="module")
def frames() -> dict:
    return {"1h": planted_ohlcv(2500, seed=1)}


def test_planted_signal_beats_baseline_and_reports_steps(frames: dict) -> None:
    cfg = load_strategy(STRATEGY % "mlp")
    seen: list[str] = []
    progress = ProgressReporter(on_change=lambda _: seen.append(progress.snapshot().get("current_step", "")))
    bundle, summary = run_training(cfg, frames, progress=progress)
    test = summary["test"]
    assert test["samples"] > 200 and test["accuracy"] > test["baseline_accuracy"] + 0.1
    assert [s for s, _ in STEPS] == list(dict.fromkeys(s for s in seen if s))
    assert progress.snapshot()["percentage"] == 100.0
    assert summary["model"]["parameters"] > 0 and summary["device"] == "cpu"
    assert summary["data"]["samples"]["train"] > summary["data"]["samples"]["test"]
    assert bundle.feature_names == ["1h_rsi_7_oversold", "1h_rsi_7_neutral", "1h_rsi_7_overbought", "1h_rsi_7"]
    labels = summary["labels"]
    assert labels["source"] == "zigzag" and labels["sample_weighting"] == "uniform"
    assert labels["classes"] == ["BUY", "HOLD", "SELL"] == bundle.classes
    assert sum(labels["train_counts"].values()) == summary["data"]["samples"]["train"]


def test_bundle_reproduces_its_inputs_and_predictions_after_round_trip(frames: dict) -> None:
    cfg = load_strategy(STRATEGY % "gru")
    bundle, summary = run_training(cfg, frames)
    loaded = ModelBundle.from_bytes(bundle.to_bytes())
    strategy = load_strategy(loaded.strategy_yaml)
    x = Normalizer.from_dict(loaded.normalization).transform(build_features(strategy, frames)).to_numpy()
    np.testing.assert_array_equal(loaded.predict(x), bundle.predict(x))
    assert loaded.metrics["test"]["accuracy"] == summary["test"]["accuracy"]
    assert loaded.label_config["label_lookahead"] == 10 and loaded.window == 4


def test_cancel_before_training_stops_at_the_next_step(frames: dict) -> None:
    token = CancelToken()
    token.cancel("user")
    with pytest.raises(OperationCancelled):
        run_training(load_strategy(STRATEGY % "mlp"), frames, cancel=token)
