"""Every `--help` of the command line: the root's list matches the commands, each command's own help works."""

from __future__ import annotations

import sys

import pytest
import typer

from ktrdr.cli.lazy import Group
from ktrdr.cli.main import COMMANDS, app, main


def _run(*args: str) -> int:
    """The exit code of `ktrdr ARGS` run in this process as the console script runs it."""
    with pytest.raises(SystemExit) as done:
        main(list(args))
    return int(done.value.code or 0)


def _groups(command: typer.core.TyperGroup, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Group]]:
    """Every group of the fully loaded tree under `command`, with its path."""
    found = [(path, command)]
    for name, sub in command.commands.items():
        if hasattr(sub, "commands"):
            found += _groups(sub, (*path, name))
    return found


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_root_list_shows_each_command_s_own_first_sentence(name: str) -> None:
    """The table's line is what the command itself says first (edit both together)."""
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    assert COMMANDS[name].help == command.get_short_help_str(sys.maxsize)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_shows_its_own_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`ktrdr NAME --help` exits 0 with that command's usage and its whole help text."""
    assert _run(name, "--help") == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"Usage: ktrdr {name} ")
    assert "".join(COMMANDS[name].help.split()) in "".join(shown.split())  # wrapped, but whole


def test_every_group_lists_whole_sentences(capsys: pytest.CaptureFixture[str]) -> None:
    """No group cuts a command's line with `...` (typer's plain list would): each sentence appears whole."""
    groups = _groups(typer.main.get_command(app), ())  # type: ignore[arg-type]
    assert {path for path, _ in groups} >= {(), ("nats",), ("nats", "cluster"), ("data",)}
    for path, group in groups:
        assert _run(*path, "--help") == 0
        shown = "".join(capsys.readouterr().out.split())
        for name, sub in group.commands.items():
            assert "".join(sub.get_short_help_str(sys.maxsize).split()) in shown, (path, name)


def test_a_bare_group_prints_its_help_and_a_json_run_says_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    """`ktrdr nats` shows the group's help (exit 2); with --json, one JSON error naming the group."""
    assert _run("nats") == 2
    assert capsys.readouterr().out.startswith("Usage: ktrdr nats ")
    assert _run("--json", "nats") == 2
    assert capsys.readouterr().out.strip() == (
        '{"error": "`ktrdr nats` needs a command", "hint": "see `ktrdr nats --help`", "code": 2}')


def test_a_mistyped_command_is_still_suggested(capsys: pytest.CaptureFixture[str]) -> None:
    """Typer's "did you mean" reads the root's names without loading the commands."""
    assert _run("opz") == 2
    assert "Did you mean 'ops'?" in capsys.readouterr().err
