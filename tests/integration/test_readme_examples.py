"""The README's `ktrdr` examples, replayed as written against a local stack (`ktrdr up --detach`), `OP_ID` being the
operation the `ktrdr dummy --steps 50` line started. Lines that run until Ctrl-C get one, as a person would."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
INTERACTIVE = {("follow",), ("events",)}  # they run until Ctrl-C: the README says so beside them


def block(after: str) -> list[list[str]]:
    """The `ktrdr` lines of the first bash block after the text `after`, comments dropped."""
    found = re.search(re.escape(after) + r".*?```bash\n(.*?)```", README, re.S)
    assert found, f"the README lost the block after {after!r}"
    return [shlex.split(line, comments=True) for line in found.group(1).splitlines() if line.startswith("ktrdr ")]


class Shell:
    """Runs `ktrdr` lines with the environment of a fresh user (KTRDR_HOME only)."""

    def __init__(self, home: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")}
        self.env.update(KTRDR_HOME=str(home), COLUMNS="160")
        self.op_id = ""

    def argv(self, line: list[str]) -> list[str]:
        """The line as a command, OP_ID replaced."""
        return [sys.executable, "-m", "ktrdr", *[w.replace("OP_ID", self.op_id) for w in line[1:]]]

    def run(self, line: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run to the end; exit 0 and no traceback, or the output in the failure."""
        done = subprocess.run(self.argv(line), env=self.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (line, done.stdout[-2000:],
                                                                         done.stderr[-3000:])
        return done

    def interrupt(self, line: list[str]) -> None:
        """Run until it has said something, then Ctrl-C: a clean exit (0 or 130)."""
        proc = subprocess.Popen(self.argv(line), env=self.env, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            first = proc.stderr.readline()  # "following …" / "listening on …": the Ctrl-C handler is in place
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
        assert proc.returncode in (0, 130) and "Traceback" not in err, (line, first, err[-2000:])

    def status(self) -> str:
        """OP_ID's status."""
        return json.loads(self.run(["ktrdr", "--json", "ops", "show", "OP_ID"]).stdout)["status"]

    def wait_status(self, wanted: set[str], timeout: float = 60) -> None:
        """Until OP_ID is in one of `wanted` (a person would look again)."""
        deadline = time.monotonic() + timeout
        while (now := self.status()) not in wanted:
            assert time.monotonic() < deadline, f"{self.op_id} stayed {now}"
            time.sleep(0.5)


@pytest.mark.timeout(1200)  # it trains twice and runs a research, as the README's lines do
def test_the_readme_runs_as_written(tmp_path: Path) -> None:
    shell = Shell(tmp_path / "home")
    stack = block("## Running the stack")
    shell.run(["ktrdr", "up", "--detach", "--data-worker"])  # the README's option table: with the data worker
    try:
        for line in stack:
            if line[1:] in (["up"], ["down"]):  # foreground `up` is the same stack; `down` comes last
                continue
            shell.run(line)
        for line in block("Then, from any shell:"):
            replay(shell, line)
    finally:
        shell.run(["ktrdr", "down"])


def replay(shell: Shell, line: list[str]) -> None:
    """One tour line, as a person would run it at that point."""
    print("replaying:", shlex.join(line), flush=True)  # shown with the failure: which line it was
    if tuple(line[1:2]) in INTERACTIVE:
        shell.interrupt(line)
    elif line[1:2] == ["resume"]:
        shell.wait_status({"cancelled", "completed"})  # the cancel of the line before has landed
        if shell.status() == "cancelled":
            shell.run(line)
    else:
        done = shell.run(line)
        started = re.search(r"started (op_dummy_\w+)", done.stdout)
        if line[1:] == ["dummy", "--steps", "50"] and started:
            shell.op_id = started.group(1)
