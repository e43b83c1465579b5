"""Waiting helpers for integration tests: wait on watches and events with a timeout, never sleep-poll."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from ktrdr.bus.handle import Bus
from ktrdr.config import Settings
from ktrdr.operations.record import OperationRecord
from ktrdr.protocol.codec import decode

T = TypeVar("T")


async def eventually(check: Callable[[], T | Awaitable[T]], timeout: float = 10.0, what: str = "",
                     every: float = 0.05) -> T:
    """Call `check` (sync or async) until it returns something truthy, and return that; for state that has no
    watch or event to await. TimeoutError names `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what or check}; last value: {value!r}")
        await asyncio.sleep(every)


async def wait_entry(kv: Any, key: str, kind: type[T], predicate: Callable[[T], bool], timeout: float = 20.0) -> T:
    """Watch one KV key until its decoded value satisfies `predicate`; TimeoutError shows the last state."""
    watcher = await kv.watch(key)
    last: T | None = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                entry = await watcher.updates(timeout=timeout)
                if entry is None or not entry.value:
                    continue
                last = decode(entry.value, kind)
                if predicate(last):
                    return last
    except TimeoutError:
        raise TimeoutError(f"{key} never matched; last state: {last}") from None
    finally:
        await watcher.stop()


async def wait_record(bus: Bus, op_id: str, predicate: Callable[[OperationRecord], bool],
                      timeout: float = 20.0) -> OperationRecord:
    """Watch one operation's record until it satisfies `predicate`; TimeoutError shows the last state."""
    return await wait_entry(bus.ops.kv, op_id, OperationRecord, predicate, timeout)


async def wait_all_terminal(bus: Bus, op_ids: list[str], timeout: float = 60.0) -> dict[str, OperationRecord]:
    """Wait until every listed operation is terminal."""
    results = await asyncio.gather(*(wait_record(bus, i, lambda r: r.terminal, timeout) for i in op_ids))
    return {r.id: r for r in results}


def spawn_worker_process(settings: Settings, kind: str, worker_id: str, home: Path,
                         *args: str) -> subprocess.Popen[bytes]:
    """`ktrdr worker <kind>` as a separate process on the test's server, namespace and timings."""
    return spawn_ktrdr(settings, home, "worker", kind, "--worker-id", worker_id, *args)


def spawn_ktrdr(settings: Settings, home: Path, *args: str, python: tuple[str, ...] = ("-m", "ktrdr"),
                env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`ktrdr ARGS` as a separate process on the test's server, namespace and timings (stderr piped)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")}
    full.update(KTRDR_NATS_URL=settings.nats_url or "", KTRDR_NAMESPACE=settings.namespace, KTRDR_HOME=str(home),
                KTRDR_ACK_WAIT_S=str(settings.ack_wait_s), KTRDR_HEARTBEAT_S=str(settings.heartbeat_s),
                KTRDR_MAX_DELIVER=str(settings.max_deliver),
                KTRDR_EVENTS_MAX_AGE_DAYS=str(settings.events_max_age_days), **(env or {}))
    return subprocess.Popen([sys.executable, *python, *args], env=full, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


async def pulls_while(bus: Bus, stream: str, consumer: str, action: Callable[[], Awaitable[T]]) -> tuple[T, int]:
    """What `action()` returns, and how many pull requests reached `consumer` of `stream` meanwhile."""
    from ktrdr.bus.connection import flush

    seen: list[bytes] = []

    async def count(msg: Any) -> None:
        seen.append(msg.data)

    spy = await bus.nc.subscribe(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}", cb=count)
    await flush(bus.nc)
    try:
        result = await action()
        await flush(bus.nc)
    finally:
        await spy.unsubscribe()
    return result, len(seen)
