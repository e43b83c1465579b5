"""The local stack: the embedded nats-server (unless KTRDR_NATS_URL is set), one backend and workers as children."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import msgspec

from ktrdr.bus.embedded import EmbeddedServer
from ktrdr.bus.handle import Bus
from ktrdr.config import Settings
from ktrdr.errors import ConfigError
from ktrdr.operations import kinds
from ktrdr.stack_probe import wait_ready
from ktrdr.stack_state import (WEB_ROLE, Child, StackError, StackState, StateFile, proc_start_time, served_url,
                               terminate_stack)

Count = Annotated[int, msgspec.Meta(ge=0)]


class StackConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How many of each process the stack should have, and its timings."""

    backtest_workers: Count = 1
    training_workers: Count = 1
    dummy_workers: Count = 1
    data_worker: bool = False
    training_pool: Literal["", "gpu", "cpu"] = ""  # "": the worker picks gpu when CUDA/MPS works, else cpu
    port: int = 4222  # the embedded server's client port (a free one if taken; -1: any)
    monitor_port: int = 8222  # 0: no monitoring endpoint
    monitor_web: bool = False  # also `ktrdr monitor --web` (the monitor for browsers, on localhost)
    monitor_web_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8765  # 0: any free port
    ready_timeout_s: float = 120.0
    stop_timeout_s: float = 20.0

    def wanted(self) -> dict[str, int]:
        """Processes wanted per role: one backend, and each worker kind's count (its option, else its default)."""
        return {"backend": 1, **{k.name: int(getattr(self, k.stack_option)) if k.stack_option else k.stack_workers
                                 for k in kinds.worker_kinds()}}

    def processes(self) -> dict[str, int]:
        """Every process wanted per role: the backend and workers, and the web monitor when asked for."""
        return {**self.wanted(), WEB_ROLE: int(self.monitor_web)}


def stack_config(**options: Any) -> StackConfig:
    """A validated StackConfig; a bad option raises ConfigError naming it."""
    try:
        return msgspec.convert(options, StackConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid stack option: {exc}", path=str(exc).rsplit("`", 2)[-2] if "`" in str(exc) else "",
                          hint="see `ktrdr up --help`") from None


def _args(role: str, ident: str, cfg: StackConfig) -> list[str]:
    if role == WEB_ROLE:
        return ["monitor", "--web", "--port", str(cfg.monitor_web_port)]
    if role == "backend":
        return ["backend", "--backend-id", ident]
    extra = ["--pool", cfg.training_pool] if role == "training" and cfg.training_pool else []
    return ["worker", role, "--worker-id", ident, *kinds.get(role).stack_args, *extra]


def _free_name(role: str, taken: set[str]) -> str:
    """`backend`, `data`, then `<role>-2`…; workers that come in numbers start at `<role>-1`."""
    index = 1
    while (name := role if index == 1 and role in ("backend", "data", WEB_ROLE) else f"{role}-{index}") in taken:
        index += 1
    return name


def child_env(settings: Settings, url: str) -> dict[str, str]:
    """This process's environment plus every non-default setting, so children see what we see."""
    env = {k: v for k, v in os.environ.items() if k not in ("KTRDR_WORKER_ID", "KTRDR_BACKEND_ID", "KTRDR_JSON")}
    for field in msgspec.structs.fields(Settings):
        value = getattr(settings, field.name)
        if value != field.default:
            env[f"KTRDR_{field.name.upper()}"] = str(value)
    env.update(KTRDR_NATS_URL=url, KTRDR_NAMESPACE=settings.namespace, KTRDR_HOME=str(settings.home_path),
               PYTHONUNBUFFERED="1")
    return env


class Stack:
    """Starts what is missing of the local stack, and stops only what it started."""

    def __init__(self, settings: Settings, config: StackConfig | None = None, **options: Any) -> None:
        self.settings = settings
        self.config = config or stack_config(**options)
        self.home = settings.home_path
        self.state_file = StateFile(self.home)
        self.server = EmbeddedServer(self.home)
        self.url = settings.nats_url
        self.started_server = False
        self.server_pid = 0
        self.mine: dict[str, tuple[Child, subprocess.Popen[bytes]]] = {}
        self.reused: list[Child] = []
        self.start_s = 0.0

    async def start(self) -> None:
        """Start the server (if ours and not running), then the missing backend and workers; wait until ready."""
        t0 = time.monotonic()
        async with self._locked():
            await self._start_locked()
        self.start_s = time.monotonic() - t0

    async def _start_locked(self) -> None:
        previous = await self._server_up()
        state = self._live_state(previous)
        self.reused = list(state.children)
        plan = self._missing(state.children)
        if not plan:
            return
        try:
            bus = await Bus.open(self.settings, self.url, name="ktrdr-stack", setup=True)
            try:
                env = child_env(self.settings, self.url)
                for name, role in plan:
                    self.mine[name] = self._spawn(name, role, env)
                self._record()
                await wait_ready(bus, self.mine, self.config.ready_timeout_s)
            finally:
                await bus.close()  # before a failure stops the server under it
        except BaseException:
            await self._stop_mine()
            raise

    async def _server_up(self) -> StackState | None:
        """Ensure the server; returns the recorded state (if any)."""
        previous = self.state_file.read()
        if self.settings.nats_url:
            return previous
        handle, self.started_server = await asyncio.to_thread(self.server.up, port=self.config.port,
                                                              monitor_port=self.config.monitor_port)
        self.url = handle.url
        self.server_pid = handle.pid
        return previous

    def _live_state(self, previous: StackState | None) -> StackState:
        """The recorded stack's live children; an error when they belong to another server or namespace."""
        ours = bool(previous and previous.started_server and previous.server_pid == self.server_pid)
        fresh = StackState(url=self.url, namespace=self.settings.namespace,
                           started_server=self.started_server or ours, server_pid=self.server_pid)
        live = [c for c in previous.children if c.alive] if previous else []
        if live and previous and (previous.url, previous.namespace) != (self.url, self.settings.namespace):
            raise StackError(f"a stack from {self.home} runs against {previous.url} (namespace {previous.namespace}),"
                             f" not {self.url} (namespace {self.settings.namespace})",
                             hint="stop it first with `ktrdr down` (same KTRDR_HOME)")
        state = msgspec.structs.replace(fresh, children=live)
        self.state_file.write(state)
        return state

    def _missing(self, live: list[Child]) -> list[tuple[str, str]]:
        """(name, role) of each process to start: what is wanted beyond what already runs."""
        plan: list[tuple[str, str]] = []
        taken = {c.name for c in live}
        for role, want in self.config.processes().items():
            for _ in range(want - sum(1 for c in live if c.role == role)):
                name = _free_name(role, taken)
                taken.add(name)
                plan.append((name, role))
        return plan

    def _spawn(self, name: str, role: str, env: dict[str, str]) -> tuple[Child, subprocess.Popen[bytes]]:
        ident = f"{name}-{secrets.token_hex(3)}"
        log = self.home / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "ktrdr", *_args(role, ident, self.config)]
        with log.open("wb") as fh:
            # A session of its own: Ctrl-C in the terminal reaches only `ktrdr up`, which stops children in order.
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        child = Child(name=name, role=role, ident=ident, pid=proc.pid, log=str(log), argv=argv,
                      started_at=time.time(), proc_start=proc_start_time(proc.pid))
        return child, proc

    def _record(self) -> None:
        state = self.state_file.read() or StackState(url=self.url, namespace=self.settings.namespace)
        known = {c.name for c in state.children}
        added = [c for c, _ in self.mine.values() if c.name not in known]
        self.state_file.write(msgspec.structs.replace(state, children=[*state.children, *added]))

    async def stop(self) -> list[str]:
        """Stop what this Stack started (children, then the server if it started it); returns what was stopped."""
        async with self._locked():
            return await self._stop_mine()

    @asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        fh = await asyncio.to_thread(self.state_file.acquire)  # another shell may hold it while its stack starts
        try:
            yield
        finally:
            self.state_file.release(fh)

    async def _stop_mine(self) -> list[str]:
        children = [c for c, _ in self.mine.values()]
        await asyncio.to_thread(terminate_stack, children, self.config.stop_timeout_s)
        for _, proc in self.mine.values():
            proc.poll()  # reap
        stopped = [c.name for c in children]
        state = self.state_file.read()
        if state is not None:
            state = msgspec.structs.replace(state, children=[c for c in state.children if c.name not in self.mine])
        if self.started_server and not (state and state.children):
            if await asyncio.to_thread(self.server.down):
                stopped.append("nats-server")
            state = None if state is None else msgspec.structs.replace(state, started_server=False)
        self.state_file.write(state)
        self.mine = {}
        return stopped

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Stack]:
        """The stack for the duration of the block; what already ran before it keeps running after it."""
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    async def recorded(self, child: Child) -> bool:
        """Whether the state file still lists `child` (after `ktrdr down` from another shell it does not)."""
        async with self._locked():
            state = self.state_file.read()
        return bool(state and any(c.name == child.name and c.pid == child.pid for c in state.children))

    async def exited(self) -> Child:
        """Wait until one of the processes this Stack started exits; returns it."""
        waits = {asyncio.ensure_future(asyncio.to_thread(proc.wait)): child for child, proc in self.mine.values()}
        if not waits:
            await asyncio.Event().wait()
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()  # the threads finish on their own when the processes exit
        return waits[next(iter(done))]

    def summary(self) -> dict[str, Any]:
        """What runs where: the server URL, and every process with its pid, log and whether it was started now."""
        handle = None if self.settings.nats_url else self.server.running()
        processes = [{**msgspec.to_builtins(c), "started_now": c.name in self.mine}
                     for c in [*self.reused, *(c for c, _ in self.mine.values())]]
        web = next((served_url(c.log) for c in [*self.reused, *(c for c, _ in self.mine.values())]
                    if c.role == WEB_ROLE), "")
        return {"url": self.url, "namespace": self.settings.namespace, "home": str(self.home), "monitor_web": web,
                "server": {"pid": handle.pid if handle else 0, "log": handle.log_file if handle else "",
                           "started_now": self.started_server, "external": bool(self.settings.nats_url)},
                "processes": processes, "start_s": round(self.start_s, 2)}
