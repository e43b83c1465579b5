"""Folds worker events into the operations KV: coalesced, compare-and-set, stale attempts ignored."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable

import msgspec
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError

from ktrdr.bus.handle import Bus
from ktrdr.bus.pull import BatchPuller
from ktrdr.bus.tasks import stop_tasks
from ktrdr.errors import ProtocolError
from ktrdr.operations import transitions as tr
from ktrdr.operations.record import OperationRecord, Progress
from ktrdr.operations.store import OperationNotFound
from ktrdr.protocol.codec import decode_event
from ktrdr.protocol.messages import (
    OperationCancelledEvent, OperationCompleted, OperationEvent, OperationFailed, OperationLog, OperationMetric,
    OperationProgress, OperationStarted,
)

log = logging.getLogger("ktrdr.aggregator")
RETRY_DELAYS_S = (0.0, 0.1, 0.5, 1.0)  # a fold that raises is tried again after these pauses
WRITTEN_MAX = 10_000  # running operations whose last written revision is kept
NAK_DELAY_S = 2.0  # then its events come back this much later, while the other operations fold on
# After a short batch the events consumer waits this long before its next fetch, so that a busy system folds a
# batch per fetch rather than an event per fetch. Nothing there is urgent: workers write their own terminal
# records, so these folds are the safety net and the metric counts. Progress (the latency that users see) never
# lingers.
EVENTS_LINGER_S = 0.02
_PROGRESS_FIELDS = [f.name for f in msgspec.structs.fields(Progress)]


def fold_one(r: OperationRecord, ev: OperationEvent) -> OperationRecord:
    """The record after one event (unchanged when the event is stale or already reflected)."""
    if not r.accepts(ev):
        return r
    if isinstance(ev, OperationMetric):  # counted even when the worker's terminal write got there first
        return msgspec.structs.replace(r, metrics_count=r.metrics_count + 1)
    if r.terminal:
        return r
    match ev:
        case OperationProgress() if r.status == "running" and ev.seq > r.progress_seq:
            progress = Progress(**{f: getattr(ev, f) for f in _PROGRESS_FIELDS})
            # updated_at moves with progress: the monitor's progress history is stamped with it
            return msgspec.structs.replace(r, progress=progress, progress_seq=ev.seq,
                                           updated_at=max(r.updated_at, ev.ts or time.time_ns()))
        case OperationCompleted():
            return tr.finished(r, ev.attempt, "completed", result=ev.result, artifacts=ev.artifacts)
        case OperationFailed():
            return tr.finished(r, ev.attempt, "failed", error=ev.error)
        case OperationCancelledEvent():
            return tr.finished(r, ev.attempt, "cancelled", reason=ev.reason)
    return r


def settled_for(known: OperationRecord | None, events: list[OperationEvent]) -> bool:
    """Whether a record seen at some revision already makes every event a no-op at any later revision too.

    Only final facts qualify: a terminal record stays terminal, and an attempt that lost ownership never regains
    it. Metrics are counted even on terminal records, so they always need the write.
    """
    if known is None:
        return False
    return all(not isinstance(ev, OperationMetric) and (known.terminal or not known.accepts(ev)) for ev in events)


def fold(events: list[OperationEvent]) -> tr.Mutation:
    """A mutation applying `events` in order; Skip (no write) when none changes the record."""

    def mutate(r: OperationRecord) -> OperationRecord:
        new = r
        for ev in events:
            new = fold_one(new, ev)
        if new is r:
            raise tr.Skip
        return new

    return mutate


class Aggregator:
    """Durable consumers on the events and progress streams; every backend runs one, the server feeds one at a time."""

    def __init__(self, bus: Bus, batch: int = 500,
                 known: Callable[[str], OperationRecord | None] | None = None) -> None:
        self.bus, self.batch = bus, batch
        # a mirror of the bucket (the backend's index): events it shows to be settled skip the read-modify-write,
        # e.g. the `completed` of a worker that wrote its terminal record itself
        self.known = known or (lambda op_id: None)
        self.stats = {"events": 0, "writes": 0, "garbage": 0, "orphans": 0, "errors": 0, "settled": 0}
        # our last write per running operation: usually still current (a stale one costs the read after all)
        self._written: dict[str, tuple[OperationRecord, int]] = {}
        self._tasks: list[asyncio.Task] = []
        self._pullers: list[BatchPuller] = []

    async def start(self) -> None:
        """Bind both consumers and start folding."""
        n = self.bus.names
        for stream, durable, linger in ((n.events_stream, n.aggregator_consumer, EVENTS_LINGER_S),
                                        (n.progress_stream, n.progress_consumer, 0.0)):
            puller = BatchPuller(self.bus.nc, stream, durable, group=n.fold_group)
            await puller.start()
            self._pullers.append(puller)
            self._tasks.append(asyncio.create_task(self._loop(puller, linger), name=f"aggregator-{durable}"))

    async def stop(self) -> None:
        """Stop folding (unacked messages wait for the next aggregator)."""
        await stop_tasks(self._tasks)
        self._tasks.clear()
        for puller in self._pullers:
            await puller.stop()
        self._pullers.clear()

    async def _loop(self, puller: BatchPuller, linger_s: float) -> None:
        while True:
            try:
                msgs = await puller.fetch_ready(self.batch, timeout=1.0)
            except (NatsTimeoutError, asyncio.TimeoutError):
                continue
            except Exception as exc:  # reconnecting; try again (a closed connection ends the loop)
                if self.bus.nc.is_closed:
                    return
                log.warning("aggregator fetch failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            try:
                await self.process(msgs)
            except Exception:  # unacked, the batch comes back after ack_wait; folding goes on meanwhile
                self.stats["errors"] += 1
                log.exception("aggregator batch of %d failed; it will be redelivered", len(msgs))
            if linger_s and len(msgs) < self.batch:
                await asyncio.sleep(linger_s)

    async def process(self, msgs: list[Msg]) -> None:
        """Fold one batch: at most one KV write per operation, then ack (or, for folds that kept failing, nak)."""
        per_op: dict[str, list[OperationEvent]] = defaultdict(list)
        msgs_of: dict[str, list[Msg]] = defaultdict(list)
        for msg in msgs:
            try:
                ev = decode_event(msg.data, subject=msg.subject)
            except ProtocolError as exc:
                self.stats["garbage"] += 1
                log.warning("dropping unreadable event: %s", exc)
                continue
            if not isinstance(ev, (OperationStarted, OperationLog)):  # they change nothing in the record
                per_op[ev.operation_id].append(ev)
                msgs_of[ev.operation_id].append(msg)
        self.stats["events"] += len(msgs)
        failed = await self._fold_all(per_op)
        retry = {id(m) for op_id in failed for m in msgs_of[op_id]}
        for msg in msgs:  # a record that keeps failing comes back later; it must not hold back the others
            await (msg.nak(delay=NAK_DELAY_S) if id(msg) in retry else msg.ack())

    async def _fold_all(self, per_op: dict[str, list[OperationEvent]]) -> set[str]:
        """Fold each operation's events, retrying the folds that raise; returns the operations that kept failing.

        Only the failed operations are folded again: the others are written, and re-folding them would
        count their metric events twice.
        """
        done = await self._write_from_hints(per_op)
        todo = {op_id: evs for op_id, evs in per_op.items() if op_id not in done}
        for delay in RETRY_DELAYS_S:
            if delay:
                await asyncio.sleep(delay)
            results = await asyncio.gather(*(self._apply(op_id, evs) for op_id, evs in todo.items()),
                                           return_exceptions=True)
            errors = {op_id: r for op_id, r in zip(todo, results) if isinstance(r, Exception)}
            for op_id, exc in errors.items():
                self.stats["errors"] += 1
                log.warning("folding %d events into %s failed: %r", len(todo[op_id]), op_id, exc)
            todo = {op_id: todo[op_id] for op_id in errors}
            if not todo:
                return set()
        return set(todo)

    async def _write_from_hints(self, per_op: dict[str, list[OperationEvent]]) -> set[str]:
        """The common case at once: operations we wrote last, folded onto that write and written together.

        No task and no read per operation; the operations this cannot settle (no write of ours to start from,
        a fold that changes nothing or raises, a record changed by someone else) are left to `_apply`.
        """
        done: set[str] = set()
        writes: list[tuple[OperationRecord, int]] = []
        for op_id, events in per_op.items():
            if settled_for(self.known(op_id), events):
                self.stats["settled"] += 1
                done.add(op_id)
            elif (hint := self._written.pop(op_id, None)) is not None:  # taken: the other loop reads instead
                try:
                    writes.append((fold(events)(hint[0]), hint[1]))
                except Exception:  # tr.Skip on a possibly stale record, an illegal move: the careful path decides
                    continue
        if not writes:
            return done
        try:
            revisions = await self.bus.ops.put_many_if(writes)
        except Exception as exc:  # not sent (reconnecting): the careful path retries each one
            log.info("batched fold writes not sent: %r", exc)
            return done
        for (record, _), revision in zip(writes, revisions):
            if isinstance(revision, int):  # otherwise someone else wrote it since: the careful path reads it back
                self.stats["writes"] += 1
                self._remember(record, revision)
                done.add(record.id)
        return done

    def _remember(self, record: OperationRecord, revision: int) -> None:
        """Keep what we wrote: the next fold of a running operation starts from it instead of reading it back."""
        if record.terminal:  # nothing more to fold into it but metric counts, which read it back
            self._written.pop(record.id, None)
            return
        if len(self._written) >= WRITTEN_MAX:
            self._written.clear()
        self._written[record.id] = (record, revision)

    async def _apply(self, op_id: str, events: list[OperationEvent]) -> None:
        if settled_for(self.known(op_id), events):
            self.stats["settled"] += 1
            return
        try:
            new, revision = await tr.apply_rev(self.bus.ops, op_id, fold(events), self._written.pop(op_id, None))
            if new is not None:
                self.stats["writes"] += 1
                self._remember(new, revision)
        except OperationNotFound:
            self.stats["orphans"] += 1
        except tr.IllegalTransition as exc:
            log.warning("ignoring events for %s: %s", op_id, exc)
