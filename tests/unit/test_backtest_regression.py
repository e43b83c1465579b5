"""Regression models in a backtest: trades happen only where the original's cost rule allows them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ktrdr.backtesting import BacktestConfig, run_backtest
from ktrdr.backtesting.decisions import DecisionRule, decide
from ktrdr.backtesting.model_signals import history_bars, history_window, model_features, model_signals
from ktrdr.strategy import load_strategy
from ktrdr.training.bundle import ModelBundle
from ktrdr.training.pipeline import run_training
from ktrdr.training.synthetic import planted_ohlcv
from tests.unit.test_backtest_model_signals import STRATEGY

torch.set_num_threads(1)

THRESHOLD = 0.003 * 1.5  # the original's default round_trip_cost × min_edge_multiplier


def expected_trades(predicted: np.ndarray, threshold: float) -> list[tuple[int, int, str]]:
    """(entry bar, exit bar, side) by the rule stated bar by bar: BUY above +threshold, SELL below −threshold,
    one step per signal (a SELL while long only closes it), filled at the next bar; open at the end: last bar."""
    trades, side, entry = [], 0, -1
    for bar in range(len(predicted) - 1):
        p = predicted[bar]
        signal = 1 if p > threshold else -1 if p < -threshold else 0
        if signal == 0 or signal == side:
            continue
        if side == 0:
            side, entry = signal, bar + 1
        else:
            trades.append((entry, bar + 1, "long" if side == 1 else "short"))
            side = 0
    if side:
        trades.append((entry, len(predicted) - 1, "long" if side == 1 else "short"))
    return trades


def test_planted_predictions_trade_only_beyond_the_threshold() -> None:
    n = 400
    rng = np.random.default_rng(7)
    # A slow planted cycle of predicted returns, mostly inside the no-trade band, crossing it now and then.
    predicted = 0.006 * np.sin(np.arange(n) / 9.0) + rng.normal(0, 0.001, n)
    predicted[50:60] = THRESHOLD  # exactly at the threshold: not enough
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    index = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC", name="timestamp")
    data = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=index)
    signals = decide(predicted, DecisionRule(output_format="regression"), index)
    result = run_backtest(data, signals, BacktestConfig(short_from_flat=True, commission=0.001, slippage=0.0005))
    got = list(zip(result.trades["entry_bar"], result.trades["exit_bar"], result.trades["side"]))
    want = expected_trades(predicted, THRESHOLD)
    assert got == want and len(want) > 5
    assert {"long", "short"} <= {side for *_, side in want}
    # Every entry was decided on a bar whose prediction cleared the costs in the trade's direction.
    decided = predicted[result.trades["entry_bar"] - 1] * np.where(result.trades["side"] == "long", 1, -1)
    assert (decided > THRESHOLD).all()


# The classification test strategy, retargeted: forward-return labels and a regression output.
REGRESSION = (STRATEGY.replace("name: tiny_rsi", "name: tiny_forward")
              .replace("decisions: {confidence_threshold: 0.4,", "decisions: {output_format: regression, "
                       "cost_model: {round_trip_cost: 0.003, min_edge_multiplier: 1.5},")
              .replace("{source: zigzag, zigzag_threshold: 0.02, label_lookahead: 10}",
                       "{source: forward_return, horizon: 5}"))


@pytest.fixture(scope="module")
def trained() -> tuple[ModelBundle, pd.DataFrame]:
    frame = planted_ohlcv(1200, seed=4)
    bundle, _ = run_training(load_strategy(REGRESSION), {"1h": frame.iloc[:900]})
    return ModelBundle.from_bytes(bundle.to_bytes()), frame


def test_a_regression_bundle_signals_where_its_predictions_clear_the_costs(
        trained: tuple[ModelBundle, pd.DataFrame]) -> None:
    bundle, frame = trained
    frames, warmup = history_window({"1h": frame}, "1h", frame.index[900], history_bars(load_strategy(REGRESSION),
                                                                                        bundle))
    predicted = bundle.predict(model_features(bundle, frames))
    # A threshold inside the model's range, so that it both trades and holds.
    cost = float(np.nanquantile(np.abs(predicted[warmup:]), 0.7)) / 1.5
    rule = DecisionRule(output_format="regression", position_awareness=False, round_trip_cost=cost)
    signals = model_signals(bundle, frames, rule)
    beyond = np.nan_to_num(np.abs(predicted)) > cost * 1.5
    assert signals[beyond].all() and not signals[~beyond].any() and beyond[warmup:].any()
    np.testing.assert_array_equal(signals[beyond], np.sign(predicted[beyond]))
    aware = model_signals(bundle, frames, DecisionRule(output_format="regression", round_trip_cost=cost),
                          first_bar=warmup)
    assert not aware[:warmup].any()
    result = run_backtest(frames["1h"], aware, BacktestConfig(short_from_flat=True, warmup_bars=warmup))
    entries = result.trades["entry_bar"].to_numpy() - 1
    assert len(entries) and beyond[entries].all()


def test_decisions_that_disagree_with_the_model_are_refused(trained: tuple[ModelBundle, pd.DataFrame]) -> None:
    bundle, frame = trained
    with pytest.raises(ValueError, match="trained for 'regression'"):
        model_signals(bundle, {"1h": frame}, DecisionRule(output_format="classification"))


def test_the_backtest_operation_lets_a_regression_model_short_and_charges_default_costs(
        trained: tuple[ModelBundle, pd.DataFrame]) -> None:
    from ktrdr.workers.backtest import _config, _plan, parse_params

    bundle, _ = trained
    params = parse_params({"model": "tiny_forward"})
    plan = _plan(params, bundle, None)
    assert plan.short_from_flat
    config = _config(params, plan, warmup=0)
    assert (config.commission, config.slippage) == (0.001, 0.0005)
    given = parse_params({"model": "tiny_forward", "commission": 0.0, "slippage": 0.0002, "short_from_flat": False})
    assert not _plan(given, bundle, None).short_from_flat
    assert (_config(given, plan, 0).commission, _config(given, plan, 0).slippage) == (0.0, 0.0002)
