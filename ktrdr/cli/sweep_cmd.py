"""`ktrdr sweep`: train (or research) every variant of a strategy over a grid; the ranking table it ends with."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ktrdr.cli.common import fail
from ktrdr.cli.start_cmd import DEVICE, EPOCHS, FOLLOW, STRATEGY, start
from ktrdr.cli.strategies_cmd import strategy_text

SETS = typer.Option(..., "--set", help="PATH=V1,V2,… at a YAML path of the strategy, values as YAML "
                                       "(model.architecture.hidden_layers=[32],[64,32]); repeat for more axes.")


def sweep(ctx: typer.Context, strategy: str = STRATEGY, sets: list[str] = SETS,
          samples: Optional[int] = typer.Option(None, "--samples", min=1,
                                                help="Draw N variants of the grid at random (seeded) instead of all."),
          seed: int = typer.Option(0, "--seed", help="Seed of --samples."),
          metric: Optional[str] = typer.Option(None, "--metric", help="Ranks the variants: val_loss (default), "
                                               "val_accuracy, test_accuracy; with --backtest sharpe (default), "
                                               "return, drawdown."),
          backtest: bool = typer.Option(False, "--backtest", help="Research each variant: train, then backtest."),
          max_parallel: int = typer.Option(4, "--max-parallel", min=1, help="Variants in flight at once."),
          symbol: Optional[list[str]] = typer.Option(None, "--symbol", help="Override the strategy's symbols."),
          timeframe: Optional[list[str]] = typer.Option(None, "--timeframe", help="Override its timeframes."),
          start_: Optional[str] = typer.Option(None, "--start"), end: Optional[str] = typer.Option(None, "--end"),
          device: str = DEVICE, epochs: Optional[int] = EPOCHS, follow: bool = FOLLOW) -> None:
    """Fan a strategy out over a parameter grid: one training (or research) operation per variant, ranked."""
    from ktrdr.strategy import StrategyError
    from ktrdr.strategy.sweep_grid import parse_set

    try:
        axes = [parse_set(s) for s in sets]
    except StrategyError as exc:
        fail(str(exc.message), exc.hint)
    payload = {"strategy_yaml": strategy_text(strategy), "sets": [{"path": a.path, "values": list(a.values)}
                                                                  for a in axes],
               "samples": samples, "seed": seed, "metric": metric, "backtest": backtest,
               "max_parallel": max_parallel, "symbols": symbol, "timeframes": timeframe, "start": start_,
               "end": end, "device": device, "epochs": epochs}
    start(ctx, "sweep", payload, follow)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.5g}"
    return "—" if value is None else str(value)


def _header(path: str, paths: list[str]) -> str:
    """The path's last key when that alone is unambiguous (narrower tables), else the whole path."""
    last = path.rsplit(".", 1)[-1]
    return last if sum(1 for p in paths if p.rsplit(".", 1)[-1] == last) == 1 else path


def ranking_table(result: dict[str, Any]) -> Any:
    """The ranking as a rich Table: rank, metric, one column per swept path, status, child."""
    from rich.table import Table

    rows = result.get("ranking") or []
    paths = list(rows[0]["overrides"]) if rows else []
    title = (f"sweep ranking by {result['metric']} ({'lower' if result['better'] == 'min' else 'higher'} is better)"
             f" — {result['completed']}/{result['variants']} completed")
    table = Table("rank", result["metric"], *(_header(p, paths) for p in paths), "status", title=title)
    # the child id is what a reader copies into the next command: never cut, the other columns wrap instead
    longest = max((len(r["child_id"]) for r in rows), default=5)
    table.add_column("child", no_wrap=True, min_width=longest)
    for row in rows:
        table.add_row(_fmt(row["rank"]), _fmt(row["value"]), *(_fmt(row["overrides"][p]) for p in paths),
                      row["status"], row["child_id"])
    return table


def best_strategy(record: Any) -> str:
    """The best variant's strategy text, from the sweep's own strategy and that variant's overrides."""
    from ktrdr.strategy.loader import read_source
    from ktrdr.strategy.sweep_grid import variant_yaml

    best = (record.result or {}).get("best")
    if record.type != "sweep" or best is None:
        fail(f"{record.id} is not a sweep with a ranked variant ({record.type}, {record.status})",
             "--best-strategy reads a completed sweep")
    text = variant_yaml(read_source(record.parameters["strategy_yaml"]), best["overrides"], "best variant")
    header = (f"# best variant of sweep {record.id} by {record.result['metric']} = {_fmt(best['value'])}\n"
              + "".join(f"# {k} = {v}\n" for k, v in best["overrides"].items()))
    return header + text


def write_best(record: Any, out: Path) -> None:
    """Write the best variant's strategy file and say so on stderr."""
    try:
        out.write_text(best_strategy(record), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}", "check the folder exists and is writable")
    typer.echo(f"wrote the best variant's strategy to {out}", err=True)
