"""`ktrdr strategies list` and the name-or-path lookup every strategy argument goes through."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from ktrdr.cli.common import emit, fail, state

app = typer.Typer(no_args_is_help=True, help="Strategy files in the strategies directory.")
DIR_ENV = "KTRDR_STRATEGIES_DIR"
DIR_OPTION = typer.Option(None, "--dir", envvar=DIR_ENV,
                          help="Strategies directory (default ./strategies).")


def strategies_dir(given: str | Path | None = None) -> Path:
    """The strategies directory: the option, else $KTRDR_STRATEGIES_DIR, else ./strategies."""
    return Path(given or os.environ.get(DIR_ENV) or "strategies")


def strategy_files(directory: Path) -> list[Path]:
    """The YAML files of a strategies directory, sorted by name."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def resolve_strategy(arg: str, directory: Path | None = None) -> Path:
    """A strategy file from a path, a file stem in the strategies directory, or a strategy `name:`."""
    path = Path(arg)
    if path.is_file():
        return path
    folder = strategies_dir(directory)
    for candidate in (folder / f"{arg}.yaml", folder / f"{arg}.yml"):
        if candidate.is_file():
            return candidate
    names = _names(folder)
    if arg in names:
        return names[arg]
    from ktrdr.strategy.errors import did_you_mean

    hint = did_you_mean(arg, [*names, *(p.stem for p in strategy_files(folder))])
    fail(f"no strategy '{arg}' (not a file, nor a strategy in {folder}/)",
         hint or f"`ktrdr strategies list` shows them; set {DIR_ENV} to look elsewhere")
    raise AssertionError  # fail() exits


def _names(folder: Path) -> dict[str, Path]:
    from ktrdr.strategy.loader import read_source

    found = {}
    for path in strategy_files(folder):
        try:
            name = read_source(path).get("name")
        except Exception:  # an unreadable file simply has no name to match
            continue
        if isinstance(name, str):
            found.setdefault(name, path)
    return found


def strategy_text(arg: str) -> str:
    """The text of the strategy named or pointed to by `arg`."""
    return resolve_strategy(arg).read_text(encoding="utf-8")


def summary(path: Path) -> dict[str, Any]:
    """One row of `strategies list`: the strategy's identity, data and model, or why it is invalid."""
    from ktrdr.strategy import StrategyError, validate_strategy

    try:
        cfg = validate_strategy(path)
    except StrategyError as exc:
        return {"file": path.name, "name": path.stem, "valid": False, "error": str(exc)}
    td = cfg.training_data
    return {"file": path.name, "name": cfg.name, "valid": True, "version": cfg.version,
            "symbols": td.symbol_list, "timeframes": td.timeframe_list, "model": cfg.model.type,
            "output": cfg.decisions.output_format, "labels": cfg.label_source}


@app.command("list")
def list_cmd(ctx: typer.Context, directory: str = DIR_OPTION) -> None:
    """List the strategies of a directory: name, version, symbols, timeframes, model, label source."""
    from ktrdr.cli.render import table

    folder = strategies_dir(directory)
    if not folder.is_dir():
        fail(f"no strategies directory {folder}", f"create it, pass --dir or set {DIR_ENV}")
    rows = [summary(p) for p in strategy_files(folder)]

    def human() -> None:
        cells = [[r["name"], r.get("version", "-"), ",".join(r.get("symbols", [])) or "-",
                  ",".join(r.get("timeframes", [])) or "-", r.get("model", "-"), r.get("labels", "-"),
                  "ok" if r["valid"] else f"invalid: {r['error']}"] for r in rows]
        table(f"strategies in {folder}", ["name", "version", "symbols", "timeframes", "model", "labels", "status"],
              cells)

    emit(state(ctx), rows, human)
