"""The local stack's state file (KTRDR_HOME/stack.json) and the process control behind `ktrdr down`."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import msgspec

from ktrdr.bus.embedded import pid_alive
from ktrdr.errors import KtrdrError

STATE_FILE = "stack.json"
WORKER_ROLES = ("backtest", "training", "dummy", "data")
WEB_ROLE = "monitor-web"  # `ktrdr up --monitor-web`: the browser monitor, stopped with the backend after workers


class StackError(KtrdrError, RuntimeError):
    """A stack process failed to start or to stop; `process` and `log` say which one and where to look."""

    def __init__(self, message: str, *, process: str = "", log: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.process = process
        self.log = log


class Child(msgspec.Struct, frozen=True, kw_only=True):
    """One process of the stack, as `ktrdr down` and `ktrdr status` find it from another shell."""

    name: str
    role: str
    ident: str
    pid: int
    log: str
    argv: list[str]
    started_at: float
    proc_start: str = ""

    @property
    def alive(self) -> bool:
        """True while this very process runs (a recycled pid with another start time does not count)."""
        stat = _proc_stat(self.pid)
        if stat is None:  # no /proc here: the pid is all we can check
            return pid_alive(self.pid)
        return bool(stat) and stat[0] != "Z" and (not self.proc_start or stat[19] == self.proc_start)


class StackState(msgspec.Struct, frozen=True, kw_only=True):
    """What runs: the server URL and namespace, whether the stack started the server, and the children."""

    url: str
    namespace: str
    started_server: bool = False
    server_pid: int = 0
    children: list[Child] = []


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name ([] when gone; None without /proc)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return [] if Path("/proc/self/stat").exists() else None
    except OSError:
        return []


def proc_start_time(pid: int) -> str:
    """The kernel's start time of `pid` (Linux /proc), or "" where that is unknown."""
    stat = _proc_stat(pid)
    return stat[19] if stat else ""


def tail(path: str, lines: int = 15) -> str:
    """The last lines of a log file (empty when it cannot be read)."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


_SERVED = re.compile(r"^ktrdr monitor: (http\S+)", re.MULTILINE)  # what `ktrdr monitor --web` prints once it listens


def served_url(log: str) -> str:
    """The URL a `ktrdr monitor --web` child said it serves on, from its log ("" until it said so)."""
    try:
        with open(log, encoding="utf-8", errors="replace") as fh:
            match = _SERVED.search(fh.read(64_000))
    except OSError:
        return ""
    return match.group(1) if match else ""


class StateFile:
    """KTRDR_HOME/stack.json, read and written under an exclusive lock shared by every ktrdr process."""

    def __init__(self, home: Path) -> None:
        self.path = home / STATE_FILE
        self.lock_path = home / "stack.lock"

    def read(self) -> StackState | None:
        """The recorded stack, or None when there is none (or the file is unreadable)."""
        try:
            return msgspec.json.decode(self.path.read_bytes(), type=StackState)
        except (OSError, msgspec.DecodeError):
            return None

    def write(self, state: StackState | None) -> None:
        """Record `state` atomically; None (or nothing left to record) removes the file."""
        if state is None or (not state.children and not state.started_server):
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.format(msgspec.json.encode(state)))
        tmp.replace(self.path)

    def acquire(self) -> IO[str]:
        """Take the stack lock (blocking): one `up`, `down` or demo changes the stack at a time."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.lock_path.open("a")
        fcntl.flock(fh, fcntl.LOCK_EX)
        return fh

    @staticmethod
    def release(fh: IO[str]) -> None:
        """Give the lock back."""
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the stack lock for a block."""
        fh = self.acquire()
        try:
            yield
        finally:
            self.release(fh)


def _signal(child: Child, sig: signal.Signals) -> None:
    try:
        os.kill(child.pid, sig)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: init reaps it
        pass


def terminate(children: list[Child], timeout: float) -> list[Child]:
    """SIGTERM these processes together, wait up to `timeout`, SIGKILL the rest; returns the killed ones."""
    live = [c for c in children if c.alive]
    for child in live:
        _signal(child, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        # Most are not our children (another shell started them), so there is no wait() to block on: poll.
        time.sleep(0.05)
        for child in live:
            _reap(child.pid)
        live = [c for c in live if c.alive]
    for child in live:
        _signal(child, signal.SIGKILL)
        _reap(child.pid)
    return live


def terminate_stack(children: list[Child], timeout: float) -> list[Child]:
    """Workers first (they checkpoint and requeue while the backend still folds their events), then backends."""
    workers = [c for c in children if c.role in WORKER_ROLES]
    killed = terminate(workers, timeout)
    return killed + terminate([c for c in children if c.role not in WORKER_ROLES], timeout)
