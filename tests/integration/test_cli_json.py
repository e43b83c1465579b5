"""`--json` before or after the sub-command on every command: JSON on stdout (errors too, with the exit code),
timestamps as ISO 8601 UTC, and the flag listed in every command's --help."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import datetime

import typer

from ktrdr.cli.jsonflag import add_json_everywhere
from ktrdr.cli.main import app
from ktrdr.config import Settings
from tests.integration.test_cli_operations import ROOT, cli_env, ktrdr, stack  # noqa: F401 — the fixture


def iso_utc(value: str) -> datetime:
    """Parse an ISO 8601 UTC timestamp as the CLI prints it (fails on anything else)."""
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value[:-1] + "+00:00")


async def test_json_after_the_subcommand(stack: Settings) -> None:
    started = await ktrdr(stack, "dummy", "--steps", "1", "--step-seconds", "0", "--json")
    op_id = json.loads(started.stdout)["operation_id"]
    listed = await ktrdr(stack, "ops", "--json")
    assert listed.returncode == 0, listed.stderr
    row = next(o for o in json.loads(listed.stdout)["operations"] if o["id"] == op_id)
    iso_utc(row["created_at"])
    followed = await ktrdr(stack, "follow", op_id, "--json")
    shown = json.loads((await ktrdr(stack, "ops", "show", op_id, "--json")).stdout)
    assert json.loads(followed.stdout)["status"] == shown["status"] == "completed"
    assert iso_utc(shown["finished_at"]) >= iso_utc(shown["created_at"])
    workers = json.loads((await ktrdr(stack, "workers", "--json")).stdout)
    iso_utc(workers[0]["last_seen"])
    piped = await asyncio.to_thread(  # in a thread: the backend answering it runs on this test's loop
        subprocess.run, f"{sys.executable} -m ktrdr ops --json | {sys.executable} -m json.tool", shell=True,
        env=cli_env(stack), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and op_id in piped.stdout, piped.stderr


async def test_json_errors_carry_the_exit_code(stack: Settings) -> None:
    for args, code in ((["ops", "show", "op_dummy_20240101_000000_00000000", "--json"], 1),
                       (["--json", "ops", "show", "no such id"], 2), (["ops", "--bogus", "--json"], 2)):
        done = await ktrdr(stack, *args)
        reply = json.loads(done.stdout)
        assert done.returncode == code == reply["code"] and set(reply) == {"error", "hint", "code"}, done.stdout
        assert reply["hint"], reply


def test_every_command_lists_json_in_its_help() -> None:
    add_json_everywhere(app)
    missing = []

    def walk(cmd: object, path: tuple[str, ...]) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, (*path, name))
        if getattr(cmd, "commands", None) and path != ("ops",):  # a plain group only names its sub-commands
            return
        if not any("--json" in getattr(p, "opts", ()) for p in cmd.params):  # type: ignore[attr-defined]
            missing.append(" ".join(path))

    walk(typer.main.get_command(app), ())
    assert not missing, missing
    shown = subprocess.run([sys.executable, "-m", "ktrdr", "workers", "--help"], capture_output=True, text=True,
                           timeout=60, cwd=ROOT)
    assert "--json" in shown.stdout
