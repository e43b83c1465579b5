"""`ktrdr strategies list` and strategy arguments that take a name or a path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ktrdr.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "strategies"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A strategies directory: the two examples (one under another file name) and a broken file."""
    shutil.copy(EXAMPLES / "rsi_mean_reversion.yaml", tmp_path / "mean_rev.yaml")
    shutil.copy(EXAMPLES / "trend_momentum_mtf.yaml", tmp_path / "trend_momentum_mtf.yaml")
    (tmp_path / "broken.yaml").write_text("name: broken\nversion: '3.0'\nindicatorz: {}\n")
    return tmp_path


def _run(*args: str, env_dir: Path) -> object:
    # A wide terminal so that table cells are not shortened.
    return CliRunner().invoke(app, list(args), env={"KTRDR_STRATEGIES_DIR": str(env_dir), "COLUMNS": "200"})


def test_list_reports_each_strategy_from_the_directory_in_the_environment(folder: Path) -> None:
    result = _run("--json", "strategies", "list", env_dir=folder)
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert set(rows) == {"broken", "rsi_mean_reversion", "trend_momentum_mtf"}
    trend = rows["trend_momentum_mtf"]
    assert (trend["version"], trend["symbols"], trend["timeframes"]) == ("3.0", ["EURUSD"], ["1h", "4h"])
    assert (trend["model"], trend["labels"]) == ("mlp", "forward_return")
    assert rows["rsi_mean_reversion"]["labels"] == "zigzag" and rows["rsi_mean_reversion"]["file"] == "mean_rev.yaml"
    assert not rows["broken"]["valid"] and "indicatorz" in rows["broken"]["error"]


def test_list_table_and_missing_directory(folder: Path, tmp_path: Path) -> None:
    table = _run("strategies", "list", env_dir=folder)
    assert table.exit_code == 0 and "trend_momentum_mtf" in table.output
    missing = _run("strategies", "list", env_dir=tmp_path / "nowhere")
    assert missing.exit_code == 1 and "KTRDR_STRATEGIES_DIR" in missing.output


@pytest.mark.parametrize("arg", ["mean_rev", "rsi_mean_reversion", "trend_momentum_mtf"])
def test_validate_takes_a_file_stem_or_a_strategy_name(folder: Path, arg: str) -> None:
    result = _run("validate", arg, env_dir=folder)
    assert result.exit_code == 0, result.output
    assert str(folder) in result.output


def test_validate_takes_a_path_and_suggests_close_names(folder: Path) -> None:
    by_path = _run("validate", str(folder / "mean_rev.yaml"), env_dir=folder / "nowhere")
    assert by_path.exit_code == 0
    unknown = _run("validate", "trend_momentum", env_dir=folder)
    assert unknown.exit_code == 1 and "did you mean 'trend_momentum_mtf'" in unknown.output


def test_validate_prints_warnings_and_the_error_position(folder: Path) -> None:
    text = (folder / "mean_rev.yaml").read_text().replace("  batch_size: 128", "  batch_size: 128\n"
                                                                                "  validation_split: 0.2")
    (folder / "warned.yaml").write_text(text)
    warned = _run("validate", "warned", env_dir=folder)
    assert warned.exit_code == 0 and "warning:" in warned.output and "training.validation_split" in warned.output
    broken = _run("validate", "broken", env_dir=folder)
    assert broken.exit_code == 1 and "line 3, column 1: indicatorz" in broken.output


@pytest.mark.parametrize("command", ["train", "backtest", "research"])
def test_run_commands_take_names_and_resolve_them_before_connecting(folder: Path, command: str) -> None:
    unknown = _run(command, "nope", env_dir=folder)
    assert unknown.exit_code == 1 and "no strategy 'nope'" in unknown.output
    if command != "backtest":  # a backtest trains nothing
        assert "--epochs" in _run(command, "--help", env_dir=folder).output
