"""`ktrdr nats up|status|down` as a user runs them, in subprocesses with a clean KTRDR_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ktrdr.bus.embedded import EmbeddedServer, pid_alive


def ktrdr(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with its own home and no inherited NATS URL (unless given in `extra`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")}
    env.update(KTRDR_HOME=str(home), **extra)
    return subprocess.run([sys.executable, "-m", "ktrdr", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_up_status_down(tmp_path: Path) -> None:
    up = ktrdr(tmp_path, "nats", "up", "--port", "-1", "--monitor-port", "0")
    try:
        assert up.returncode == 0, up.stderr
        assert "started" in up.stdout and "created" in up.stdout
        again = ktrdr(tmp_path, "nats", "up", "--port", "-1", "--monitor-port", "0")
        assert "already running" in again.stdout and "0 created, 0 updated" in again.stdout
        status = ktrdr(tmp_path, "--json", "nats", "status")
        assert status.returncode == 0, status.stderr
        info = json.loads(status.stdout)
        assert {s["name"] for s in info["streams"] if s["exists"]} >= {"KTRDR_WORK", "KTRDR_EVENTS"}
        assert all(c["exists"] and c["pending"] == 0 for c in info["consumers"])
        started = EmbeddedServer(tmp_path).running()
        assert started is not None
    finally:
        down = ktrdr(tmp_path, "nats", "down")
    assert "stopped" in down.stdout and EmbeddedServer(tmp_path).running() is None
    assert not pid_alive(started.pid)
    # Asked for by its URL: without it, status would try the default port, where another server may listen.
    after = ktrdr(tmp_path, "nats", "status", KTRDR_NATS_URL=started.url)
    assert after.returncode == 1 and "`ktrdr up`" in after.stderr  # one hint: the whole stack, not half of it
