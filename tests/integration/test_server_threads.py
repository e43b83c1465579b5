"""The embedded nats-server leaves most cores to the workers: its Go thread budget, as the server reports it."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pytest

from ktrdr.bus.embedded import start_server, stop_pid

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _varz(tmp: Path, monkeypatch: pytest.MonkeyPatch, gomaxprocs: str | None) -> dict:
    """Start a server with (or without) GOMAXPROCS in the environment and read its /varz."""
    if gomaxprocs is None:
        monkeypatch.delenv("GOMAXPROCS", raising=False)
    else:
        monkeypatch.setenv("GOMAXPROCS", gomaxprocs)
    port = _free_port()
    proc, _ = start_server(tmp / "js", tmp / "server.log", monitor_port=port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/varz", timeout=5) as resp:
            return json.load(resp)
    finally:
        stop_pid(proc.pid)
        proc.wait(10)


def test_the_server_takes_a_quarter_of_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    varz = _varz(tmp_path, monkeypatch, None)
    assert varz["gomaxprocs"] == max(1, varz["cores"] // 4)
    assert varz["gomaxprocs"] < varz["cores"] or varz["cores"] == 1


def test_a_gomaxprocs_in_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _varz(tmp_path, monkeypatch, "2")["gomaxprocs"] == 2
