"""Every state change of an operation, each a compare-and-set on the KV revision, retried on conflict."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec

from ktrdr.errors import KtrdrError
from ktrdr.operations.record import TERMINAL, OperationRecord, Progress
from ktrdr.operations.store import Conflict, OperationStore
from ktrdr.protocol.messages import CancelRequest, ErrorInfo

DEFAULT_CANCEL_REASON = CancelRequest().reason  # what an empty cancel body means

#: Legal moves; a running → running move is a redelivery taking over with a new attempt.
ALLOWED: dict[str, frozenset[str]] = {
    "pending": frozenset({"running", "cancelled", "failed", "pending"}),
    "resuming": frozenset({"running", "cancelled", "failed", "pending"}),
    "running": frozenset({"running", "completed", "failed", "cancelled", "pending"}),
    "failed": frozenset({"resuming"}),
    "cancelled": frozenset({"resuming"}),
    "completed": frozenset(),
}
MAX_RETRIES = 50


class IllegalTransition(KtrdrError, ValueError):
    """A move the state machine forbids; names both states."""

    def __init__(self, op_id: str, current: str, target: str) -> None:
        super().__init__(f"operation {op_id}: cannot go from {current} to {target}",
                         hint="see `ktrdr ops show` for its state")
        self.op_id, self.current, self.target = op_id, current, target


class Skip(Exception):
    """Raised by a mutation to leave the record as it is (no write)."""


Mutation = Callable[[OperationRecord], OperationRecord]


def check(record: OperationRecord, target: str) -> None:
    """Raise IllegalTransition unless record.status → target is allowed."""
    if target not in ALLOWED[record.status]:
        raise IllegalTransition(record.id, record.status, target)


def moved(record: OperationRecord, target: str, **changes: Any) -> OperationRecord:
    """A copy of `record` in state `target` (checked), with `changes` and fresh timestamps."""
    check(record, target)
    now = time.time_ns()
    if target in TERMINAL:
        changes.setdefault("finished_at", now)
    return msgspec.structs.replace(record, status=target, updated_at=now, **changes)


async def apply_rev(store: OperationStore, op_id: str, mutate: Mutation,
                    hint: tuple[OperationRecord, int] | None = None) -> tuple[OperationRecord | None, int]:
    """Read (or start from `hint`, saving a round trip), mutate, compare-and-set; retry on conflict."""
    for _ in range(MAX_RETRIES):
        record, revision = hint if hint is not None else await store.get(op_id)
        hint = None
        try:
            new = mutate(record)
        except Skip:
            return None, revision
        try:
            return new, await store.put_if(new, revision)
        except Conflict:
            continue
    raise Conflict(f"operation {op_id}: gave up after {MAX_RETRIES} concurrent writes")


async def apply(store: OperationStore, op_id: str, mutate: Mutation) -> OperationRecord | None:
    """Read, mutate, compare-and-set; retry on conflict. None when the mutation chose to Skip."""
    return (await apply_rev(store, op_id, mutate))[0]


# -- the moves everyone uses -------------------------------------------------------------
def claim(dispatch: int, delivery: int, worker_id: str) -> Mutation:
    """pending/resuming → running, or a redelivery taking over a running record (attempt + 1)."""

    def mutate(r: OperationRecord) -> OperationRecord:
        if r.terminal or not r.expects(dispatch):
            raise Skip
        if r.cancel_requested:  # cancelled while queued or while its worker was gone: settle it now
            return moved(r, "cancelled", worker_id="")
        if not r.claimable(dispatch, delivery):
            raise Skip
        takeover = r.status == "running"
        return moved(r, "running", attempt=r.attempt + 1, delivery=delivery, worker_id=worker_id,
                     started_at=r.started_at or time.time_ns(), progress=Progress() if not takeover else r.progress)

    return mutate


def final_progress(progress: Progress, status: str) -> Progress:
    """Progress as a terminal record shows it: a completed one is at 100 % with no stale step text."""
    if status != "completed":
        return progress
    return msgspec.structs.replace(progress, percentage=100.0, current_step="", current_item="")


def finished(r: OperationRecord, attempt: int, status: str, *, result: dict | None = None,
             artifacts: dict | None = None, error: ErrorInfo | None = None, reason: str = "") -> OperationRecord:
    """The record once `attempt` ended in `status`; unchanged when it is not running or the attempt lost it.

    The one terminal transition: the worker applies it through `finish`, the aggregator through its fold.
    """
    if r.terminal or r.status != "running" or not r.owned_by(attempt):
        return r
    return moved(r, status, result=result or r.result, artifacts={**r.artifacts, **(artifacts or {})},
                 error=error, progress=final_progress(r.progress, status),
                 cancel_reason=kept_reason(r.cancel_reason, reason))


def finish(attempt: int, status: str, *, result: dict | None = None, artifacts: dict | None = None,
           error: ErrorInfo | None = None, reason: str = "") -> Mutation:
    """running → completed/failed/cancelled for the given attempt (stale attempts and terminal records skip)."""

    def mutate(r: OperationRecord) -> OperationRecord:
        new = finished(r, attempt, status, result=result, artifacts=artifacts, error=error, reason=reason)
        if new is r:
            raise Skip
        return new

    return mutate


def requeue(attempt: int, error: ErrorInfo | None = None) -> Mutation:
    """running → pending for a retry or a graceful shutdown; worker_id keeps the last worker, error the last retry."""

    def mutate(r: OperationRecord) -> OperationRecord:
        if r.status != "running" or not r.owned_by(attempt):
            raise Skip
        return moved(r, "pending", error=error)

    return mutate


def kept_reason(kept: str, offered: str) -> str:
    """The cancel reason a record keeps: the first specific one; the default of an empty body never replaces it.

    Cancels published back to back may be stored by different members of the cancel queue group in either
    order, so 'first stored' alone would let a bare `nats pub ktrdr.cancel.<id> ''` hide the reason given just
    before it.
    """
    if kept and kept != DEFAULT_CANCEL_REASON:
        return kept
    return offered or kept


def request_cancel(reason: str) -> Mutation:
    """pending/resuming → cancelled at once; running → cancel intent stored for the worker."""

    def mutate(r: OperationRecord) -> OperationRecord:
        if r.status in ("pending", "resuming"):
            return moved(r, "cancelled", cancel_requested=True, cancel_reason=reason)
        if r.status == "running":
            kept = kept_reason(r.cancel_reason, reason) if r.cancel_requested else reason
            if r.cancel_requested and kept == r.cancel_reason:
                raise Skip
            return msgspec.structs.replace(r, cancel_requested=True, cancel_reason=kept,
                                           updated_at=time.time_ns())
        raise IllegalTransition(r.id, r.status, "cancelled")

    return mutate


def fail_now(code: str, message: str) -> Mutation:
    """Any non-terminal → failed (orders that cannot run, dead letters)."""

    def mutate(r: OperationRecord) -> OperationRecord:
        if r.terminal:
            raise Skip
        return moved(r, "failed", error=ErrorInfo(code=code, message=message))

    return mutate


def resume() -> Mutation:
    """failed/cancelled → resuming with the next dispatch number; anything else is illegal."""

    def mutate(r: OperationRecord) -> OperationRecord:
        check(r, "resuming")
        return moved(r, "resuming", dispatch=r.dispatch + 1, resume=True, cancel_requested=False,
                     cancel_reason="", error=None, finished_at=0)

    return mutate


def redispatch(pool: str | None = None) -> Mutation:
    """A waiting record's next order (dispatch + 1), optionally to another pool; the older order is fenced off."""

    def mutate(r: OperationRecord) -> OperationRecord:
        if r.status not in ("pending", "resuming"):
            raise Skip
        return moved(r, r.status, dispatch=r.dispatch + 1, pool=pool or r.pool)

    return mutate


# -- parents: the backend drives them, no worker claims them ------------------------------------------
def driven_by_backend(r: OperationRecord) -> OperationRecord:
    """A new parent record, running from the start under the backend."""
    return msgspec.structs.replace(r, status="running", attempt=1, worker_id="backend", started_at=time.time_ns())


def restart_parent() -> Mutation:
    """A resumed parent back to running under a new attempt (its failed children are resumed one by one)."""
    return lambda r: moved(r, "running", attempt=r.attempt + 1)


def add_child(op_id: str) -> Mutation:
    """Record a submitted child on its parent (once)."""

    def mutate(r: OperationRecord) -> OperationRecord:
        if op_id in r.children:
            raise Skip
        return msgspec.structs.replace(r, children=[*r.children, op_id], updated_at=time.time_ns())

    return mutate


def set_progress(progress: Progress) -> Mutation:
    """A parent's progress, computed from its children (a settled parent keeps its last)."""

    def mutate(r: OperationRecord) -> OperationRecord:
        if r.terminal:
            raise Skip
        return msgspec.structs.replace(r, progress=progress, updated_at=time.time_ns())

    return mutate
