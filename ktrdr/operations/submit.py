"""Submit: validate, create the pending record, publish the work order (deduplicated by Nats-Msg-Id)."""

from __future__ import annotations

from typing import Any

import msgspec

from ktrdr.bus.handle import Bus
from ktrdr.errors import KtrdrError
from ktrdr.operations import kinds
from ktrdr.operations.cancel import request as cancel
from ktrdr.operations import transitions as tr
from ktrdr.operations.record import OperationRecord, new_record
from ktrdr.operations.store import Conflict
from ktrdr.errors import ProtocolError
from ktrdr.protocol.codec import decode, encode
from ktrdr.protocol.messages import WorkOrder, now_ns


__all__ = ["SubmitError", "cancel", "check_route", "claim_hint", "publish_order", "redispatch", "resume", "submit",
           "work_order"]


class SubmitError(KtrdrError, ValueError):
    """A submit request that cannot be queued; `field` names what to fix."""

    def __init__(self, message: str, *, field: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


def check_route(op_type: str, pool: str) -> None:
    """Raise SubmitError unless (op_type, pool) has a work queue."""
    workers = {k.name: k.pools for k in kinds.worker_kinds()}
    if op_type not in workers:
        raise SubmitError(f"unknown operation type {op_type!r}", field="type",
                          hint=f"use one of {', '.join(sorted(workers))}")
    if pool not in workers[op_type]:
        raise SubmitError(f"{op_type} operations have no {pool!r} pool", field="pool",
                          hint=f"use one of {', '.join(workers[op_type])}")


SNAPSHOT_MAX = 64 * 1024  # a bigger record is read at claim time rather than carried twice in its order


def work_order(record: OperationRecord, revision: int = 0) -> WorkOrder:
    """The order for the record's current dispatch, carrying the record itself when its revision is known."""
    body = encode(record) if revision else b""
    carried = 0 < len(body) <= SNAPSHOT_MAX
    return WorkOrder(operation_id=record.id, type=record.type, pool=record.pool, dispatch=record.dispatch,
                     parameters=record.parameters, resume=record.resume, parent_id=record.parent_id,
                     created_at=now_ns(), revision=revision if carried else 0,
                     record=msgspec.Raw(body if carried else b"null"))


def claim_hint(order: WorkOrder) -> tuple[OperationRecord, int] | None:
    """The (record, revision) an order carries, for a claim without a read; None when it carries none."""
    if not order.revision:
        return None
    try:
        record = decode(bytes(order.record), OperationRecord)
    except ProtocolError:
        return None
    return (record, order.revision) if record.id == order.operation_id else None


async def publish_order(bus: Bus, record: OperationRecord, revision: int = 0) -> None:
    """Publish the order with Nats-Msg-Id `<id>-<dispatch>` so a repeat is dropped by the server."""
    await bus.mux.publish(bus.names.work(record.type, record.pool), encode(work_order(record, revision)),
                          headers={"Nats-Msg-Id": f"{record.id}-{record.dispatch}"})


async def submit(bus: Bus, op_type: str, pool: str, parameters: dict[str, Any], *,
                 op_id: str | None = None, parent_id: str | None = None) -> OperationRecord:
    """Create a pending operation and queue it; re-submitting the same `op_id` is a no-op."""
    check_route(op_type, pool)
    record = new_record(op_type, pool, parameters, op_id=op_id, parent_id=parent_id)
    try:
        revision = await bus.ops.create(record)
    except Conflict:
        existing, revision = await bus.ops.get(record.id)
        if existing.status != "pending":
            return existing
        record = existing  # the first submit may have died between create and publish
    await publish_order(bus, record, revision)
    return record


async def redispatch(bus: Bus, op_id: str, pool: str | None = None) -> OperationRecord | None:
    """Send a new order (dispatch + 1) for a pending or resuming record, optionally to another pool."""

    record = await tr.apply(bus.ops, op_id, tr.redispatch(pool))
    if record is not None:
        await publish_order(bus, record)
    return record


async def resume(bus: Bus, op_id: str) -> OperationRecord:
    """failed/cancelled → resuming (compare-and-set: of concurrent resumes one wins), then a new order."""
    record = await tr.apply(bus.ops, op_id, tr.resume())
    assert record is not None
    await publish_order(bus, record)
    return record
