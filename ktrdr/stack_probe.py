"""What the stack's processes say about themselves: readiness while starting, and the `ktrdr status` report."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ktrdr.bus.connection import connect
from ktrdr.bus.handle import Bus
from ktrdr.client import KtrdrClient, NoBackend
from ktrdr.config import Settings
from ktrdr.errors import BusError
from ktrdr.stack_state import WEB_ROLE, Child, StackError, StackState, served_url, tail

POLL_S = 0.2
ALIVE = ("available", "busy", "stuck")


async def backends(bus: Bus, verb: str = "PING", window_s: float = 0.5, until: str = "") -> list[dict[str, Any]]:
    """Every backend instance's answer to `$SRV.<verb>` (PING, INFO or STATS) of the backend service."""
    found: list[dict[str, Any]] = []
    seen = asyncio.Event()

    async def on_reply(msg: Any) -> None:
        try:
            data = json.loads(msg.data)
        except ValueError:
            return
        found.append(data)
        if until and data.get("metadata", {}).get("backend_id") == until:
            seen.set()

    inbox = bus.nc.new_inbox()
    sub = await bus.nc.subscribe(inbox, cb=on_reply)
    try:
        await bus.nc.publish(f"$SRV.{verb}.{bus.names.service_name()}", b"", reply=inbox)
        # A scatter-gather has no end marker: what arrives within the window is the answer (as `nats micro ping`),
        # unless the one reply we wait for comes first.
        try:
            await asyncio.wait_for(seen.wait(), window_s)
        except asyncio.TimeoutError:
            pass
    finally:
        await sub.unsubscribe()
    return found


async def _until(check: Callable[[], Awaitable[bool]], what: str, deadline: float,
                 procs: dict[str, tuple[Child, subprocess.Popen[bytes]]]) -> None:
    """Wait for `check()`, failing fast when one of `procs` exits and at the deadline."""
    while True:
        for child, proc in procs.values():
            if (code := proc.poll()) is not None:
                raise _exited(child, code)
        if await check():
            return
        if time.monotonic() > deadline:
            logs = ", ".join(c.log for c, _ in procs.values())
            raise _error(f"{what} not ready in time", procs, hint=f"see the logs: {logs}")
        await asyncio.sleep(POLL_S)


def _exited(child: Child, code: int) -> StackError:
    last = tail(child.log)
    return StackError(f"{child.name} exited with code {code} before it was ready" + (f":\n{last}" if last else ""),
                      process=child.name, log=child.log, hint=f"see {child.log}")


def _error(message: str, procs: dict[str, Any], hint: str) -> StackError:
    return StackError(message, process=",".join(procs), hint=hint)


async def wait_ready(bus: Bus, started: dict[str, tuple[Child, subprocess.Popen[bytes]]], timeout: float) -> None:
    """Return once the started backend answers health, the backend registry lists every started worker and a web
    monitor (if started) serves."""
    client = KtrdrClient(bus, timeout=2.0)
    deadline = time.monotonic() + timeout
    backend = next((c for c, _ in started.values() if c.role == "backend"), None)

    async def backend_up() -> bool:
        if backend is not None and backend.ident not in _ids(await backends(bus, "PING", 0.5, until=backend.ident)):
            return False
        try:
            await client.health()
        except NoBackend:
            return False
        return True

    wanted = {c.ident for c, _ in started.values() if c.role not in ("backend", WEB_ROLE)}
    web = [c for c, _ in started.values() if c.role == WEB_ROLE]

    async def workers_listed() -> bool:
        # The registry has no "worker joined" notification to wait on: a short poll of its list, with a deadline.
        listed = {w["worker_id"] for w in await client.workers() if w["status"] in ALIVE}
        return wanted <= listed

    async def web_serving() -> bool:
        return all(served_url(c.log) for c in web)

    await _until(backend_up, "the backend", deadline, started)
    if wanted:
        await _until(workers_listed, f"workers {', '.join(sorted(wanted))}", deadline, started)
    if web:
        await _until(web_serving, "the web monitor", deadline, started)


def _ids(replies: list[dict[str, Any]]) -> set[str]:
    return {r.get("metadata", {}).get("backend_id", "") for r in replies}


async def status_report(settings: Settings, url: str, state: StackState | None,
                        embedded_pid: int = 0) -> dict[str, Any]:
    """The server, backends (with health), workers per pool, operation counts and the stack's own processes."""
    report: dict[str, Any] = {
        "server": {"url": url, "reachable": False, "embedded_pid": embedded_pid,
                   "started_by_stack": bool(state and state.started_server)},
        "backends": [], "health": None, "workers": [], "pools": {}, "operations": {}, "processes": _processes(state)}
    try:
        nc = await connect(settings, url, name="ktrdr-status", connect_timeout=2.0)
    except BusError as exc:
        report["server"]["error"] = exc.message
        return report
    report["server"]["reachable"] = True
    try:
        bus = await Bus.attach(nc, settings)
    except BusError as exc:
        report["server"]["error"] = exc.message
        await nc.close()
        return report
    try:
        await _fill_from_backend(bus, report)
    finally:
        await bus.close()
    return report


async def _fill_from_backend(bus: Bus, report: dict[str, Any]) -> None:
    stats = await backends(bus, "STATS", 0.5)
    report["backends"] = [{"backend_id": s.get("metadata", {}).get("backend_id", ""), "service_id": s.get("id"),
                           "version": s.get("version"), "started": s.get("started"),
                           "requests": sum(e.get("num_requests", 0) for e in s.get("endpoints") or []),
                           "errors": sum(e.get("num_errors", 0) for e in s.get("endpoints") or [])}
                          for s in stats]
    client = KtrdrClient(bus, timeout=3.0)
    try:
        report["health"] = await client.health()
        report["workers"] = await client.workers()
    except NoBackend:
        return
    report["operations"] = report["health"].get("operations", {})
    for w in report["workers"]:
        report["pools"].setdefault(f"{w['kind']}/{w['pool']}", []).append(
            {"worker_id": w["worker_id"], "status": w["status"], "running": w["running"]})


def _processes(state: StackState | None) -> list[dict[str, Any]]:
    if state is None:
        return []
    return [{"name": c.name, "role": c.role, "ident": c.ident, "pid": c.pid, "alive": c.alive, "log": c.log,
             **({"url": served_url(c.log)} if c.role == WEB_ROLE else {})} for c in state.children]
