"""Cancellation in one place: why an operation stops, who records the intent, who tells the running code.

- `request` is a cancel through the backend: the intent in KV (a pending operation is cancelled at
  once), then a core publish on `cancel.<id>` that the running worker hears at once.
- `CancelIntents` runs in every backend and every worker: a queue subscription on `cancel.*` that
  stores the intent of a bare `nats pub ktrdr.cancel.<id>`. So a client needs no backend to cancel,
  pending or running, and needs no right to write the KV (nats/secure.conf gives it none).
- `CancelWatch` is the running side: the cancels its worker's `CancelRouter` hands it plus the intent read
  from KV at each keep-alive, firing the token once with the first `CancelKind`. One router subscription per
  worker, not one per operation: no subscribe/unsubscribe on the hot path of every operation.

What a client may do without a backend: read (KV, events, heartbeats) and publish `cancel.<id>`. Resuming
and starting write KV and queue work orders, so they always go through the backend's API.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

from nats.aio.msg import Msg

from ktrdr.bus.handle import Bus
from ktrdr.context import CancelToken
from ktrdr.errors import KtrdrError
from ktrdr.operations import transitions as tr
from ktrdr.operations.record import OperationRecord
from ktrdr.protocol.codec import decode_cancel, encode
from ktrdr.protocol.messages import CancelRequest

log = logging.getLogger("ktrdr.cancel")


class CancelKind(enum.Enum):
    """Why a running operation's token fired; only a user's cancel ends the operation as `cancelled`."""

    USER = "user"  # someone asked (API, CLI, monitor, `nats pub`, a parent cancelling its children)
    SHUTDOWN = "shutdown"  # its worker is stopping: checkpoint and requeue for another worker
    SUPERSEDED = "superseded"  # a newer attempt owns the operation now: stop without touching it
    ABANDONED = "abandoned"  # it ignored a cancel past the grace period: its thread is left behind


SHUTDOWN_REASON = "worker shutting down"
SUPERSEDED_REASON = "superseded by a newer attempt"


async def request(bus: Bus, op_id: str, reason: str = "cancelled", requested_by: str = "") -> OperationRecord:
    """Cancel: pending → cancelled at once; running → intent in KV plus a core cancel to its worker."""
    record = await tr.apply(bus.ops, op_id, tr.request_cancel(reason))
    if record is None:
        record, _ = await bus.ops.get(op_id)
    if record.status == "running":
        await bus.nc.publish(bus.names.cancel(op_id), encode(CancelRequest(reason=reason, requested_by=requested_by)))
    return record


def reason_of(msg: Msg) -> str:
    """The reason a cancel message gives; a garbled or empty body still means 'cancelled'."""
    try:
        return decode_cancel(msg.data, subject=msg.subject).reason
    except (KtrdrError, ValueError) as exc:
        log.warning("unreadable cancel body on %s (%s); cancelling anyway", msg.subject, exc)
        return "cancelled"


class CancelIntents:
    """Stores the intent of every cancel published on the bus (one holder per message: a queue group)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._sub: Any = None

    async def start(self) -> None:
        """Join the queue group on `cancel.*`."""
        n = self.bus.names
        self._sub = await self.bus.nc.subscribe(n.cancel_all(), queue=n.cancel_queue(), cb=self._on_cancel)

    async def stop(self) -> None:
        """Leave the queue group."""
        if self._sub is not None and not self.bus.nc.is_closed:
            await self._sub.unsubscribe()
        self._sub = None

    async def _on_cancel(self, msg: Msg) -> None:
        op_id = msg.subject.rsplit(".", 1)[-1]
        try:
            await tr.apply(self.bus.ops, op_id, tr.request_cancel(reason_of(msg)))
        except KtrdrError as exc:  # unknown or already finished: nothing to cancel
            log.info("cancel of %s not stored: %s", op_id, exc.message)
        except Exception as exc:  # a KV hiccup: the running worker still heard the publish itself
            log.warning("cancel of %s not stored: %r", op_id, exc)


class CancelRouter:
    """A worker's one plain subscription on `cancel.*`: each cancel goes to the watch of its operation, if here."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._watches: dict[str, CancelWatch] = {}
        self._sub: Any = None

    async def start(self) -> None:
        """Subscribe; every operation this worker claims afterwards hears its cancels."""
        self._sub = await self.bus.nc.subscribe(self.bus.names.cancel_all(), cb=self._on_cancel)

    async def stop(self) -> None:
        """Unsubscribe."""
        if self._sub is not None and not self.bus.nc.is_closed:
            await self._sub.unsubscribe()
        self._sub = None

    def add(self, watch: CancelWatch) -> None:
        """Route the cancels of `watch.op_id` to `watch` from now on."""
        self._watches[watch.op_id] = watch

    def remove(self, watch: CancelWatch) -> None:
        """Stop routing to `watch` (a newer watch of the same operation keeps its place)."""
        if self._watches.get(watch.op_id) is watch:
            del self._watches[watch.op_id]

    async def _on_cancel(self, msg: Msg) -> None:
        watch = self._watches.get(msg.subject.rsplit(".", 1)[-1])
        if watch is not None:
            watch.fire(CancelKind.USER, reason_of(msg))


class CancelWatch:
    """One running operation's cancellation: the cancels routed to it, the KV intent, the token."""

    def __init__(self, router: CancelRouter, op_id: str) -> None:
        self.router, self.op_id = router, op_id
        self.token = CancelToken()
        self.kind: CancelKind | None = None

    def listen(self) -> None:
        """Hear this operation's cancels from now on: called before claiming, so that none slips in between."""
        self.router.add(self)

    def close(self) -> None:
        """Stop hearing them."""
        self.router.remove(self)

    def fire(self, kind: CancelKind, reason: str) -> None:
        """Fire the token; the first kind and reason win."""
        if self.kind is None:
            log.info("cancel %s (%s): %s", self.op_id, kind.value, reason)
            self.kind = kind
        self.token.cancel(reason)

    def abandon(self) -> None:
        """The operation outlived its grace period: whatever stopped it, it is abandoned now."""
        self.kind = CancelKind.ABANDONED

    def check_record(self, record: OperationRecord | None, attempt: int) -> None:
        """Fire on intent stored in KV (a cancel published while we were away) or on a newer attempt."""
        if record is None:
            return
        if record.cancel_requested:
            self.fire(CancelKind.USER, record.cancel_reason or "cancelled")
        elif not record.owned_by(attempt):
            self.fire(CancelKind.SUPERSEDED, SUPERSEDED_REASON)
