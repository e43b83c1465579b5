"""Trading costs: fill costs (commission, slippage) and the regression models' cost-model trade rule.

Defaults are the original KTRDR's: commission 0.1 % and slippage 0.05 % of the traded value per fill, and a
regression model trades only when its predicted return beats round_trip_cost × min_edge_multiplier
(0.003 × 1.5 = 0.45 %). See docs/research.md, "Cost model".
"""

from __future__ import annotations

import numpy as np

from ktrdr.backtesting.book import BUY, HOLD, SELL
from ktrdr.backtesting.errors import BacktestError

DEFAULT_COMMISSION = 0.001
DEFAULT_SLIPPAGE = 0.0005
DEFAULT_ROUND_TRIP_COST = 0.003
DEFAULT_MIN_EDGE_MULTIPLIER = 1.5


def fill_costs(commission: float | None = None, slippage: float | None = None) -> tuple[float, float]:
    """(commission, slippage) rates: the command's where given, else the defaults.

    The original's strategy files state no fill costs (its `decisions.cost_model` only sets the regression
    trade threshold), so the command is the only override.
    """
    return (DEFAULT_COMMISSION if commission is None else commission,
            DEFAULT_SLIPPAGE if slippage is None else slippage)


def trade_threshold(round_trip_cost: float = DEFAULT_ROUND_TRIP_COST,
                    min_edge_multiplier: float = DEFAULT_MIN_EDGE_MULTIPLIER) -> float:
    """The predicted return a regression model must beat (in either direction) before it trades."""
    if not (round_trip_cost >= 0 and min_edge_multiplier >= 0):
        raise BacktestError(f"cost model needs round_trip_cost ≥ 0 and min_edge_multiplier ≥ 0, got "
                            f"{round_trip_cost} and {min_edge_multiplier}", field="decisions.cost_model",
                            hint="e.g. round_trip_cost: 0.003, min_edge_multiplier: 1.5")
    return round_trip_cost * min_edge_multiplier


def regression_signals(predicted: np.ndarray, threshold: float) -> np.ndarray:
    """BUY where the predicted return is above `threshold`, SELL where below −threshold, else HOLD (int8).

    Strict inequalities, as the original: a prediction exactly at the threshold does not clear the costs.
    A NaN prediction (a bar the model cannot score) is HOLD.
    """
    values = np.asarray(predicted, dtype=np.float64)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise BacktestError(f"predicted returns must be one value per bar, got shape {values.shape}",
                            field="predictions", hint="pass the (n,) or (n, 1) output of a regression model")
    out = np.full(len(values), HOLD, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        out[values > threshold] = BUY
        out[values < -threshold] = SELL
    return out
