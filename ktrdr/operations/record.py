"""The operation record stored in the `operations` KV bucket: the single source of truth."""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone
from typing import Any, Literal

import msgspec

from ktrdr.protocol.messages import ErrorInfo, OperationEvent

Status = Literal["pending", "running", "completed", "failed", "cancelled", "resuming"]
STATUSES: tuple[str, ...] = ("pending", "running", "completed", "failed", "cancelled", "resuming")
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
ACTIVE: frozenset[str] = frozenset({"pending", "running", "resuming"})


class Progress(msgspec.Struct, kw_only=True, frozen=True):
    """The latest progress of an operation (DESIGN section 4).

    The same fields travel flat in `OperationProgress` (so `nats sub` shows them at the top level); msgspec
    cannot share them by inheritance there, so a test keeps the three lists (reporter, event, record) equal.
    """

    percentage: float = 0.0
    current_step: str = ""
    steps_completed: int = 0
    steps_total: int = 0
    items_processed: int = 0
    items_total: int = 0
    current_item: str = ""
    context: dict[str, Any] = {}


class OperationRecord(msgspec.Struct, kw_only=True, frozen=True):
    """One operation. `attempt` counts claims (executions); `dispatch` counts work orders sent; `delivery` is
    JetStream's delivery count of the current order at its last claim. The fencing predicates below use them.

    `worker_id` is the worker running it, or the last one that did while it waits to be claimed again.
    """

    id: str
    type: str
    status: Status = "pending"
    pool: str = ""
    attempt: int = 0
    dispatch: int = 1
    delivery: int = 0
    worker_id: str = ""
    parameters: dict[str, Any] = {}
    progress: Progress = Progress()
    progress_seq: int = 0
    metrics_count: int = 0
    created_at: int = 0
    started_at: int = 0
    finished_at: int = 0
    updated_at: int = 0
    cancel_requested: bool = False
    cancel_reason: str = ""
    result: dict[str, Any] = {}
    error: ErrorInfo | None = None
    artifacts: dict[str, str] = {}
    parent_id: str | None = None
    children: list[str] = []
    resume: bool = False
    warnings: list[str] = []

    @property
    def terminal(self) -> bool:
        """True for completed, failed and cancelled."""
        return self.status in TERMINAL

    @property
    def active(self) -> bool:
        """True for pending, running and resuming."""
        return self.status in ACTIVE

    # -- fencing: which attempt, order and delivery may still change this record ---------------------------
    def owned_by(self, attempt: int) -> bool:
        """Whether `attempt` still owns the operation: no later claim has taken it over."""
        return attempt >= self.attempt

    def accepts(self, event: OperationEvent) -> bool:
        """Whether an event may change the record: events of an attempt that lost ownership are stale."""
        return self.owned_by(event.attempt)

    def expects(self, dispatch: int) -> bool:
        """Whether an order of `dispatch` is the current one (a resume or a re-route sends a newer one)."""
        return dispatch == self.dispatch

    def claimable(self, dispatch: int, delivery: int) -> bool:
        """Whether delivery `delivery` of order `dispatch` may claim: a waiting record, or a redelivery taking over."""
        if self.terminal or not self.expects(dispatch):
            return False
        return self.status in ("pending", "resuming") or (self.status == "running" and delivery > self.delivery)

    def runs_later_delivery(self, dispatch: int, delivery: int) -> bool:
        """Whether a later delivery of this very order runs it now (acking an earlier copy would remove it)."""
        return self.status == "running" and self.expects(dispatch) and self.delivery > delivery

    def elapsed_s(self, now_ns: int | None = None) -> float:
        """Seconds since start (or creation), up to finish or now."""
        start = self.started_at or self.created_at
        end = self.finished_at or (now_ns or time.time_ns())
        return max(0.0, (end - start) / 1e9) if start else 0.0


def new_operation_id(op_type: str, now: datetime | None = None) -> str:
    """`op_<type>_<YYYYMMDD_HHMMSS>_<8 hex>` (UTC)."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d_%H%M%S")
    return f"op_{op_type}_{stamp}_{secrets.token_hex(4)}"


def new_record(op_type: str, pool: str, parameters: dict[str, Any], *, op_id: str | None = None,
               parent_id: str | None = None) -> OperationRecord:
    """A fresh pending record."""
    now = time.time_ns()
    return OperationRecord(id=op_id or new_operation_id(op_type), type=op_type, pool=pool,
                           parameters=parameters, created_at=now, updated_at=now, parent_id=parent_id)
