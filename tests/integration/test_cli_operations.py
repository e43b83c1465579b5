"""The CLI as a user runs it (subprocesses) against a real backend and worker: start, follow, cancel, resume,
ops, workers, events, their --json forms, and the Ctrl-C paths."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ktrdr.bus.handle import Bus
from ktrdr.config import Settings
from tests.helpers import wait_record
from tests.integration.conftest import BackendPool, WorkerPool

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment a user would set to reach this test's server and namespace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")}
    env.update(KTRDR_NATS_URL=settings.nats_url, KTRDR_NAMESPACE=settings.namespace, KTRDR_HOME=settings.home,
               COLUMNS="160")
    return env


async def ktrdr(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `ktrdr ARGS` in a subprocess without blocking the in-process backend."""
    return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "ktrdr", *args], env=cli_env(settings),
                                   capture_output=True, text=True, timeout=60, cwd=ROOT)


async def spawn(settings: Settings, *args: str) -> subprocess.Popen:
    """Start `ktrdr ARGS` and leave it running."""
    return subprocess.Popen([sys.executable, "-m", "ktrdr", *args], env=cli_env(settings), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
async def stack(settings: Settings, backends: BackendPool, workers: WorkerPool) -> Settings:
    """One backend and one dummy worker (capacity 2)."""
    await backends.start()
    await workers.start(capacity=2)
    return settings


async def test_start_follow_ops_show_and_json(stack: Settings) -> None:
    done = await ktrdr(stack, "--json", "dummy", "--steps", "3", "--step-seconds", "0.01", "--follow")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["status"] == "completed" and record["progress"]["percentage"] == 100.0
    started = await ktrdr(stack, "--json", "dummy", "--steps", "2", "--step-seconds", "0.01")
    op_id = json.loads(started.stdout)["operation_id"]
    followed = await ktrdr(stack, "--json", "follow", op_id)
    assert followed.returncode == 0 and json.loads(followed.stdout)["id"] == op_id
    listed = json.loads((await ktrdr(stack, "--json", "ops", "--type", "dummy")).stdout)
    assert {o["id"] for o in listed["operations"]} >= {record["id"], op_id} and listed["active"] == 0
    human = await ktrdr(stack, "ops", "show", op_id)
    assert op_id in human.stdout and "completed" in human.stdout
    workers = json.loads((await ktrdr(stack, "--json", "workers")).stdout)
    assert workers and workers[0]["kind"] == "dummy"


async def test_cancel_and_resume_from_the_cli(stack: Settings, bus: Bus) -> None:
    op_id = json.loads((await ktrdr(stack, "--json", "dummy", "--steps", "40", "--step-seconds", "0.05")).stdout)[
        "operation_id"]
    await wait_record(bus, op_id, lambda r: r.progress.steps_completed >= 2)
    cancelled = await ktrdr(stack, "cancel", op_id, "--reason", "lunch")
    assert cancelled.returncode == 0 and "cancel" in cancelled.stdout
    assert (await wait_record(bus, op_id, lambda r: r.terminal)).cancel_reason == "lunch"
    resumed = await ktrdr(stack, "--json", "resume", op_id, "--follow")
    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(resumed.stdout)
    assert final["status"] == "completed" and final["result"]["resumed_from"] >= 2


async def test_failure_exits_1_with_what_to_do(stack: Settings) -> None:
    failed = await ktrdr(stack, "dummy", "--steps", "3", "--step-seconds", "0", "--fail-at", "1", "--follow")
    assert failed.returncode == 1
    assert "failed" in failed.stderr and "ktrdr resume" in failed.stderr


async def test_events_tails_an_operation(stack: Settings, bus: Bus) -> None:
    tail = await spawn(stack, "events", "--count", "3")
    try:
        line = await asyncio.to_thread(tail.stderr.readline)  # subscribed: it only sees new events
        assert line.startswith("listening on")
        op = await ktrdr(stack, "--json", "dummy", "--steps", "3", "--step-seconds", "0.05")
        op_id = json.loads(op.stdout)["operation_id"]
        out, err = await asyncio.to_thread(tail.communicate, timeout=30)
    finally:
        tail.kill()
    lines = out.strip().splitlines()
    assert len(lines) == 3 and all(op_id in line for line in lines), err


async def test_ctrl_c_stops_the_events_tail_at_once(stack: Settings, bus: Bus) -> None:
    tail = await spawn(stack, "events")
    try:
        line = await asyncio.to_thread(tail.stderr.readline)
        assert line.startswith("listening on")
        tail.send_signal(signal.SIGINT)  # one Ctrl-C, right after it subscribed
        out, err = await asyncio.to_thread(tail.communicate, timeout=10)
    finally:
        tail.kill()
    assert tail.returncode == 130 and "interrupted" in err and "Traceback" not in err, err


async def test_ctrl_c_on_a_started_run_cancels_it(stack: Settings, bus: Bus) -> None:
    proc = await spawn(stack, "dummy", "--steps", "200", "--step-seconds", "0.05", "--follow")
    try:
        op_id = await first_operation(bus)
        # a step done, so there is a step to report (a cancel before the first one has none to name)
        await wait_record(bus, op_id, lambda r: r.status == "running" and r.progress.steps_completed >= 1)
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.to_thread(proc.communicate, timeout=30)
    finally:
        proc.kill()
    record = (await bus.ops.get(op_id))[0]
    assert record.status == "cancelled"
    # The cancel the user asked for is no error: exit 130 like any interrupted command, where it stopped.
    p = record.progress
    assert proc.returncode == 130 and "error" not in err, err
    assert f"cancelled at step {p.steps_completed}/{p.steps_total} ({p.percentage:.0f} %)" in err


async def test_ctrl_c_on_follow_only_detaches(stack: Settings, bus: Bus) -> None:
    # 30 s: still running after `follow` starts and is interrupted, however slow the machine is
    op_id = json.loads((await ktrdr(stack, "--json", "dummy", "--steps", "600", "--step-seconds", "0.05")).stdout)[
        "operation_id"]
    await wait_record(bus, op_id, lambda r: r.status == "running")
    proc = await spawn(stack, "follow", op_id)
    try:
        line = await asyncio.to_thread(proc.stderr.readline)  # printed once Ctrl-C is handled
        assert line.startswith(f"following {op_id}")
        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.to_thread(proc.communicate, timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "detached" in err
    record = (await bus.ops.get(op_id))[0]
    assert record.status == "running" and not record.cancel_requested, record


async def first_operation(bus: Bus, timeout: float = 20.0) -> str:
    """The id of the first operation created in this namespace."""
    watcher = await bus.ops.kv.watchall()
    try:
        async with asyncio.timeout(timeout):
            while True:
                entry = await watcher.updates(timeout=timeout)
                if entry is not None and entry.value:
                    return entry.key
    finally:
        await watcher.stop()


async def test_errors_name_the_fix(settings: Settings) -> None:
    bad = Path(settings.home) / "bad.yaml"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text("name: x\nversion: '3.0'\nindicatorz: {}\n")
    invalid = await ktrdr(settings, "validate", str(bad))
    assert invalid.returncode == 1 and "Traceback" not in invalid.stderr
    assert str(bad) in invalid.stderr and "indicatorz" in invalid.stderr
    assert "did you mean 'indicators'" in invalid.stderr
    good = await ktrdr(settings, "validate", str(ROOT / "strategies" / "rsi_mean_reversion.yaml"))
    assert good.returncode == 0 and "valid" in good.stdout
    bus = await Bus.open(settings, setup=True)
    try:  # the topology exists, so what is missing is only the backend
        assert (await bus.js.stream_info(bus.names.work_stream)).config.name == bus.names.work_stream
    finally:
        await bus.close()
    no_backend = await ktrdr(settings, "dummy")
    assert no_backend.returncode == 1 and "Traceback" not in no_backend.stderr
    assert "ktrdr backend" in no_backend.stderr
