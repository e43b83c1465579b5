"""Hostile values in every argument a person types: a clean exit 1 or 2, one message, no traceback, no internals."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from ktrdr.bus.handle import Bus
from ktrdr.cli.jsonflag import add_json_everywhere
from ktrdr.cli.main import app, main
from ktrdr.config import Settings

ROOT = Path(__file__).resolve().parents[2]
# Commands that serve or tail until stopped: only their id options are fed, and only malformed values (a
# well-formed one would start serving).
SERVING = {"demo", "up", "down", "status", "monitor", "nats", "backend", "worker", "events"}
ID_OPTIONS = {("events", "--op"), ("worker", "dummy", "--worker-id"), ("worker", "backtest", "--worker-id"),
              ("backend", "--backend-id")}
# Filters: a well-formed value that matches nothing is an empty list, not an error.
FILTERS = {("ops",), ("models", "list"), ("strategies", "list")}
BENIGN = {"op_id": "op_dummy_20240101_000000_0000abcd", "symbol": "EURUSD", "timeframe": "1h",
          "strategy": "rsi_mean_reversion", "ref": "nosuchmodel", "node": "n1", "path": "out.csv",
          "paths": "missing.csv"}
# Words that belong to the bus, not to the person typing.
INTERNAL = re.compile(r"Traceback|regex|subject|bucket|InvalidKey|JetStream|KeyValue|token \(|\bkv\b", re.I)
FIXED = ["", "*", ">", "x y", "garbage!!", "a.b", "../../etc/passwd", "\x00", "é", "x" * 5000, "-", "$(id)",
         "2024-13-45", "yesterday", "op_x.>", "/", "\\", "%s%n", "\n", "'; DROP TABLE"]
HOSTILE = st.one_of(st.sampled_from(FIXED), st.text(max_size=60)).filter(lambda s: not s.startswith("-"))
# A serving command given a well-formed id would start serving: those get only malformed ones.
MALFORMED = HOSTILE.filter(lambda s: not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", s))


def _params(command: typer.core.TyperCommand) -> list[tuple[str, bool, str]]:
    """(name, is_option, first flag) of every text or path parameter."""
    out = []
    for p in command.params:
        hint = str(getattr(p, "type_descriptor", ""))
        if ("str" in hint or "Path" in hint) and p.name not in ("reason", "ib_host"):
            out.append((p.name, p.param_type_name == "option", p.opts[0]))
    return out


def cases() -> list[tuple[tuple[str, ...], str]]:
    """(command path, parameter name) for every typed text argument of every command."""
    add_json_everywhere(app)
    found: list[tuple[tuple[str, ...], str]] = [(("ops",), "status"), (("ops",), "op_type")]

    def walk(cmd: object, path: tuple[str, ...]) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, (*path, name))
        if getattr(cmd, "commands", None):
            return
        for name, is_option, flag in _params(cmd):  # type: ignore[arg-type]
            if path[0] in SERVING and (*path, flag) not in ID_OPTIONS:
                continue
            found.append((path, name))

    walk(typer.main.get_command(app), ())
    return found


def argv(command: typer.core.TyperCommand, path: tuple[str, ...], target: str, value: str) -> list[str]:
    """The command line with `value` in `target` and benign values in the other arguments."""
    args, options = list(path), []
    for p in getattr(command, "params", []):
        if p.param_type_name == "argument":
            args.append(value if p.name == target else BENIGN.get(p.name, "x"))
        elif p.name == target:
            options += [p.opts[0], value]
    return args + options


def find(path: tuple[str, ...]) -> typer.core.TyperCommand:
    """The command object at `path`."""
    cmd = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    return cmd  # type: ignore[return-value]


@contextlib.contextmanager
def environment(settings: Settings) -> Iterator[None]:
    """The KTRDR_* variables a user would set, restored after."""
    saved = dict(os.environ)
    os.environ.update(KTRDR_NATS_URL=settings.nats_url or "", KTRDR_NAMESPACE=settings.namespace,
                      KTRDR_HOME=settings.home, COLUMNS="120")
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def invoke(args: list[str]) -> tuple[int, str, str]:
    """Run `ktrdr ARGS` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def topology(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One namespace set up for the whole module (commands get as far as looking things up; none writes)."""
    settings = Settings(nats_url=nats_url, namespace=f"t{secrets.token_hex(4)}",
                        home=str(tmp_path_factory.mktemp("hostile") / "home"))

    async def setup() -> None:
        bus = await Bus.open(settings, setup=True)
        await bus.close()

    asyncio.run(setup())
    return settings


@pytest.mark.parametrize(("path", "target"), cases(), ids=lambda v: "-".join(v) if isinstance(v, tuple) else v)
def test_hostile_values_end_cleanly(topology: Settings, tmp_path: Path, path: tuple[str, ...], target: str) -> None:
    command = find(path)

    @hsettings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(value=MALFORMED if path[0] in SERVING else HOSTILE, as_json=st.booleans())
    def check(value: str, as_json: bool) -> None:
        args = argv(command, path, target, value) + (["--json"] if as_json else [])
        with environment(topology), contextlib.chdir(tmp_path):
            code, out, err = invoke(args)
        assert code in ((0, 1, 2) if path in FILTERS else (1, 2)), (args, code, out, err)
        text = out + err
        assert not INTERNAL.search(text), (args, text)
        ns = topology.namespace
        assert f"{ns}_" not in text and f"{ns}." not in text, (args, text)  # bucket and subject names
        if as_json:
            reply = json.loads(out)  # the whole output is one JSON document
            assert code == 0 or set(reply) == {"error", "hint", "code"} and reply["code"] == code, (args, out)
        elif code:
            assert "error" in err.lower() or "invalid value" in err.lower(), (args, err)

    check()


@pytest.mark.parametrize("line", [["ops", "show", "garbage!!"], ["ops", "show", ""], ["ops", "show", "*"],
                                  ["follow", "x y"], ["--json", "cancel", "a.b"], ["events", "--op", ">"]])
def test_the_reported_lines_give_one_message(topology: Settings, line: list[str]) -> None:
    """The lines a new user typed, through the installed entry point (`python -m ktrdr`)."""
    env = {**os.environ, "KTRDR_NATS_URL": topology.nats_url or "", "KTRDR_NAMESPACE": topology.namespace,
           "KTRDR_HOME": topology.home}
    done = subprocess.run([sys.executable, "-m", "ktrdr", *line], env=env, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len((done.stdout + done.stderr).splitlines()) <= 8
    assert "not an operation id" in done.stdout + done.stderr and "ktrdr ops" in done.stdout + done.stderr
