"""Hostile YAML (alias bombs, huge files, deep nesting, odd bytes) gets a clear StrategyError, never a hang
or a traceback, both from the loader and from `ktrdr validate`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ktrdr.cli.main import app
from ktrdr.strategy import StrategyError, validate_strategy


def _alias_bomb(levels: int = 9) -> str:
    """Each level refers nine times to the one before: 9**levels nodes once expanded."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


HOSTILE = {
    "alias bomb": (_alias_bomb(), "anchors/aliases"),
    "10 MB": ("name: x\n" + "# padding line\n" * 700_000, "more than"),
    "deep flow nesting": ("a: " + "[" * 100_000, "nested deeper"),
    "deep mapping nesting": ("a: " + "{b: " * 5_000 + "}" * 5_000, "nested deeper"),
    "deep block nesting": ("".join(" " * i + "k:\n" for i in range(60)), "nested deeper"),
    "many nodes": ("a: [" + "1, " * 40_000 + "1]\n", "more than"),
    "a scalar": ("just text", "must be a YAML mapping"),
    "a list": ("- a\n- b\n", "must be a YAML mapping"),
    "tab indentation": ("name: x\n\tversion: 3\n", "invalid YAML"),
    "unknown tag": ("name: !!python/object:os.system x\n", "invalid YAML"),
    "control characters": ("name: \x00\x01\n", "invalid YAML"),
}


@pytest.mark.parametrize("text,words", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_is_a_clear_strategy_error(text: str, words: str) -> None:
    with pytest.raises(StrategyError) as info:
        validate_strategy(text)
    assert words in str(info.value)


@pytest.mark.parametrize("name", ["alias bomb", "10 MB", "deep flow nesting", "unknown tag"])
def test_validate_command_reports_hostile_files_without_a_traceback(name: str, tmp_path: Path) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE[name][0])
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # an exit, not a crash
    assert "error:" in result.output and "Traceback" not in result.output


def test_binary_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(StrategyError, match="UTF-8|invalid YAML"):
        validate_strategy(path)
