"""Performance metrics of a backtest from its equity curve and trade list.

Names, units and definitions are in metric_table.METRICS (and docs/research.md). A metric that is undefined
(no trades, no losses, zero spread of returns) is None where the original KTRDR reported 0 or 999999.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ktrdr.backtesting.metric_table import METRICS

SECONDS_PER_YEAR = 365.25 * 24 * 3600
# The original annualised every per-bar statistic with √252, whatever the bar size.
ORIGINAL_PERIODS = 252
# Below this spread of returns the original treated Sharpe and Sortino as undefined.
MIN_SPREAD = 1e-10
Metrics = dict[str, float | int | None]


def compute_metrics(equity: pd.Series, trades: pd.DataFrame, initial_capital: float) -> Metrics:
    """All metrics of one run, in METRICS order; the equity curve starts at the first bar after warm-up."""
    values = equity.to_numpy(dtype=np.float64)
    metrics: Metrics = {"bars": int(len(values)), "final_equity": float(values[-1])}
    returns = values[1:] / values[:-1] - 1.0 if len(values) > 1 else np.zeros(0)
    metrics.update(_return_metrics(equity, values, initial_capital))
    metrics.update(_spread_metrics(returns, _bars_per_year(equity.index)))
    metrics.update(_trade_metrics(trades))
    metrics["calmar_ratio"] = _calmar(metrics)
    return {spec.name: metrics[spec.name] for spec in METRICS}


def _bars_per_year(index: pd.Index) -> float:
    """Observed bar frequency: intervals per calendar year of the curve (0 for a single bar)."""
    seconds = (index[-1] - index[0]).total_seconds() if len(index) > 1 else 0.0
    return (len(index) - 1) / (seconds / SECONDS_PER_YEAR) if seconds > 0 else 0.0


def _ratio(numerator: float, denominator: float, floor: float = 0.0) -> float | None:
    """numerator / denominator, or None where the denominator is not above `floor`."""
    return float(numerator / denominator) if denominator > floor else None


def _return_metrics(equity: pd.Series, values: np.ndarray, initial: float) -> Metrics:
    """Return and drawdown figures."""
    final = float(values[-1])
    index = equity.index
    years = (index[-1] - index[0]).total_seconds() / SECONDS_PER_YEAR if len(index) > 1 else 0.0
    peak = np.maximum.accumulate(values)
    drawdown = float(np.max(peak - values))
    return {
        "total_return": final - initial,
        "total_return_pct": (final / initial - 1.0) * 100.0,
        "annualized_return": (final / initial) ** (1.0 / years) - 1.0 if years > 0 and final > 0 else None,
        "max_drawdown": drawdown,
        "max_drawdown_pct": float(np.max((peak - values) / peak)) * 100.0,
        "recovery_factor": _ratio(final - initial, drawdown),
    }


def _spread_metrics(returns: np.ndarray, per_year: float) -> Metrics:
    """Volatility, Sharpe and Sortino: per-bar annualised (ours) and ×√252 (the original's)."""
    if len(returns) < 2:
        return dict.fromkeys(("volatility", "sharpe_ratio", "sortino_ratio", "volatility_sqrt252",
                              "sharpe_ratio_sqrt252", "sortino_ratio_sqrt252"))
    root, root252 = math.sqrt(per_year), math.sqrt(ORIGINAL_PERIODS)
    mean, sample_std, population_std = float(np.mean(returns)), float(np.std(returns, ddof=1)), float(np.std(returns))
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    negative = returns[returns < 0]
    negative_std = float(np.std(negative)) if len(negative) else 0.0
    return {
        "volatility": sample_std * root if root else None,
        "sharpe_ratio": _ratio(mean * root, sample_std) if root else None,
        "sortino_ratio": _ratio(mean * root, downside) if root else None,
        "volatility_sqrt252": population_std * root252,
        "sharpe_ratio_sqrt252": _ratio(mean * root252, population_std, MIN_SPREAD),
        "sortino_ratio_sqrt252": _ratio(mean * root252, negative_std, MIN_SPREAD),
    }


def _calmar(metrics: Metrics) -> float | None:
    """Annualised return over the maximum drawdown as a fraction."""
    annualized, drawdown_pct = metrics["annualized_return"], metrics["max_drawdown_pct"]
    if annualized is None or drawdown_pct is None:
        return None
    return _ratio(float(annualized), float(drawdown_pct) / 100.0)


def _mean(values: np.ndarray) -> float | None:
    """Mean, or None for no values."""
    return float(values.mean()) if len(values) else None


def _trade_metrics(trades: pd.DataFrame) -> Metrics:
    """Win/loss statistics and holding times (hours and bars) of the closed trades."""
    pnl = trades["pnl"].to_numpy(dtype=np.float64)
    won, lost = pnl > 0, pnl < 0
    wins, losses = pnl[won], pnl[lost]
    hours = (trades["exit_time"] - trades["entry_time"]).dt.total_seconds().to_numpy(dtype=np.float64) / 3600.0
    bars = trades["bars_held"].to_numpy(dtype=np.float64)
    count = len(pnl)
    return {
        "total_trades": count, "trades": count,
        "winning_trades": int(won.sum()), "losing_trades": int(lost.sum()),
        "win_rate": len(wins) / count if count else None,
        "profit_factor": _ratio(float(wins.sum()), -float(losses.sum())),
        "avg_win": _mean(wins), "avg_loss": _mean(losses),
        "largest_win": float(wins.max()) if len(wins) else None,
        "largest_loss": float(losses.min()) if len(losses) else None,
        "avg_holding_period": _mean(hours), "avg_win_holding_period": _mean(hours[won]),
        "avg_loss_holding_period": _mean(hours[lost]),
        "avg_holding_bars": _mean(bars), "avg_win_holding_bars": _mean(bars[won]),
        "avg_loss_holding_bars": _mean(bars[lost]),
    }
