"""Processes a chaos run kills and restarts: a dedicated nats-server, `ktrdr backend` and `ktrdr worker dummy`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from ktrdr.bus.embedded import start_server
from ktrdr.config import Settings


def ktrdr_env(settings: Settings, home: Path) -> dict[str, str]:
    """The environment a `python -m ktrdr …` child needs to join this run's server, namespace and timings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")}
    env.update(KTRDR_NATS_URL=settings.nats_url, KTRDR_NAMESPACE=settings.namespace, KTRDR_HOME=str(home),
               KTRDR_ACK_WAIT_S=str(settings.ack_wait_s), KTRDR_HEARTBEAT_S=str(settings.heartbeat_s),
               KTRDR_MAX_DELIVER=str(settings.max_deliver),
               KTRDR_EVENTS_MAX_AGE_DAYS=str(settings.events_max_age_days))
    return env


class ServerProc:
    """A nats-server on file storage that can be stopped (SIGTERM) and restarted on the same port and store."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc, self.url = start_server(root / "js", root / "server.log", port=-1)
        self.port = urlparse(self.url).port or -1
        self.restarts = 0

    def stop(self) -> None:
        """Clean shutdown: JetStream flushes its file store."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(15)

    def start(self) -> None:
        """Start again on the same port and store directory (a fresh log file per life)."""
        self.restarts += 1
        log = self.root / f"server.{self.restarts}.log"
        self.proc, url = start_server(self.root / "js", log, port=self.port)
        assert url.endswith(f":{self.port}"), f"restarted server listens on {url}, not port {self.port}"

    def close(self) -> None:
        """Stop for good."""
        if self.proc.poll() is None:
            self.stop()


class Child:
    """One `python -m ktrdr …` process with its stderr in a log file (a pipe nobody reads could block it)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.log = name, args, log
        self._fh = log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "ktrdr", *args], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._fh)

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, no final heartbeat, nothing acked."""
        if self.alive:
            self.proc.kill()
        self.proc.wait(10)
        self._fh.close()

    def terminate(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.alive:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._fh.close()

    def tail(self, chars: int = 1500) -> str:
        """The end of its log (for failure messages)."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""
