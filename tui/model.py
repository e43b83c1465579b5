"""What the monitor knows: operations and workers merged from KV watches, events and heartbeats (no Textual)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import msgspec

from ktrdr.protocol.workers import MISSED_BEATS, WorkerRecord, from_heartbeat
from ktrdr.operations.aggregator import fold_one
from ktrdr.operations.record import OperationRecord
from ktrdr.protocol.messages import OperationEvent, OperationLog, OperationMetric, WorkerHeartbeat

HISTORY = 200  # progress snapshots kept per operation (step changes and every ~5 %)


@dataclass(frozen=True)
class Filters:
    """Which operations the table shows: empty sets mean all."""

    statuses: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()

    def accepts(self, record: OperationRecord) -> bool:
        """True when the record passes both filters."""
        return (not self.statuses or record.status in self.statuses) and (not self.types or record.type in self.types)

    def describe(self) -> str:
        """A short label for the title bar."""
        parts = [",".join(sorted(s)) for s in (self.statuses, self.types) if s]
        return " · ".join(parts) or "all"


def merge(local: OperationRecord | None, incoming: OperationRecord) -> OperationRecord:
    """The KV record, unless what events already told us is newer (the backend folds them with a lag)."""
    if local is None or incoming.attempt > local.attempt:
        return incoming
    if incoming.attempt < local.attempt:
        return local
    if local.terminal and incoming.status == "running":
        return local  # our own fold saw the end first; the KV catches up
    if incoming.status == local.status == "running" and local.progress_seq > incoming.progress_seq:
        return msgspec.structs.replace(incoming, progress=local.progress, progress_seq=local.progress_seq)
    return incoming


def eta_s(record: OperationRecord, now_ns: int | None = None) -> float | None:
    """Seconds left by linear extrapolation of the percentage, None when unknown."""
    pct = record.progress.percentage
    if record.status != "running" or not 0 < pct < 100:
        return None
    return record.elapsed_s(now_ns) * (100 - pct) / pct


@dataclass
class OpsModel:
    """Every operation seen, newest first, with a dirty set the 10 Hz refresh consumes."""

    records: dict[str, OperationRecord] = field(default_factory=dict)
    history: dict[str, deque[tuple[int, float, str]]] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    reorder: bool = True
    events_seen: int = 0  # counted by the feed, before any coalescing

    def put(self, incoming: OperationRecord) -> None:
        """A record from the KV watch."""
        self._store(merge(self.records.get(incoming.id), incoming))

    def remove(self, op_id: str) -> None:
        """A record deleted from KV (retention)."""
        if self.records.pop(op_id, None) is not None:
            self.history.pop(op_id, None)
            self.reorder = True

    def apply(self, event: OperationEvent) -> None:
        """A live event folded as the aggregator would, so the view moves even without a backend."""
        record = self.records.get(event.operation_id)
        if record is None or isinstance(event, (OperationLog, OperationMetric)):
            return  # unknown ops arrive through the KV watch; logs and metrics live in the detail view
        new = fold_one(record, event)
        if new is not record:
            self._store(new)

    def _store(self, record: OperationRecord) -> None:
        old = self.records.get(record.id)
        self.records[record.id] = record
        self.dirty.add(record.id)
        if old is None or old.status != record.status:
            self.reorder = True  # filters may now include or exclude it
        self._remember(old, record)

    def _remember(self, old: OperationRecord | None, new: OperationRecord) -> None:
        hist = self.history.setdefault(new.id, deque(maxlen=HISTORY))
        p = new.progress
        last = hist[-1] if hist else None
        if last is None or last[2] != p.current_step or abs(p.percentage - last[1]) >= 5 or \
                (old is not None and old.status != new.status):
            hist.append((new.updated_at or time.time_ns(), p.percentage, p.current_step or new.status))

    def rows(self, filters: Filters) -> list[OperationRecord]:
        """Filtered records, newest first; a sweep's children are folded into its row (unless a type is chosen)."""
        chosen = [r for r in self.records.values() if filters.accepts(r) and (filters.types or not self.folded(r))]
        return sorted(chosen, key=lambda r: (r.created_at, r.id), reverse=True)

    def folded(self, record: OperationRecord) -> bool:
        """A child of a sweep, or of a sweep's research variant: shown in the sweep's row and detail view."""
        parent = self.records.get(record.parent_id or "")
        if parent is not None and parent.parent_id:
            parent = self.records.get(parent.parent_id, parent)
        return parent is not None and parent.type == "sweep"

    def counts(self) -> dict[str, int]:
        """Operations per status."""
        out: dict[str, int] = {}
        for r in self.records.values():
            out[r.status] = out.get(r.status, 0) + 1
        return out


@dataclass
class WorkersModel:
    """Workers from heartbeats (live) and the registry bucket (stuck, and those we never heard)."""

    workers: dict[str, WorkerRecord] = field(default_factory=dict)
    dirty: bool = True

    def beat(self, beat: WorkerHeartbeat, now_ns: int | None = None) -> None:
        """One heartbeat, folded as the registry does; a 'stuck' mark survives beats that change nothing."""
        previous = self.workers.get(beat.worker_id)
        record = from_heartbeat(beat, previous, now_ns or time.time_ns())
        if previous is not None and previous.status == "stuck" and record.status == "available" and \
                previous.counters.fetched == record.counters.fetched:
            record = msgspec.structs.replace(record, status="stuck")
        self.workers[record.worker_id] = record
        self.dirty = True

    def put(self, incoming: WorkerRecord) -> None:
        """A registry record: newer beats win, a backend's 'stuck' verdict is kept."""
        local = self.workers.get(incoming.worker_id)
        if local is None or incoming.last_seen > local.last_seen:
            self.workers[incoming.worker_id] = incoming
        elif incoming.status == "stuck" and local.status == "available":
            self.workers[incoming.worker_id] = msgspec.structs.replace(local, status="stuck")
        else:
            return
        self.dirty = True

    def remove(self, worker_id: str) -> None:
        """A registry record expired."""
        if self.workers.pop(worker_id, None) is not None:
            self.dirty = True

    def age(self, now_ns: int | None = None) -> None:
        """Mark workers silent for more than 3 intervals unavailable (what the registry does, without one)."""
        now = now_ns or time.time_ns()
        for wid, w in list(self.workers.items()):
            if w.alive and w.age_s(now) > MISSED_BEATS * w.interval_s:
                self.workers[wid] = msgspec.structs.replace(w, status="unavailable")
                self.dirty = True

    def rows(self) -> list[WorkerRecord]:
        """Workers by kind, pool and id."""
        return sorted(self.workers.values(), key=lambda w: (w.kind, w.pool, w.worker_id))
