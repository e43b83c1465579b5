"""`ktrdr results show OP_ID`: an operation's result summary, and a backtest's trades and equity curve."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from ktrdr.cli import checks
from ktrdr.cli.common import emit, run, state

if TYPE_CHECKING:
    from ktrdr.backtesting import BacktestResult
    from ktrdr.config import Settings

app = typer.Typer(no_args_is_help=True, help="Read the results of finished operations.")
SPARKS = "▁▂▃▄▅▆▇█"


async def fetch(settings: Settings, op_id: str, blob: bool) -> tuple[Any, BacktestResult | None, list[Any]]:
    """The record, (when asked and stored) its backtest result, and its children's records.

    A parent (research, pipeline) stores no result of its own: its trades and equity are its backtest child's.
    """
    from ktrdr.bus.handle import Bus
    from ktrdr.bus.objects import backtest_result
    from ktrdr.bus.resolve import resolve_url
    bus = await Bus.open(settings, resolve_url(settings), name="ktrdr-results")
    try:
        record, _ = await bus.ops.get(op_id)
        children = [c for c in [await bus.ops.find(cid) for cid in record.children] if c is not None]
        source = next((c for c in reversed(children) if c.type == "backtest"), None if children else record)
        return record, await backtest_result(bus.js, bus.names, source) if blob and source else None, children
    finally:
        await bus.close()


def sample(values: list[Any], points: int) -> list[Any]:
    """At most `points` evenly spaced items, always keeping the first and the last (0 keeps all)."""
    if points <= 0 or len(values) <= points:
        return values
    if points == 1:
        return values[-1:]
    step = (len(values) - 1) / (points - 1)
    return [values[round(i * step)] for i in range(points)]


def sparkline(values: list[float]) -> str:
    """One block character per value, scaled between the minimum and the maximum."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    return "".join(SPARKS[min(len(SPARKS) - 1, int((v - lo) / span * len(SPARKS)))] for v in values)


def trade_rows(result: BacktestResult, limit: int) -> list[dict[str, Any]]:
    """The first `limit` trades as JSON-able dicts (0: all)."""
    trades = result.trades if limit <= 0 else result.trades.head(limit)
    rows = trades.to_dict(orient="records")
    for row in rows:
        row["entry_time"], row["exit_time"] = row["entry_time"].isoformat(), row["exit_time"].isoformat()
    return rows


def equity_points(result: BacktestResult, points: int) -> list[dict[str, Any]]:
    """The equity curve sampled to `points` (timestamp, equity) pairs."""
    pairs = list(zip(result.equity.index, result.equity.to_numpy().tolist()))
    return [{"timestamp": t.isoformat(), "equity": v} for t, v in sample(pairs, points)]


def as_data(record: Any, result: BacktestResult | None, trades: bool, equity: bool, limit: int,
            points: int, children: list[Any] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    """Everything `show` prints, as plain data (the --json output)."""
    data: dict[str, Any] = {"id": record.id, "type": record.type, "status": record.status,
                            "summary": record.result, "artifacts": record.artifacts,
                            "error": record.error.message if record.error else None,
                            "children": [{"id": c.id, "type": c.type, "status": c.status} for c in children]}
    if result is not None and trades:
        data["trades_total"], data["trades"] = len(result.trades), trade_rows(result, limit)
    if result is not None and equity:
        data["equity"] = equity_points(result, points)
    return data


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1e4 else f"{value:,.2f}"
    return "—" if value is None else str(value)


def render(data: dict[str, Any]) -> None:
    """Rich tables: header, metrics, trades and the equity sparkline."""
    from rich.console import Console
    from rich.table import Table

    from ktrdr.cli.render import metrics_table

    console = Console()
    summary = data["summary"] or {}
    console.print(f"[bold]{data['id']}[/] {data['type']} [bold]{data['status']}[/]")
    if data["error"]:
        console.print(f"[red]error:[/] {data['error']}")
    if data["type"] == "sweep" and summary.get("ranking") is not None:  # the ranking names every child
        from ktrdr.cli.sweep_cmd import ranking_table

        console.print(ranking_table(summary))
        return
    for child in data.get("children", []):
        console.print(f"  {child['type']}: {child['id']} {child['status']}")
    if data.get("children"):  # a parent: its summary is one section per child kind
        for kind in ("training", "backtest"):
            if isinstance(summary.get(kind), dict):
                _render_summary(console, kind, summary[kind])
    else:
        _render_summary(console, data["type"], summary)
    if "trades" in data:
        _render_trades(console, data)
    if data.get("equity"):
        values = [p["equity"] for p in data["equity"]]
        console.print(f"equity {sparkline(values)}  {_fmt(values[0])} → {_fmt(values[-1])} "
                      f"(min {_fmt(min(values))}, max {_fmt(max(values))})")


def _render_summary(console: Any, kind: str, summary: dict[str, Any]) -> None:
    """One operation's summary: a backtest's range, costs, data source and metrics by unit; others as a table."""
    from rich.table import Table

    from ktrdr.cli.render import metrics_table, result_tables

    if kind == "training":
        result_tables("training", summary)
        return
    info = {k: summary.get(k) for k in ("model", "symbol", "timeframe", "start", "end", "bars", "bars_per_s")
            if k in summary}
    info |= summary.get("costs") or {}
    if info:
        console.print("  ".join(f"{k}: {_fmt(v)}" for k, v in info.items()))
    if summary.get("data_source") == "synthetic":
        console.print("[bold yellow]data: synthetic[/] — generated bars, not market prices: these figures say "
                      "nothing about a real market")
    if isinstance(summary.get("metrics"), dict):
        console.print(metrics_table(summary["metrics"], "metrics"))
        return
    table = Table("metric", "value", title="result")
    for key, value in summary.items():
        if not isinstance(value, (dict, list)):
            table.add_row(key, _fmt(value))
    console.print(table)


def _render_trades(console: Any, data: dict[str, Any]) -> None:
    from rich.table import Table

    cols = ("entry_time", "exit_time", "side", "size", "entry_price", "exit_price", "pnl", "pnl_pct", "bars_held")
    table = Table(*cols, title=f"trades ({len(data['trades'])} of {data['trades_total']})")
    for row in data["trades"]:
        table.add_row(*(_fmt(row[c]) for c in cols))
    console.print(table)


@app.command()
def show(ctx: typer.Context, op_id: str = typer.Argument(..., help="Operation id.", callback=checks.op_id),
         trades: bool = typer.Option(False, "--trades", help="Also list the trades (backtests)."),
         equity: bool = typer.Option(False, "--equity", help="Also show the equity curve (backtests)."),
         limit: int = typer.Option(20, "--limit", min=0, help="Trades to list (0: all)."),
         points: int = typer.Option(60, "--points", min=0, help="Equity points to sample (0: all)."),
         best_strategy: Optional[Path] = typer.Option(
             None, "--best-strategy", help="Sweeps: write the best variant's strategy file here.")) -> None:
    """Show an operation's result summary (all backtest metrics), optionally its trades and equity curve."""
    st = state(ctx)
    record, result, children = run(lambda: fetch(st.settings, op_id, trades or equity))
    data = as_data(record, result, trades, equity, limit, points, children)
    if best_strategy is not None:
        from ktrdr.cli.sweep_cmd import write_best

        write_best(record, best_strategy)
    emit(st, data, lambda: render(data))
