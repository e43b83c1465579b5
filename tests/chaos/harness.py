"""A seeded chaos run: dummy operations through subprocess workers while workers, the backend and nats-server die.

Used by `tests/chaos/test_chaos.py` (bounded) and `bench/bench_chaos.py` (longer, configurable).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from nats.js.errors import NotFoundError

from ktrdr.bus.handle import Bus
from ktrdr.client import KtrdrClient, NoBackend
from ktrdr.config import Settings
from ktrdr.operations.record import OperationRecord
from ktrdr.protocol.codec import decode
from ktrdr.protocol.messages import OperationStarted
from tests.chaos.procs import Child, ServerProc, ktrdr_env
from tests.helpers import wait_all_terminal


class ChaosConfig(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """What to run and what to break, and when (seconds after the operations are submitted)."""

    ops: int = 40
    steps: int = 6
    step_seconds: float = 0.15
    workers: int = 3
    capacity: int = 2
    kills: int = 4
    kill_every_s: float = 1.5
    backend_restart_at: float = 2.5
    server_restart_at: float = 4.5
    server_down_s: float = 1.0
    seed: int = 1
    ack_wait_s: float = 2.0
    heartbeat_s: float = 0.5
    max_deliver: int = 10
    settle_timeout_s: float = 60.0


KILLED = "worker SIGKILLed mid-operation (redelivered after ack_wait, resumed from checkpoint)"
EXITED = "worker exited on its own mid-operation (redelivered after ack_wait)"
SERVER = "nats-server restart (in-progress ack or terminal write lost while it was down)"
UNEXPLAINED = "unexplained"
SUPERVISE_S = 0.5  # how often exited workers are looked for (and so how late an exit may be noticed)


class ChaosReport(msgspec.Struct, kw_only=True):
    """What happened to every operation, and why each extra attempt ran (`rerun_causes` counts attempts)."""

    ops: int
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    lost: int = 0
    worker_exits: int = 0
    backend_exits: int = 0
    reruns: int = 0
    resumed_from_checkpoint: int = 0
    double_completions: int = 0
    dead_lettered: int = 0
    kills: int = 0
    backend_restarts: int = 0
    server_restarts: int = 0
    rerun_causes: dict[str, int] = {}
    failures: dict[str, str] = {}
    lost_states: dict[str, str] = {}
    killed: list[str] = []
    elapsed_s: float = 0.0


@dataclass
class Stack:
    """The processes of one run and the timeline of what was done to them (wall-clock ns, as events carry)."""

    root: Path
    settings: Settings
    server: ServerProc
    backend: Child | None = None
    workers: list[Child] = field(default_factory=list)
    killed: dict[str, int] = field(default_factory=dict)  # worker → when it was SIGKILLed
    exited: dict[str, int] = field(default_factory=dict)  # worker → when it was found exited on its own
    outages: list[tuple[int, int]] = field(default_factory=list)  # nats-server (stopped, serving again)
    spawned: int = 0
    backend_lives: int = 0
    backend_kills: int = 0
    backend_exits: int = 0

    def spawn_worker(self, capacity: int) -> Child:
        """A new `ktrdr worker dummy` with a fresh id."""
        self.spawned += 1
        wid = f"chaos-w{self.spawned}"
        child = Child(wid, ["worker", "dummy", "--worker-id", wid, "--capacity", str(capacity), "--no-setup"],
                      ktrdr_env(self.settings, self.root / "home"), self.root / f"{wid}.log")
        self.workers.append(child)
        return child

    def spawn_backend(self) -> Child:
        """A new `ktrdr backend`."""
        self.backend_lives += 1
        bid = f"chaos-b{self.backend_lives}"
        self.backend = Child(bid, ["backend", "--backend-id", bid],
                             ktrdr_env(self.settings, self.root / "home"), self.root / "backend.log")
        return self.backend

    def revive(self, capacity: int) -> None:
        """What a supervisor does: restart processes that exited on their own (e.g. started while NATS was down,
        their first connect failed: an unreachable server is an error, not a wait)."""
        for child in list(self.workers):
            if not child.alive and child.name not in self.killed.keys() | self.exited.keys():
                self.exited[child.name] = time.time_ns()
                self.spawn_worker(capacity)
        if self.backend is not None and not self.backend.alive:  # act() replaces the one it kills at once
            self.backend_exits += 1
            self.spawn_backend()

    def close(self) -> None:
        """Stop everything still running."""
        for child in [*self.workers, *([self.backend] if self.backend else [])]:
            child.kill()
        self.server.close()


async def wait_backend(bus: Bus, timeout: float = 30.0) -> dict[str, Any]:
    """Ask for health until a backend answers (a restarting one has no responders for a moment)."""
    client = KtrdrClient(bus, timeout=2.0)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await client.health()
        except NoBackend:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def schedule(cfg: ChaosConfig, rng: random.Random) -> list[tuple[float, str]]:
    """The timeline: (seconds after submit, action), sorted; kills jittered by the seeded generator."""
    events = [(max(0.2, cfg.kill_every_s * (i + 1) + rng.uniform(-0.3, 0.3)), "kill") for i in range(cfg.kills)]
    if cfg.backend_restart_at >= 0:
        events.append((cfg.backend_restart_at, "backend"))
    if cfg.server_restart_at >= 0:
        events.append((cfg.server_restart_at, "server"))
    return sorted(events)


async def act(stack: Stack, cfg: ChaosConfig, rng: random.Random, action: str) -> None:
    """Do one thing to the stack."""
    if action == "kill":
        victim = rng.choice([w for w in stack.workers if w.alive])
        stack.killed[victim.name] = time.time_ns()
        victim.kill()
        stack.spawn_worker(cfg.capacity)
    elif action == "backend":
        assert stack.backend is not None
        stack.backend.kill()
        stack.backend_kills += 1
        stack.spawn_backend()
    elif action == "server":
        stopped = time.time_ns()
        await asyncio.to_thread(stack.server.stop)
        await asyncio.sleep(cfg.server_down_s)
        await asyncio.to_thread(stack.server.start)
        stack.outages.append((stopped, time.time_ns()))


async def supervise(stack: Stack, cfg: ChaosConfig) -> None:
    """Revive exited workers twice a second until cancelled."""
    while True:
        await asyncio.sleep(SUPERVISE_S)
        stack.revive(cfg.capacity)


async def submit_all(bus: Bus, cfg: ChaosConfig) -> list[str]:
    """Start every operation through the backend API."""
    client = KtrdrClient(bus)
    body = {"steps": cfg.steps, "step_seconds": cfg.step_seconds}
    started = await asyncio.gather(*(client.start("dummy", body) for _ in range(cfg.ops)))
    return [s["operation_id"] for s in started]


async def run_chaos(cfg: ChaosConfig, root: Path) -> ChaosReport:
    """Start the stack, submit, break things on schedule, wait for every operation, then account for each."""
    server = ServerProc(root)
    settings = Settings(nats_url=server.url, namespace="chaos", home=str(root / "home"), ack_wait_s=cfg.ack_wait_s,
                        heartbeat_s=cfg.heartbeat_s, max_deliver=cfg.max_deliver, events_max_age_days=1.0)
    stack = Stack(root, settings, server)
    bus = await Bus.open(settings, name="chaos-driver", setup=True)
    rng = random.Random(cfg.seed)
    supervisor: asyncio.Task | None = None
    try:
        stack.spawn_backend()
        for _ in range(cfg.workers):
            stack.spawn_worker(cfg.capacity)
        await wait_backend(bus)
        t0 = time.monotonic()
        ids = await submit_all(bus, cfg)
        supervisor = asyncio.create_task(supervise(stack, cfg))
        for at, action in schedule(cfg, rng):
            await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
            await act(stack, cfg, rng, action)
        await wait_backend(bus)  # the restarted backend serves again
        try:
            records = await wait_all_terminal(bus, ids, timeout=cfg.settle_timeout_s)
        except TimeoutError:  # some never ended: account for them as lost, with their last state
            records = {i: r for i in ids if (r := await bus.ops.find(i)) is not None}
        report = await account(bus, ids, records, stack)
        report.elapsed_s = round(time.monotonic() - t0, 1)
        return report
    finally:
        if supervisor is not None:
            supervisor.cancel()
        await bus.close()
        await asyncio.to_thread(stack.close)


async def started_attempts(bus: Bus, op_id: str) -> dict[int, tuple[str, int]]:
    """attempt → (worker id, when it started), from the operation's `started` events in the events stream."""
    n, out, seq = bus.names, {}, 1
    while True:
        try:
            raw = await bus.js.get_msg(n.events_stream, seq=seq, subject=n.event(op_id, "started"), next=True)
        except NotFoundError:
            return out
        ev = decode(raw.data or b"", OperationStarted)
        out[ev.attempt] = (ev.worker_id, ev.ts)
        seq = (raw.seq or seq) + 1


def rerun_causes(record: OperationRecord, starts: dict[int, tuple[str, int]], stack: Stack) -> list[str]:
    """Why each attempt after the first ran: what happened to the attempt before it, between the two starts."""
    causes, after = [], 0
    for attempt in range(1, record.attempt):
        worker, after = starts.get(attempt, ("", after))  # a lost `started` event: bounded by the one before
        before = next((starts[a][1] for a in range(attempt + 1, record.attempt + 1) if a in starts), time.time_ns())
        causes.append(cause_between(stack, worker, after, before))
    return causes


def cause_between(stack: Stack, worker: str, after: int, before: int) -> str:
    """The chaos action that explains an attempt of `worker`, started at `after`, being replaced by `before`."""
    if after <= stack.killed.get(worker, -1) <= before:
        return KILLED
    if after <= stack.exited.get(worker, -1) <= before + 2 * SUPERVISE_S * 1e9:  # noticed up to a tick late
        return EXITED
    if any(stopped <= before and after <= serving for stopped, serving in stack.outages):
        return SERVER
    return UNEXPLAINED


async def account(bus: Bus, ids: list[str], records: dict[str, OperationRecord], stack: Stack) -> ChaosReport:
    """Count outcomes, re-runs with their causes, and operations that completed more than once."""
    report = ChaosReport(ops=len(ids), kills=len(stack.killed), backend_restarts=stack.backend_kills,
                         server_restarts=stack.server.restarts, worker_exits=len(stack.exited),
                         backend_exits=stack.backend_exits,
                         killed=sorted(stack.killed))
    n = bus.names
    info = await bus.js.stream_info(n.events_stream, subjects_filter=f"{n.ns}.ops.*.completed")
    completions = info.state.subjects or {}
    causes: dict[str, int] = {}
    for op_id in ids:
        r = records.get(op_id)
        if r is None or not r.terminal:
            report.lost += 1
            report.lost_states[op_id] = f"{r.status} attempt {r.attempt} on {r.worker_id}" if r else "missing"
            continue
        setattr(report, r.status, getattr(report, r.status) + 1)
        if r.status == "failed" and r.error is not None:
            report.failures[op_id] = f"{r.error.code}: {r.error.message}"
            report.dead_lettered += r.error.code == "max_deliveries"
        report.resumed_from_checkpoint += bool(r.result.get("resumed_from"))
        report.double_completions += completions.get(n.event(op_id, "completed"), 0) > 1
        if r.attempt > 1:
            report.reruns += 1
            for cause in rerun_causes(r, await started_attempts(bus, op_id), stack):
                causes[cause] = causes.get(cause, 0) + 1
    report.rerun_causes = causes
    return report
