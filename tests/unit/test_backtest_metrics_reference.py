"""Every metric against an independent reference: backtesting.py's stats where it has the same metric, else the
original KTRDR's definition applied by hand to backtesting.py's own trade list and equity curve."""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy
from backtesting.test import GOOG

from ktrdr.backtesting import BacktestConfig, run_backtest
from ktrdr.backtesting.metric_table import METRICS

pytestmark = pytest.mark.filterwarnings("ignore::Warning:backtesting")

FRACTION, COMMISSION, CAPITAL = 0.5, 0.001, 100_000.0


def planted_signals(n: int, seed: int) -> np.ndarray:
    """Random long-only BUY/SELL signals that leave the position flat well before the last bar."""
    rng = np.random.default_rng(seed)
    signals = rng.choice(np.array([-1, 0, 0, 0, 0, 0, 1], dtype=np.int8), n)
    signals[:3] = 0
    signals[n - 20:] = 0
    signals[n - 20] = -1  # closes a long still open; nothing opens after it
    return signals


def follower(signals: np.ndarray) -> type[Strategy]:
    """A backtesting.py strategy that acts on the same signals with the same one-step position rule."""

    class Follow(Strategy):
        def init(self) -> None:
            pass

        def next(self) -> None:
            signal = signals[len(self.data) - 1]
            if signal == 1 and not self.position:
                self.buy(size=FRACTION)
            elif signal == -1 and self.position.is_long:
                self.position.close()

    return Follow


@pytest.fixture(scope="module")
def both() -> tuple[dict, pd.Series]:
    """(our metrics, their stats) of one run on GOOG daily bars."""
    signals = planted_signals(len(GOOG), seed=11)
    stats = Backtest(GOOG, follower(signals), cash=CAPITAL, commission=COMMISSION).run()
    data = GOOG.rename(columns=str.lower).astype(np.float64)
    data.index = pd.DatetimeIndex(data.index).tz_localize("UTC").rename("timestamp")
    config = BacktestConfig(initial_capital=CAPITAL, position_size=FRACTION, commission=COMMISSION, whole_units=True)
    ours = run_backtest(data, signals, config)
    assert len(ours.trades) == len(stats["_trades"]) > 50  # the runs match trade for trade
    return ours.metrics, stats


def test_same_figures_as_backtesting_py_stats(both: tuple[dict, pd.Series]) -> None:
    m, stats = both
    assert m["final_equity"] == pytest.approx(stats["Equity Final [$]"], rel=1e-9)
    assert m["total_return"] == pytest.approx(stats["Equity Final [$]"] - CAPITAL, rel=1e-9)
    assert m["total_return_pct"] == pytest.approx(stats["Return [%]"], rel=1e-9)
    assert m["annualized_return"] == pytest.approx(stats["CAGR [%]"] / 100, rel=1e-9)
    assert m["max_drawdown_pct"] == pytest.approx(-stats["Max. Drawdown [%]"], rel=1e-9)
    assert m["total_trades"] == m["trades"] == stats["# Trades"]
    assert m["win_rate"] == pytest.approx(stats["Win Rate [%]"] / 100, rel=1e-12)
    # Their average duration is rounded up to the bar resolution (a day).
    assert pd.Timedelta(hours=m["avg_holding_period"]).ceil("D") == stats["Avg. Trade Duration"]


def test_trade_metrics_by_the_original_definitions(both: tuple[dict, pd.Series]) -> None:
    m, stats = both
    trades = stats["_trades"]
    pnl, hours = trades["PnL"].tolist(), (trades["Duration"].dt.total_seconds() / 3600).tolist()
    bars = (trades["ExitBar"] - trades["EntryBar"]).tolist()
    wins = [i for i, p in enumerate(pnl) if p > 0]
    losses = [i for i, p in enumerate(pnl) if p < 0]
    assert (m["winning_trades"], m["losing_trades"]) == (len(wins), len(losses))
    assert wins and losses
    assert m["avg_win"] == pytest.approx(statistics.fmean(pnl[i] for i in wins), rel=1e-9)
    assert m["avg_loss"] == pytest.approx(statistics.fmean(pnl[i] for i in losses), rel=1e-9)
    assert m["largest_win"] == pytest.approx(max(pnl), rel=1e-9)
    assert m["largest_loss"] == pytest.approx(min(pnl), rel=1e-9)
    profit = sum(pnl[i] for i in wins) / abs(sum(pnl[i] for i in losses))
    assert m["profit_factor"] == pytest.approx(profit, rel=1e-9)
    assert m["avg_holding_period"] == pytest.approx(statistics.fmean(hours), rel=1e-12)
    assert m["avg_win_holding_period"] == pytest.approx(statistics.fmean(hours[i] for i in wins), rel=1e-12)
    assert m["avg_loss_holding_period"] == pytest.approx(statistics.fmean(hours[i] for i in losses), rel=1e-12)
    assert m["avg_holding_bars"] == pytest.approx(statistics.fmean(bars), rel=1e-12)
    assert m["avg_win_holding_bars"] == pytest.approx(statistics.fmean(bars[i] for i in wins), rel=1e-12)
    assert m["avg_loss_holding_bars"] == pytest.approx(statistics.fmean(bars[i] for i in losses), rel=1e-12)


def test_curve_metrics_by_the_original_definitions(both: tuple[dict, pd.Series]) -> None:
    m, stats = both
    equity = stats["_equity_curve"]["Equity"].tolist()
    returns = [b / a - 1 for a, b in zip(equity, equity[1:])]
    negative = [r for r in returns if r < 0]
    mean = statistics.fmean(returns)
    assert m["volatility_sqrt252"] == pytest.approx(statistics.pstdev(returns) * 252**0.5, rel=1e-9)
    assert m["sharpe_ratio_sqrt252"] == pytest.approx(mean / statistics.pstdev(returns) * 252**0.5, rel=1e-9)
    assert m["sortino_ratio_sqrt252"] == pytest.approx(mean / statistics.pstdev(negative) * 252**0.5, rel=1e-9)
    index = stats["_equity_curve"].index
    per_year = (len(equity) - 1) / ((index[-1] - index[0]).total_seconds() / (365.25 * 86400))
    assert m["volatility"] == pytest.approx(statistics.stdev(returns) * per_year**0.5, rel=1e-9)
    assert m["sharpe_ratio"] == pytest.approx(mean / statistics.stdev(returns) * per_year**0.5, rel=1e-9)
    downside = (sum(min(r, 0.0) ** 2 for r in returns) / len(returns)) ** 0.5
    assert m["sortino_ratio"] == pytest.approx(mean / downside * per_year**0.5, rel=1e-9)
    peak, fall = equity[0], 0.0
    for value in equity:
        peak = max(peak, value)
        fall = max(fall, peak - value)
    assert m["max_drawdown"] == pytest.approx(fall, rel=1e-9)
    assert m["recovery_factor"] == pytest.approx((equity[-1] - CAPITAL) / fall, rel=1e-9)
    assert m["calmar_ratio"] == pytest.approx(stats["CAGR [%]"] / -stats["Max. Drawdown [%]"], rel=1e-9)


def test_every_metric_of_the_original_is_reported_with_a_unit(both: tuple[dict, pd.Series]) -> None:
    original = ("total_return total_return_pct annualized_return volatility sharpe_ratio max_drawdown "
                "max_drawdown_pct total_trades winning_trades losing_trades win_rate profit_factor "
                "avg_holding_period avg_win_holding_period avg_loss_holding_period avg_win avg_loss largest_win "
                "largest_loss calmar_ratio sortino_ratio recovery_factor").split()
    m, _ = both
    assert len(original) == 22 and set(original) <= set(m)
    assert list(m) == [spec.name for spec in METRICS]
    assert all(m[name] is not None for name in original)


def test_the_research_doc_lists_every_metric_with_its_unit() -> None:
    from pathlib import Path

    text = Path(__file__).resolve().parents[2].joinpath("docs", "research.md").read_text()
    section = text.split("\n## Metrics", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| `")]
    assert [(name.strip().strip("`"), unit.strip()) for name, unit in rows] == [
        (spec.name, spec.unit) for spec in METRICS]
