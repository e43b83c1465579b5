"""Performance metrics of a backtest from its equity curve and trade list.

Units: money for total_return, max_drawdown, avg_win/avg_loss, largest_win/largest_loss and final_equity;
percent for the `_pct` keys; fractions for annualized_return, volatility and win_rate; seconds for
avg_holding_period. A metric that is undefined (no trades, no losses, zero volatility) is None.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

SECONDS_PER_YEAR = 365.25 * 24 * 3600
Metrics = dict[str, float | int | None]


def compute_metrics(equity: pd.Series, trades: pd.DataFrame, initial_capital: float) -> Metrics:
    """All metrics of one run; the equity curve starts at the first bar after warm-up."""
    values = equity.to_numpy(dtype=np.float64)
    metrics: Metrics = {"bars": int(len(values)), "final_equity": float(values[-1])}
    metrics.update(_return_metrics(equity, values, initial_capital))
    metrics.update(_trade_metrics(trades))
    return metrics


def _years(index: pd.Index) -> float:
    """Calendar years spanned by the curve (0 for a single bar)."""
    return (index[-1] - index[0]).total_seconds() / SECONDS_PER_YEAR if len(index) > 1 else 0.0


def _ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None where the denominator is not positive."""
    return float(numerator / denominator) if denominator > 0 else None


def _return_metrics(equity: pd.Series, values: np.ndarray, initial: float) -> Metrics:
    """Return, risk and drawdown figures."""
    final = float(values[-1])
    years = _years(equity.index)
    returns = values[1:] / values[:-1] - 1.0 if len(values) > 1 else np.zeros(0)
    # Annualize with the observed bar frequency, so daily, hourly and minute data all work.
    root = math.sqrt((len(values) - 1) / years) if years > 0 else 0.0
    std = float(np.std(returns, ddof=1)) if len(returns) > 1 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2))) if len(returns) else 0.0
    mean = float(np.mean(returns)) if len(returns) else 0.0
    peak = np.maximum.accumulate(values)
    drawdown = float(np.max(peak - values))
    drawdown_pct = float(np.max((peak - values) / peak)) * 100.0
    annualized = (final / initial) ** (1.0 / years) - 1.0 if years > 0 and final > 0 else None
    return {
        "total_return": final - initial,
        "total_return_pct": (final / initial - 1.0) * 100.0,
        "annualized_return": annualized,
        "volatility": std * root if root else None,
        "sharpe": _ratio(mean * root, std) if root else None,
        "sortino": _ratio(mean * root, downside) if root else None,
        "max_drawdown": drawdown,
        "max_drawdown_pct": drawdown_pct,
        "calmar": _ratio(annualized, drawdown_pct / 100.0) if annualized is not None else None,
        "recovery_factor": _ratio(final - initial, drawdown),
    }


def _trade_metrics(trades: pd.DataFrame) -> Metrics:
    """Win/loss statistics and holding times of the closed trades."""
    pnl = trades["pnl"].to_numpy(dtype=np.float64)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    held = trades["exit_time"] - trades["entry_time"]
    count = len(pnl)
    return {
        "trades": count,
        "winners": len(wins),
        "losers": len(losses),
        "win_rate": len(wins) / count if count else None,
        "profit_factor": _ratio(float(wins.sum()), -float(losses.sum())),
        "avg_win": float(wins.mean()) if len(wins) else None,
        "avg_loss": float(losses.mean()) if len(losses) else None,
        "largest_win": float(wins.max()) if len(wins) else None,
        "largest_loss": float(losses.min()) if len(losses) else None,
        "avg_holding_bars": float(trades["bars_held"].mean()) if count else None,
        "avg_holding_period": float(held.dt.total_seconds().mean()) if count else None,
    }
