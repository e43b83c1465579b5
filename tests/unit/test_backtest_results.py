"""Metrics on hand-computable curves and the byte round trip of results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ktrdr.backtesting import TRADE_COLUMNS, BacktestConfig, BacktestError, BacktestResult, run_backtest
from ktrdr.backtesting.metrics import compute_metrics

DAYS = pd.date_range("2020-01-01", periods=5, freq="D", tz="UTC", name="timestamp")


def trades(pnls: list[float], held_days: list[int]) -> pd.DataFrame:
    """A minimal trade list for compute_metrics."""
    entry = pd.DatetimeIndex([DAYS[0]] * len(pnls))
    return pd.DataFrame({"pnl": pnls, "entry_time": entry,
                         "exit_time": entry + pd.to_timedelta(held_days, unit="D"), "bars_held": held_days})


def test_return_and_drawdown_figures() -> None:
    equity = pd.Series([100.0, 120.0, 90.0, 110.0, 130.0], index=DAYS)
    m = compute_metrics(equity, trades([50.0, -20.0], [2, 1]), 100.0)
    assert m["total_return"] == pytest.approx(30.0) and m["total_return_pct"] == pytest.approx(30.0)
    assert m["max_drawdown"] == pytest.approx(30.0) and m["max_drawdown_pct"] == pytest.approx(25.0)
    assert m["recovery_factor"] == pytest.approx(1.0)
    years = 4 / 365.25
    assert m["annualized_return"] == pytest.approx(1.3 ** (1 / years) - 1)
    assert m["calmar_ratio"] == pytest.approx(m["annualized_return"] / 0.25)
    returns = np.array([0.2, -0.25, 20 / 90, 20 / 110])
    assert m["sharpe_ratio"] == pytest.approx(returns.mean() / returns.std(ddof=1) * np.sqrt(4 / years))
    assert m["sortino_ratio"] == pytest.approx(returns.mean() / np.sqrt((0.25**2) / 4) * np.sqrt(4 / years))


def test_trade_statistics() -> None:
    equity = pd.Series([100.0] * 5, index=DAYS)
    m = compute_metrics(equity, trades([50.0, -20.0, 10.0, -5.0, 0.0], [2, 1, 1, 4, 2]), 100.0)
    assert (m["total_trades"], m["winning_trades"], m["losing_trades"]) == (5, 2, 2)
    assert m["win_rate"] == pytest.approx(0.4) and m["profit_factor"] == pytest.approx(60 / 25)
    assert (m["avg_win"], m["avg_loss"], m["largest_win"], m["largest_loss"]) == (30.0, -12.5, 50.0, -20.0)
    assert m["avg_holding_bars"] == 2.0 and m["avg_holding_period"] == 2 * 24.0
    assert m["avg_win_holding_bars"] == 1.5 and m["avg_loss_holding_period"] == 2.5 * 24.0


def test_undefined_metrics_are_none_without_trades_or_risk() -> None:
    m = compute_metrics(pd.Series([100.0] * 5, index=DAYS), trades([], []), 100.0)
    for key in ("win_rate", "profit_factor", "avg_win", "largest_loss", "sharpe_ratio", "recovery_factor"):
        assert m[key] is None, key
    assert m["total_trades"] == 0 and m["max_drawdown"] == 0.0


def test_bytes_round_trip_is_exact_and_compact() -> None:
    rng = np.random.default_rng(3)
    n = 5_000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    index = pd.date_range("2022-01-01", periods=n, freq="h", tz="UTC", name="timestamp")
    data = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=index)
    result = run_backtest(data, rng.choice([-1, 0, 0, 0, 1], n), BacktestConfig(short_from_flat=True))
    blob = result.to_bytes()
    back = BacktestResult.from_bytes(blob)
    assert list(back.trades.columns) == list(TRADE_COLUMNS) and len(back.trades) > 100
    pd.testing.assert_frame_equal(back.trades, result.trades, check_exact=True)
    pd.testing.assert_series_equal(back.equity, result.equity, check_exact=True, check_freq=False)
    assert back.metrics == result.metrics
    raw = result.equity.to_numpy().nbytes + result.trades.memory_usage(deep=True).sum()
    assert len(blob) < raw


def test_garbage_bytes_are_refused() -> None:
    with pytest.raises(BacktestError, match="npz"):
        BacktestResult.from_bytes(b"not a result")
