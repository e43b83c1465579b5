"""Backtesting: decisions from model outputs, the position engine, metrics and stored results."""

from ktrdr.backtesting.book import BUY, HOLD, SELL
from ktrdr.backtesting.config import BacktestConfig, backtest_config
from ktrdr.backtesting.decisions import CLASSES, decide
from ktrdr.backtesting.engine import run_backtest
from ktrdr.backtesting.errors import BacktestError
from ktrdr.backtesting.metrics import compute_metrics
from ktrdr.backtesting.result import TRADE_COLUMNS, BacktestResult

__all__ = [
    "BUY", "CLASSES", "HOLD", "SELL", "TRADE_COLUMNS", "BacktestConfig", "BacktestError",
    "BacktestResult", "backtest_config", "compute_metrics", "decide", "run_backtest",
]
