"""The backtest metrics by name: unit, label and definition of each (docs/research.md lists the same table).

Every metric of the original KTRDR's `PerformanceMetrics` appears under its name; ours add the curve length,
final equity, holding periods in bars and the original's √252 forms of volatility, Sharpe and Sortino beside
the per-bar annualised ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Display order of the units; a CLI groups metrics under these.
UNITS = ("money", "%", "fraction", "ratio", "count", "bars", "hours")


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric: its key in `BacktestResult.metrics`, unit, short label and definition."""

    name: str
    unit: str
    label: str
    definition: str


def _spec(name: str, unit: str, label: str, definition: str) -> MetricSpec:
    return MetricSpec(name=name, unit=unit, label=label, definition=definition)


METRICS: tuple[MetricSpec, ...] = (
    _spec("bars", "count", "bars", "bars in the equity curve (from the first bar after warm-up)"),
    _spec("final_equity", "money", "final equity", "equity at the last bar, after the final close-out"),
    _spec("total_return", "money", "total return", "final equity − initial capital"),
    _spec("total_return_pct", "%", "total return", "(final equity / initial capital − 1) × 100"),
    _spec("annualized_return", "fraction", "annualised return",
          "(final / initial)^(1 / years) − 1, years = calendar time of the curve / 365.25 days"),
    _spec("volatility", "fraction", "volatility (per-bar annualised)",
          "sample std (ddof 1) of per-bar returns × √(bars per year observed)"),
    _spec("volatility_sqrt252", "fraction", "volatility (×√252, original)",
          "population std (ddof 0) of per-bar returns × √252"),
    _spec("sharpe_ratio", "ratio", "Sharpe (per-bar annualised)",
          "mean per-bar return / sample std × √(bars per year observed); risk-free rate 0"),
    _spec("sharpe_ratio_sqrt252", "ratio", "Sharpe (×√252, original)",
          "mean per-bar return / population std × √252 (undefined when std ≤ 1e-10)"),
    _spec("sortino_ratio", "ratio", "Sortino (per-bar annualised)",
          "mean per-bar return / √mean(min(r, 0)²) × √(bars per year observed)"),
    _spec("sortino_ratio_sqrt252", "ratio", "Sortino (×√252, original)",
          "mean per-bar return / population std of the negative returns × √252"),
    _spec("max_drawdown", "money", "max drawdown", "largest fall of equity from its running peak"),
    _spec("max_drawdown_pct", "%", "max drawdown", "largest fall from the running peak / that peak × 100"),
    _spec("calmar_ratio", "ratio", "Calmar", "annualized_return / (max_drawdown_pct / 100)"),
    _spec("recovery_factor", "ratio", "recovery factor", "total_return / max_drawdown"),
    _spec("total_trades", "count", "trades", "closed trades (the final close-out included)"),
    _spec("trades", "count", "trades (alias)", "same as total_trades"),
    _spec("winning_trades", "count", "winning trades", "trades with net pnl > 0"),
    _spec("losing_trades", "count", "losing trades", "trades with net pnl < 0 (pnl = 0 is neither)"),
    _spec("win_rate", "fraction", "win rate", "winning_trades / total_trades"),
    _spec("profit_factor", "ratio", "profit factor", "sum of winning pnl / −(sum of losing pnl)"),
    _spec("avg_win", "money", "average win", "mean net pnl of winning trades"),
    _spec("avg_loss", "money", "average loss", "mean net pnl of losing trades (negative)"),
    _spec("largest_win", "money", "largest win", "largest net pnl of a trade"),
    _spec("largest_loss", "money", "largest loss", "smallest (most negative) net pnl of a trade"),
    _spec("avg_holding_period", "hours", "average holding period", "mean of (exit time − entry time)"),
    _spec("avg_win_holding_period", "hours", "average winner holding period", "the same over winning trades"),
    _spec("avg_loss_holding_period", "hours", "average loser holding period", "the same over losing trades"),
    _spec("avg_holding_bars", "bars", "average holding", "mean of (exit bar − entry bar)"),
    _spec("avg_win_holding_bars", "bars", "average winner holding", "the same over winning trades"),
    _spec("avg_loss_holding_bars", "bars", "average loser holding", "the same over losing trades"),
)
METRIC_UNITS: dict[str, str] = {spec.name: spec.unit for spec in METRICS}
"""Unit of every metric name."""


def by_unit(metrics: Mapping[str, Any]) -> list[tuple[str, list[tuple[MetricSpec, Any]]]]:
    """Metrics grouped under UNITS in table order; names this table lacks come last, under 'other'."""
    known = {spec.name: spec for spec in METRICS}
    groups: dict[str, list[tuple[MetricSpec, Any]]] = {unit: [] for unit in (*UNITS, "other")}
    for spec in METRICS:
        if spec.name in metrics:
            groups[spec.unit].append((spec, metrics[spec.name]))
    for name, value in metrics.items():
        if name not in known:
            groups["other"].append((_spec(name, "other", name, ""), value))
    return [(unit, rows) for unit, rows in groups.items() if rows]
