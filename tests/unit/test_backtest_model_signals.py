"""Model-driven signals from a tiny trained bundle: warm-up windows, batching, decisions, errors; and the params."""

from __future__ import annotations

import dataclasses

import msgspec
import numpy as np
import pandas as pd
import pytest
import torch

from ktrdr.backtesting import BacktestError, backtest_config, run_backtest
from ktrdr.backtesting.model_signals import history_bars, history_window, model_probabilities, model_signals
from ktrdr.backtesting.rules import ma_cross_signals
from ktrdr.data import resample
from ktrdr.errors import ConfigError
from ktrdr.strategy import DecisionsConfig, load_strategy
from ktrdr.strategy.config import FiltersConfig
from ktrdr.training.bundle import ModelBundle
from ktrdr.training.pipeline import run_training
from ktrdr.training.synthetic import planted_ohlcv
from ktrdr.workers.backtest import parse_params

NO_FILTER = FiltersConfig(min_signal_separation=0)

torch.set_num_threads(1)

STRATEGY = """
name: tiny_rsi
version: "3.0"
training_data:
  symbols: {mode: single, symbol: SYNTH}
  timeframes: {mode: single, timeframe: 1h}
  history_required: 60
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
model: {type: mlp, architecture: {hidden_layers: [8], dropout: 0.0}}
decisions: {confidence_threshold: 0.4, filters: {min_signal_separation: 0}}
training:
  labels: {source: zigzag, zigzag_threshold: 0.02, label_lookahead: 10}
  epochs: 3
  batch_size: 64
  learning_rate: 0.01
  weight_decay: 0.0
"""


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return planted_ohlcv(1500, seed=3)


@pytest.fixture(scope="module")
def bundle(frame: pd.DataFrame) -> ModelBundle:
    trained, _ = run_training(load_strategy(STRATEGY), {"1h": frame})
    return ModelBundle.from_bytes(trained.to_bytes())  # exactly what a worker loads


def test_a_window_with_enough_history_scores_like_the_full_series(frame: pd.DataFrame, bundle: ModelBundle) -> None:
    start = frame.index[900]
    history = history_bars(load_strategy(STRATEGY), bundle)
    frames, warmup = history_window({"1h": frame}, "1h", start, history)
    assert warmup == history and frames["1h"].index[warmup] == start
    windowed = model_probabilities(bundle, frames)[warmup:]
    full = model_probabilities(bundle, {"1h": frame})[900:]
    assert np.isfinite(windowed).all()
    np.testing.assert_allclose(windowed, full, atol=1e-4)


def test_batch_size_does_not_change_predictions(frame: pd.DataFrame, bundle: ModelBundle) -> None:
    frames = {"1h": frame.iloc[:400]}
    # Equal up to float32 rounding: a one-row last batch takes another BLAS path (matrix-vector).
    np.testing.assert_allclose(model_probabilities(bundle, frames, batch_size=7),
                               model_probabilities(bundle, frames), rtol=0, atol=1e-6)


def test_signals_follow_the_decisions_config(frame: pd.DataFrame, bundle: ModelBundle) -> None:
    frames = {"1h": frame}
    probs = model_probabilities(bundle, frames)
    scored = np.isfinite(probs).all(axis=1)
    raw = model_signals(bundle, frames, DecisionsConfig(confidence_threshold=0.0, position_awareness=False, filters=NO_FILTER))
    assert raw.shape == (len(frame),) and not raw[~scored].any(), "warm-up rows must be HOLD"
    best = np.argmax(probs[scored], axis=1)
    np.testing.assert_array_equal(raw[scored], np.array([1, 0, -1])[best])
    silent = model_signals(bundle, frames, DecisionsConfig(confidence_threshold=1.0, filters=NO_FILTER))
    assert not silent.any()
    aware = model_signals(bundle, frames)  # the bundle's own decisions: position-aware, longs only
    nonzero = aware[aware != 0]
    assert len(nonzero) and nonzero[0] == 1 and not (nonzero[1:] == nonzero[:-1]).any()


def test_model_signals_drive_the_engine_only_after_warm_up(frame: pd.DataFrame, bundle: ModelBundle) -> None:
    frames, warmup = history_window({"1h": frame}, "1h", frame.index[300], 60)
    signals = model_signals(bundle, frames, DecisionsConfig(confidence_threshold=0.0, filters=NO_FILTER))
    result = run_backtest(frames["1h"], signals, backtest_config(warmup_bars=warmup))
    assert len(result.equity) == len(frames["1h"]) - warmup
    assert result.metrics["trades"] > 0 and (result.trades["entry_bar"] > warmup).all()


def test_history_window_cuts_each_timeframe_by_its_own_bars(frame: pd.DataFrame) -> None:
    four = resample(frame, "4h")
    frames, warmup = history_window({"1h": frame, "4h": four}, "1h", "2024-02-01", 50)
    assert warmup == 50 and frames["1h"].index[50] == pd.Timestamp("2024-02-01", tz="UTC")
    kept = frames["4h"]
    assert (kept.index < frames["1h"].index[0]).sum() == 50
    early, warmup_early = history_window({"1h": frame}, "1h", None, 50)
    assert warmup_early == 0 and len(early["1h"]) == len(frame)
    with pytest.raises(BacktestError, match="start"):
        history_window({"1h": frame}, "1h", "2030-01-01", 50)


def test_a_bundle_whose_features_disagree_is_refused(frame: pd.DataFrame, bundle: ModelBundle) -> None:
    broken = dataclasses.replace(bundle, feature_names=list(reversed(bundle.feature_names)))
    with pytest.raises(BacktestError, match="differ"):
        model_signals(broken, {"1h": frame})
    regression = dataclasses.replace(bundle, output_format="regression")
    with pytest.raises(BacktestError, match="regression"):
        model_probabilities(regression, {"1h": frame})
    context = dataclasses.replace(bundle, classes=["BULLISH", "BEARISH", "NEUTRAL"])
    with pytest.raises(BacktestError, match="not trading signals"):
        model_probabilities(context, {"1h": frame})
    with pytest.raises(BacktestError, match="not trading signals"):
        model_signals(context, {"1h": frame})


def test_ma_cross_marks_the_crossing_bars() -> None:
    close = np.array([5, 4, 3, 2, 1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1], dtype=float)
    signals = ma_cross_signals(close, 2, 4)
    fast = pd.Series(close).rolling(2).mean().to_numpy()
    slow = pd.Series(close).rolling(4).mean().to_numpy()
    for bar in np.flatnonzero(signals):
        assert np.sign(fast[bar] - slow[bar]) == signals[bar] != np.sign(fast[bar - 1] - slow[bar - 1])
    assert set(signals.tolist()) == {-1, 0, 1} and not signals[:4].any()


@pytest.mark.parametrize(("params", "path"), [
    ({"model": "m", "capitl": 1}, "capitl"),
    ({"model": "m", "commission": 0.5}, "commission"),
    ({}, "model"),
    ({"model": "m", "signals": {}}, "model"),
    ({"signals": {"fast": 30, "slow": 10}, "symbol": "X", "timeframe": "1h"}, "signals.fast"),
    ({"signals": {"type": "ma_cross"}}, "symbol"),
])
def test_bad_params_name_their_field(params: dict, path: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_params(params)
    assert path in info.value.path or path in info.value.message


def test_params_round_trip_as_json() -> None:
    p = parse_params({"model": "tiny_rsi/1h", "start": "2024-02-01", "capital": 5000, "slippage": 0.001})
    assert msgspec.json.decode(msgspec.json.encode(p), type=type(p)) == p and p.position_size == 0.25
