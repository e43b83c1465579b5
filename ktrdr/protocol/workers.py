"""The registry's view of a worker (the `workers` KV value) and how one heartbeat changes it.

In the protocol because the backend writes it and the monitor reads it, and neither may import the other.
"""

from __future__ import annotations

import time
from typing import Literal

import msgspec

from ktrdr.protocol.messages import GpuInfo, WorkerCounters, WorkerHeartbeat

RegistryStatus = Literal["available", "busy", "unavailable", "stuck", "stopped"]
MISSED_BEATS = 3


class WorkerRecord(msgspec.Struct, kw_only=True, frozen=True):
    """What the registry knows of one worker."""

    worker_id: str
    kind: str
    pool: str
    status: RegistryStatus = "available"
    capacity: int = 1
    running: list[str] = []
    gpu: GpuInfo | None = None
    host: str = ""
    pid: int = 0
    version: str = ""
    interval_s: float = 2.0
    counters: WorkerCounters = WorkerCounters()
    first_seen: int = 0
    last_seen: int = 0
    idle_since: int = 0
    notes: dict[str, str] = {}  # from the last heartbeat, e.g. {"ib": "disconnected"}

    @property
    def alive(self) -> bool:
        """True for available, busy and stuck workers (they still heartbeat)."""
        return self.status in ("available", "busy", "stuck")

    def age_s(self, now_ns: int | None = None) -> float:
        """Seconds since the last heartbeat."""
        return ((now_ns or time.time_ns()) - self.last_seen) / 1e9


def from_heartbeat(beat: WorkerHeartbeat, previous: WorkerRecord | None, now: int) -> WorkerRecord:
    """The record after one heartbeat."""
    status: RegistryStatus = {"stopped": "stopped", "busy": "busy"}.get(beat.status, "available")  # type: ignore
    fetched_more = previous is None or beat.counters.fetched != previous.counters.fetched
    if status == "available" and previous is not None and previous.status == "stuck" and not fetched_more:
        status = "stuck"  # stays flagged until it fetches again, instead of flapping with every beat
    idle = previous.idle_since if previous and previous.idle_since and not beat.running and not fetched_more else 0
    return WorkerRecord(
        worker_id=beat.worker_id, kind=beat.kind, pool=beat.pool, status=status, capacity=beat.capacity,
        running=beat.running, gpu=beat.capabilities.gpu, host=beat.host, pid=beat.pid, version=beat.version,
        interval_s=beat.interval_s, counters=beat.counters, first_seen=previous.first_seen if previous else now,
        last_seen=now, idle_since=idle or (0 if beat.running else now), notes=beat.notes)
