"""The worker registry: heartbeats → `workers` KV records (available, busy, unavailable, stuck), shared by backends."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Literal

import msgspec
from nats.aio.msg import Msg
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from ktrdr.bus.handle import Bus
from ktrdr.errors import ProtocolError
from ktrdr.operations.kinds import work_pairs
from ktrdr.protocol.codec import decode, encode
from ktrdr.protocol.messages import GpuInfo, WorkerCounters, WorkerHeartbeat
from ktrdr.bus.tasks import stop_tasks

log = logging.getLogger("ktrdr.registry")
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
        last_seen=now, idle_since=idle or (0 if beat.running else now))


class Registry:
    """Keeps `workers` KV current from heartbeats and mirrors it in memory for routing."""

    def __init__(self, bus: Bus, kv: KeyValue, *, stuck_after_s: float = 30.0) -> None:
        self.bus, self.kv, self.stuck_after_s = bus, kv, stuck_after_s
        self.workers: dict[str, WorkerRecord] = {}
        self.stats = {"beats": 0, "garbage": 0}
        self._tasks: list[asyncio.Task] = []
        self._sub: Any = None

    @classmethod
    async def open(cls, bus: Bus, **kw: Any) -> Registry:
        """Bind the workers bucket."""
        return cls(bus, await bus.js.key_value(bus.names.bucket("workers")), **kw)

    async def start(self) -> None:
        """Listen to heartbeats (queue group: one backend writes each), watch the bucket, sweep staleness."""
        self._sub = await self.bus.nc.subscribe(self.bus.names.heartbeat_all(), queue="registry", cb=self._on_beat)
        self._tasks = [asyncio.create_task(self._watch()), asyncio.create_task(self._sweep_loop())]

    async def stop(self) -> None:
        """Stop listening."""
        if self._sub is not None:
            await self._sub.unsubscribe()
        await stop_tasks(self._tasks)

    async def _on_beat(self, msg: Msg) -> None:
        try:
            beat = decode(msg.data, WorkerHeartbeat, subject=msg.subject)
        except ProtocolError as exc:
            self.stats["garbage"] += 1
            log.warning("ignoring bad heartbeat: %s", exc)
            return
        self.stats["beats"] += 1
        record = from_heartbeat(beat, self.workers.get(beat.worker_id), time.time_ns())
        self.workers[record.worker_id] = record
        try:
            await self.kv.put(record.worker_id, encode(record))
        except Exception as exc:  # the next beat retries
            log.debug("registry write failed: %s", exc)

    async def _watch(self) -> None:
        """Mirror the bucket (other backends' writes included)."""
        watcher = await self.kv.watchall()
        while True:
            entry = await watcher.updates(timeout=None)  # type: ignore[arg-type]
            if entry is None:
                continue
            if entry.value is None or entry.operation in ("DEL", "PURGE"):
                self.workers.pop(entry.key, None)
                continue
            try:
                self.workers[entry.key] = decode(entry.value, WorkerRecord)
            except ProtocolError:
                continue

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(max(0.2, self.bus.settings.heartbeat_s / 2))
            try:
                await self.sweep(await self.pending_by_pool())
            except Exception as exc:  # a sweep is retried on the next tick
                log.debug("registry sweep failed: %s", exc)

    async def pending_by_pool(self) -> dict[str, int]:
        """Messages waiting in each work pool (`type/pool` → count)."""
        n, out = self.bus.names, {}
        for op_type, pool in work_pairs():
            info = await self.bus.js.consumer_info(n.work_stream, n.work_consumer(op_type, pool))
            out[f"{op_type}/{pool}"] = info.num_pending
        return out

    async def sweep(self, pending_by_pool: dict[str, int] | None = None) -> None:
        """Mark workers unavailable after 3 missed beats, and idle ones facing waiting work as stuck."""
        now = time.time_ns()
        for record in list(self.workers.values()):
            status = record.status
            if record.alive and record.age_s(now) > MISSED_BEATS * record.interval_s:
                status = "unavailable"
            elif record.status == "available" and pending_by_pool and record.idle_since and \
                    pending_by_pool.get(f"{record.kind}/{record.pool}", 0) > 0 and \
                    (now - record.idle_since) / 1e9 > self.stuck_after_s:
                status = "stuck"
            if status != record.status:
                await self._rewrite(msgspec.structs.replace(record, status=status))

    async def _rewrite(self, record: WorkerRecord) -> None:
        try:
            entry = await self.kv.get(record.worker_id)
            if decode(entry.value, WorkerRecord).last_seen != record.last_seen:
                return  # a fresh beat arrived meanwhile
            await self.kv.update(record.worker_id, encode(record), last=entry.revision)
            self.workers[record.worker_id] = record
        except (KeyNotFoundError, ProtocolError, Exception) as exc:  # lost the race: fine
            log.debug("registry sweep of %s skipped: %s", record.worker_id, exc)

    def alive(self, kind: str, pool: str | None = None) -> list[WorkerRecord]:
        """Live workers of a kind (and pool)."""
        return [w for w in self.workers.values() if w.kind == kind and w.alive and (pool is None or w.pool == pool)]

    def count(self, kind: str, pool: str | None = None) -> int:
        """Registered workers of a kind (and pool), alive or not."""
        return sum(1 for w in self.workers.values() if w.kind == kind and (pool is None or w.pool == pool))
