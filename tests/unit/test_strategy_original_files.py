"""The original KTRDR's own v3 strategy files validate here unchanged (`ktrdr validate FILE`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ktrdr.cli.main import app
from ktrdr.strategy import StrategyWarning, dump_strategy, validate_strategy

ORIGINALS = Path(__file__).resolve().parents[2].parent / "shared" / "ktrdr-v3-strategies"
FILES = sorted(ORIGINALS.glob("*.yaml")) if ORIGINALS.is_dir() else []


@pytest.mark.skipif(not FILES, reason=f"{ORIGINALS} is absent")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_original_strategy_validates_unchanged(path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid (" in result.output


@pytest.mark.skipif(not FILES, reason=f"{ORIGINALS} is absent")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_original_strategy_survives_the_model_bundle_round_trip(path: Path) -> None:
    first: list[StrategyWarning] = []
    cfg = validate_strategy(path, first)
    again: list[StrategyWarning] = []
    assert validate_strategy(dump_strategy(cfg), again) == cfg  # what a model bundle stores and reloads
    assert {w.path for w in again} <= {w.path for w in first}  # nothing new to warn about
