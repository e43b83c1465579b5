"""Backtesting: decisions from model outputs, the position engine, metrics and stored results."""

from ktrdr.backtesting.book import BUY, HOLD, SELL
from ktrdr.backtesting.config import BacktestConfig, backtest_config
from ktrdr.backtesting.costs import fill_costs, regression_signals, trade_threshold
from ktrdr.backtesting.decisions import CLASSES, DecisionRule, decide
from ktrdr.backtesting.engine import run_backtest
from ktrdr.backtesting.errors import BacktestError
from ktrdr.backtesting.metric_table import METRIC_UNITS, METRICS
from ktrdr.backtesting.metrics import compute_metrics
from ktrdr.backtesting.result import TRADE_COLUMNS, BacktestResult

__all__ = [
    "BUY", "CLASSES", "HOLD", "METRICS", "METRIC_UNITS", "SELL", "TRADE_COLUMNS", "BacktestConfig", "BacktestError",
    "BacktestResult", "DecisionRule", "backtest_config", "compute_metrics", "decide", "fill_costs",
    "regression_signals", "run_backtest", "trade_threshold",
]
