"""`ktrdr monitor` in a real terminal (tmux): `?` opens a help screen that lists the keys."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ktrdr.bus.handle import Bus
from ktrdr.config import Settings

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed (apt-get install tmux); .ci/run installs it where it can")
KEYS = ["enter / d", "cancel the selected operation", "resume a failed", "follow the selected", "filter operations",
        "only active operations", "this help", "quit"]


def tmux(*args: str) -> str:
    """Run one tmux command and return its output."""
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True, timeout=10).stdout


def screen_shows(session: str, text: str, timeout: float = 30.0) -> str:
    """Wait until the pane shows `text`; the pane's content (AssertionError with it on timeout)."""
    deadline = time.monotonic() + timeout
    pane = ""
    while time.monotonic() < deadline:
        pane = tmux("capture-pane", "-p", "-t", session)
        if text in pane:
            return pane
        time.sleep(0.1)  # polling a terminal: tmux has no event to wait on
    raise AssertionError(f"{text!r} never appeared:\n{pane}")


def test_question_mark_lists_the_keys(settings: Settings) -> None:
    async def setup() -> None:
        bus = await Bus.open(settings, setup=True)
        await bus.close()

    asyncio.run(setup())
    session = f"ktrdr-help-{secrets.token_hex(3)}"
    ktrdr = f"{sys.executable} -m ktrdr monitor"
    env = f"KTRDR_NATS_URL={settings.nats_url} KTRDR_NAMESPACE={settings.namespace} KTRDR_HOME={settings.home}"
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", "-c", str(Path(__file__).parents[2]),
         f"env {env} {ktrdr}")
    try:
        screen_shows(session, "operations")
        tmux("send-keys", "-t", session, "?")
        pane = screen_shows(session, "Keys")
        missing = [k for k in KEYS if k not in pane]
        assert not missing, f"the help screen lacks {missing}:\n{pane}"
        tmux("send-keys", "-t", session, "Escape")
        tmux("send-keys", "-t", session, "q")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=10)
