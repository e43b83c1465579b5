"""Request and reply types of the backend API (`<ns>.api.<area>.<verb>`), JSON on the wire."""

from __future__ import annotations

from ktrdr.protocol.messages import Token, Wire

OperationId = Token  # a KV key and subject token: an unchecked one (a dot, a megabyte) broke the connection


class OperationRef(Wire, frozen=True, kw_only=True):
    """Names one operation."""

    operation_id: OperationId


class CancelOperation(Wire, frozen=True, kw_only=True):
    """Cancel an operation (and its children)."""

    operation_id: OperationId
    reason: str = "cancelled by user"


class ListOperations(Wire, frozen=True, kw_only=True):
    """Filters and paging for the operations list (newest first)."""

    status: list[str] | None = None
    type: list[str] | None = None
    active_only: bool = False
    limit: int = 100
    offset: int = 0


class GetMetrics(Wire, frozen=True, kw_only=True):
    """Read an operation's metric events from `cursor` (a stream sequence; 0 = from the start)."""

    operation_id: OperationId
    cursor: int = 0
    limit: int = 200


class ValidateStrategy(Wire, frozen=True, kw_only=True):
    """Check a strategy file's text."""

    strategy_yaml: str


class Empty(Wire, frozen=True, kw_only=True):
    """A request with no fields (an empty body is fine too)."""


class ApiError(Wire, frozen=True, kw_only=True):
    """The JSON body of an error reply (also in the Nats-Service-Error(-Code) headers)."""

    code: int
    error: str
    message: str
    field: str | None = None
    hint: str | None = None


#: (area, verb) → request type of every endpoint but the start ones, which come from the operation-kind
#: table (`ktrdr.operations.kinds.api_endpoints()` has them all). subjects.md lists every one; a test checks.
ENDPOINTS: dict[tuple[str, str], type] = {
    ("operations", "get"): OperationRef,
    ("operations", "list"): ListOperations,
    ("operations", "cancel"): CancelOperation,
    ("operations", "resume"): OperationRef,
    ("operations", "metrics"): GetMetrics,
    ("operations", "result"): OperationRef,
    ("workers", "list"): Empty,
    ("strategies", "validate"): ValidateStrategy,
    ("system", "health"): Empty,
    ("dead", "list"): Empty,
}
