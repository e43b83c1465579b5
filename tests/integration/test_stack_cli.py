"""`ktrdr up|status|down` as a user runs them: subprocesses, a clean KTRDR_HOME, an embedded server on any port."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ktrdr.bus.handle import Bus
from ktrdr.client import KtrdrClient
from ktrdr.config import Settings
from ktrdr.stack import Stack
from ktrdr.stack_state import StackState, StateFile

pytestmark = pytest.mark.slow
ONE_DUMMY = ("--backtest-workers", "0", "--training-workers", "0", "--dummy-workers", "1",
             "--port", "-1", "--monitor-port", "0")


def _env(home: Path, **extra: str) -> dict[str, str]:
    """No inherited KTRDR_* (the session's test server must stay untouched), a namespace of our own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")}
    env.update(KTRDR_HOME=str(home), KTRDR_NAMESPACE=f"t{secrets.token_hex(4)}", KTRDR_HEARTBEAT_S="0.5", **extra)
    return env


def ktrdr(env: dict[str, str], *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion."""
    return subprocess.run([sys.executable, "-m", "ktrdr", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def alive(pid: int) -> bool:
    """True while the pid runs (a zombie waiting for its reaper counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def recorded(home: Path) -> StackState:
    """The stack.json `ktrdr up` wrote."""
    state = StateFile(home).read()
    assert state is not None, "ktrdr up recorded no stack"
    return state


async def run_dummy(url: str, namespace: str) -> Any:
    """Start a dummy operation through the backend API and follow it to its end."""
    bus = await Bus.open(Settings(nats_url=url, namespace=namespace))
    try:
        client = KtrdrClient(bus)
        started = await client.start("dummy", {"steps": 3, "step_seconds": 0.05})

        async def last() -> Any:
            async for record in client.follow(started["operation_id"]):
                final = record
            return final

        return await asyncio.wait_for(last(), 30)
    finally:
        await bus.close()


def test_up_detached_status_dummy_reuse_down(tmp_path: Path) -> None:
    env = _env(tmp_path)
    up = ktrdr(env, "up", "--detach", *ONE_DUMMY)
    try:
        assert up.returncode == 0, up.stderr + up.stdout
        state = recorded(tmp_path)
        assert "`ktrdr down`" in up.stdout and state.url in up.stdout
        assert {c.role for c in state.children} == {"backend", "dummy"}
        for child in state.children:
            assert str(child.pid) in up.stdout and Path(child.log).is_file()
        status = ktrdr(env, "status", "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        idents = {c.role: c.ident for c in state.children}
        assert report["server"]["reachable"] and report["server"]["url"] == state.url
        assert [b["backend_id"] for b in report["backends"]] == [idents["backend"]]
        assert {"worker_id": idents["dummy"], "status": "available", "running": []} in report["pools"]["dummy/cpu"]
        human = ktrdr(env, "status")
        assert human.returncode == 0 and idents["backend"] in human.stdout and "dummy/cpu" in human.stdout
        record = asyncio.run(run_dummy(state.url, env["KTRDR_NAMESPACE"]))
        assert record.status == "completed" and record.worker_id == idents["dummy"]
        _reuse_and_top_up(tmp_path, env, state)
    finally:
        down = ktrdr(env, "down")
    assert down.returncode == 0, down.stderr
    assert all(not alive(c.pid) for c in state.children), down.stdout
    assert not alive(state.server_pid) and "stopped the nats-server" in down.stdout
    assert StateFile(tmp_path).read() is None
    after = ktrdr(env, "status")
    assert after.returncode == 1 and "ktrdr up" in after.stderr


def _reuse_and_top_up(home: Path, env: dict[str, str], state: StackState) -> None:
    """Stack.running() over a running stack starts only the missing worker and stops only that one."""
    settings = Settings(home=str(home), namespace=env["KTRDR_NAMESPACE"], heartbeat_s=0.5)
    stack = Stack(settings, backtest_workers=0, training_workers=0, dummy_workers=2, port=-1, monitor_port=0)

    async def inside() -> dict[str, Any]:
        async with stack.running() as running:
            return running.summary()

    summary = asyncio.run(inside())
    started = [p for p in summary["processes"] if p["started_now"]]
    assert summary["url"] == state.url and [p["name"] for p in started] == ["dummy-2"]
    assert not summary["server"]["started_now"]
    assert not alive(started[0]["pid"])
    assert all(alive(c.pid) for c in state.children)
    assert recorded(home).children == state.children


def test_foreground_up_stops_everything_on_sigint(tmp_path: Path) -> None:
    env = _env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "ktrdr", "up", *ONE_DUMMY], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = _read_until(proc, "ready in", timeout=60)
        state = recorded(tmp_path)
        assert all(alive(c.pid) for c in state.children), lines
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=40)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Ctrl-C stops everything" in err and "stopped: " in err
    assert all(not alive(c.pid) for c in state.children)
    assert not alive(state.server_pid) and StateFile(tmp_path).read() is None


def test_foreground_up_stops_the_rest_when_a_child_dies(tmp_path: Path) -> None:
    env = _env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "ktrdr", "up", *ONE_DUMMY], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _read_until(proc, "ready in", timeout=60)
        state = recorded(tmp_path)
        dummy = next(c for c in state.children if c.role == "dummy")
        os.kill(dummy.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=40)
    finally:
        proc.kill()
    assert proc.returncode == 1 and f"dummy-1 (pid {dummy.pid}) exited; see {dummy.log}" in err
    assert all(not alive(c.pid) for c in state.children) and not alive(state.server_pid)


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """Stdout lines until one contains `marker` (readline blocks, so the deadline is checked between lines)."""
    deadline, seen = time.monotonic() + timeout, ""
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"ktrdr up ended before `{marker}`: {seen}{proc.stderr.read() if proc.stderr else ''}")
        seen += line
        if marker in line:
            return seen
    raise AssertionError(f"no `{marker}` within {timeout}s: {seen}")


def test_a_child_that_dies_fails_up_and_leaves_nothing(tmp_path: Path) -> None:
    env = _env(tmp_path, KTRDR_WORKER_CAPACITY="0")  # only workers read it: the dummy worker refuses to start
    up = ktrdr(env, "up", "--detach", *ONE_DUMMY)
    assert up.returncode == 1
    assert "dummy-1 exited with code 2 before it was ready" in up.stderr
    assert f"see {tmp_path / 'logs' / 'dummy-1.log'}" in up.stderr
    assert StateFile(tmp_path).read() is None
    status = ktrdr(env, "status")
    assert status.returncode == 1 and "ktrdr up" in status.stderr


def test_status_without_a_server_says_what_to_do(tmp_path: Path) -> None:
    status = ktrdr(_env(tmp_path, KTRDR_NATS_URL="nats://127.0.0.1:1"), "--json", "status")
    assert status.returncode == 1 and "no NATS server answers" in status.stderr and "ktrdr up" in status.stderr
    assert json.loads(status.stdout)["server"]["reachable"] is False
    down = ktrdr(_env(tmp_path), "down")
    assert down.returncode == 0 and "no stack is running" in down.stdout
