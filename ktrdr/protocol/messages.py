"""Every wire message: frozen, kw_only msgspec Structs, JSON on the wire, new fields always defaulted."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import msgspec


def now_ns() -> int:
    """Wall-clock time in nanoseconds since the epoch (what every message carries)."""
    return time.time_ns()


#: An id or name that becomes a subject token or KV key. Unchecked, a hostile 1 MB id made a reader's next
#: KV call exceed the server's control line, and nats-py closes such a connection for good.
Token = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]+$", max_length=200)]


class Wire(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=False):
    """Base of wire messages (no forbid_unknown_fields: old readers accept new fields)."""


# -- workers -------------------------------------------------------------------------------
class GpuInfo(Wire, frozen=True, kw_only=True):
    """A worker's accelerator."""

    name: str
    memory_mb: int = 0
    backend: Literal["cuda", "mps"] = "cuda"


class Capabilities(Wire, frozen=True, kw_only=True):
    """What a worker's machine offers."""

    cpus: int = 1
    memory_mb: int = 0
    gpu: GpuInfo | None = None


class WorkerCounters(Wire, frozen=True, kw_only=True):
    """Work-queue counters since the worker started."""

    fetched: int = 0
    acked: int = 0
    failed: int = 0
    cancelled: int = 0


WorkerStatus = Literal["idle", "busy", "draining", "stopped"]


class WorkerHeartbeat(Wire, frozen=True, kw_only=True):
    """Published on `heartbeat.<kind>.<worker_id>` every interval, and once with status `stopped`."""

    worker_id: Token
    kind: Token
    pool: Token
    status: WorkerStatus = "idle"
    capacity: int = 1
    running: list[str] = []
    capabilities: Capabilities = Capabilities()
    counters: WorkerCounters = WorkerCounters()
    interval_s: float = 2.0
    version: str = ""
    host: str = ""
    pid: int = 0
    seq: int = 0
    sent_at: int = 0
    notes: dict[str, str] = {}  # the state of what the worker depends on, e.g. {"ib": "connected"}


# -- work ----------------------------------------------------------------------------------
class WorkOrder(Wire, frozen=True, kw_only=True):
    """One unit of work on `work.<op_type>.<pool>`; Nats-Msg-Id is `<operation_id>-<dispatch>`.

    `dispatch` is the record's dispatch counter when the order was sent: a claim runs the order only while
    the record still expects that dispatch (a resume or a re-route sends a new one and fences the old).
    """

    operation_id: Token
    type: str
    pool: str
    dispatch: int = 0
    # The same number under its old name: orders from before the rename carry only this, and workers from
    # before it read only this. Never read it: `dispatch` is filled from it when absent.
    legacy_attempt: int = msgspec.field(default=0, name="attempt")
    parameters: dict[str, Any] = {}
    resume: bool = False
    parent_id: str | None = None
    created_at: int = 0

    def __post_init__(self) -> None:
        dispatch = self.dispatch or self.legacy_attempt or 1
        msgspec.structs.force_setattr(self, "dispatch", dispatch)
        msgspec.structs.force_setattr(self, "legacy_attempt", dispatch)


class CancelRequest(Wire, frozen=True, kw_only=True):
    """Body of `cancel.<op_id>`; an empty body is valid and means 'cancelled'."""

    reason: str = "cancelled"
    requested_by: str = ""


# -- operation events (one tagged union) ---------------------------------------------------
class EventBase(Wire, frozen=True, kw_only=True, tag_field="event"):
    """Fields every operation event carries; `seq` counts per attempt."""

    operation_id: Token
    attempt: int = 1
    seq: int = 0
    ts: int = 0
    worker_id: str = ""


class OperationStarted(EventBase, frozen=True, kw_only=True, tag="started"):
    """The worker claimed the operation and entered its code."""

    pool: str = ""
    resumed: bool = False


class OperationProgress(EventBase, frozen=True, kw_only=True, tag="progress"):
    """Latest progress (coalesced; latest wins)."""

    percentage: float = 0.0
    current_step: str = ""
    steps_completed: int = 0
    steps_total: int = 0
    items_processed: int = 0
    items_total: int = 0
    current_item: str = ""
    context: dict[str, Any] = {}


class OperationMetric(EventBase, frozen=True, kw_only=True, tag="metric"):
    """One metric record (a training epoch, a backtest snapshot); never coalesced."""

    name: str = "epoch"
    values: dict[str, Any] = {}


class OperationLog(EventBase, frozen=True, kw_only=True, tag="log"):
    """A log line from the operation."""

    level: str = "info"
    message: str = ""


class OperationCompleted(EventBase, frozen=True, kw_only=True, tag="completed"):
    """Terminal: success, with a result summary and artifact references."""

    result: dict[str, Any] = {}
    artifacts: dict[str, str] = {}


class ErrorInfo(Wire, frozen=True, kw_only=True):
    """A failure's code and message (and whether a retry may help)."""

    code: str = "error"
    message: str = ""
    retryable: bool = False


class OperationFailed(EventBase, frozen=True, kw_only=True, tag="failed"):
    """Terminal: the operation's code raised, or the order could not be run."""

    error: ErrorInfo = ErrorInfo()


class OperationCancelledEvent(EventBase, frozen=True, kw_only=True, tag="cancelled"):
    """Terminal: the operation stopped because it was cancelled."""

    reason: str = "cancelled"
    checkpointed: bool = False


OperationEvent = (
    OperationStarted | OperationProgress | OperationMetric | OperationLog
    | OperationCompleted | OperationFailed | OperationCancelledEvent
)
TERMINAL_EVENTS = ("completed", "failed", "cancelled")
EVENT_TYPES: dict[str, type] = {
    "started": OperationStarted, "progress": OperationProgress, "metric": OperationMetric,
    "log": OperationLog, "completed": OperationCompleted, "failed": OperationFailed,
    "cancelled": OperationCancelledEvent,
}


def event_kind(event: OperationEvent) -> str:
    """The event's tag (`started`, `progress`, …), which is also its last subject token."""
    return type(event).__struct_config__.tag  # type: ignore[return-value]


#: Every wire type, for round-trip tests and the subjects catalog.
WIRE_TYPES: tuple[type, ...] = (
    WorkerHeartbeat, WorkOrder, CancelRequest, *EVENT_TYPES.values(),
)
