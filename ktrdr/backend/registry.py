"""The worker registry: heartbeats → `workers` KV records (available, busy, unavailable, stuck), shared by backends."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import msgspec
from nats.aio.msg import Msg
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from ktrdr.bus.handle import Bus
from ktrdr.bus.reading import Deleted, watch_bucket
from ktrdr.errors import ProtocolError
from ktrdr.operations.kinds import work_pairs
from ktrdr.protocol.codec import decode, encode
from ktrdr.protocol.messages import WorkerHeartbeat
from ktrdr.protocol.workers import MISSED_BEATS, WorkerRecord, from_heartbeat
from ktrdr.bus.tasks import stop_tasks

log = logging.getLogger("ktrdr.registry")
__all__ = ["MISSED_BEATS", "Registry", "WorkerRecord", "from_heartbeat"]

class Registry:
    """Keeps `workers` KV current from heartbeats and mirrors it in memory for routing."""

    def __init__(self, bus: Bus, kv: KeyValue, *, stuck_after_s: float = 30.0) -> None:
        self.bus, self.kv, self.stuck_after_s = bus, kv, stuck_after_s
        self.workers: dict[str, WorkerRecord] = {}
        self.stats = {"beats": 0, "garbage": 0}
        self._tasks: list[asyncio.Task] = []
        self._sub: Any = None
        self._since = 0.0  # time.monotonic() since when heartbeats reach us without a break
        self._reconnects = 0

    @classmethod
    async def open(cls, bus: Bus, **kw: Any) -> Registry:
        """Bind the workers bucket."""
        return cls(bus, await bus.js.key_value(bus.names.bucket("workers")), **kw)

    async def start(self) -> None:
        """Listen to heartbeats (queue group: one backend writes each), watch the bucket, sweep staleness."""
        self._sub = await self.bus.nc.subscribe(self.bus.names.heartbeat_all(), queue="registry", cb=self._on_beat)
        self._since, self._reconnects = time.monotonic(), self.bus.nc.stats["reconnects"]
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
        async for item in watch_bucket(self.kv, WorkerRecord):
            if isinstance(item, Deleted):
                self.workers.pop(item.key, None)
            elif isinstance(item, WorkerRecord):
                self.workers[item.worker_id] = item

    async def _sweep_loop(self) -> None:
        period = max(0.2, self.bus.settings.heartbeat_s / 2)
        while True:
            due = time.monotonic() + period
            await asyncio.sleep(period)
            try:
                pending = await self.pending_by_pool()
                # late by a stall of our own loop (also one during those requests): beats may wait unread as long
                await self.sweep(pending, stalled_s=max(0.0, time.monotonic() - due))
            except Exception as exc:  # a sweep is retried on the next tick
                log.debug("registry sweep failed: %s", exc)

    async def pending_by_pool(self) -> dict[str, int]:
        """Messages waiting in each work pool (`type/pool` → count)."""
        n, out = self.bus.names, {}
        for op_type, pool in work_pairs():
            info = await self.bus.js.consumer_info(n.work_stream, n.work_consumer(op_type, pool))
            out[f"{op_type}/{pool}"] = info.num_pending
        return out

    async def sweep(self, pending_by_pool: dict[str, int] | None = None, stalled_s: float = 0.0) -> None:
        """Mark workers unavailable after 3 missed beats, and idle ones facing waiting work as stuck.

        `stalled_s` is how late this sweep runs, our own loop having been busy: beats that arrived meanwhile may
        still sit unread on the socket, so that much silence is ours, not the worker's."""
        now = time.time_ns()
        for record in list(self.workers.values()):
            status = record.status
            if record.alive and record.age_s(now) > MISSED_BEATS * record.interval_s + stalled_s:
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

    def lost(self, worker_id: str) -> bool:
        """Whether a worker is known gone: marked unavailable, or never heard of, by a registry that has heard every
        live worker since (3 heartbeat intervals connected). Right after a reconnect nobody is lost: the beats
        that went missing while we were away say nothing about the workers."""
        if not self._listening_for(MISSED_BEATS * self.bus.settings.heartbeat_s):
            return False
        record = self.workers.get(worker_id)
        return record is None or record.status == "unavailable"

    def _listening_for(self, seconds: float) -> bool:
        """Whether heartbeats have reached us without a break (no reconnect) for `seconds`."""
        nc = self.bus.nc
        if not nc.is_connected or not self._since:
            return False
        if nc.stats["reconnects"] != self._reconnects:
            self._reconnects, self._since = nc.stats["reconnects"], time.monotonic()
        return time.monotonic() - self._since > seconds

    def alive(self, kind: str, pool: str | None = None) -> list[WorkerRecord]:
        """Live workers of a kind (and pool)."""
        return [w for w in self.workers.values() if w.kind == kind and w.alive and (pool is None or w.pool == pool)]

    def count(self, kind: str, pool: str | None = None) -> int:
        """Registered workers of a kind (and pool), alive or not."""
        return sum(1 for w in self.workers.values() if w.kind == kind and (pool is None or w.pool == pool))
