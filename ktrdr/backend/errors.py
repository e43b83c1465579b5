"""API errors: HTTP-like codes, the field at fault and what to do, mapped from our exceptions."""

from __future__ import annotations

from ktrdr.errors import KtrdrError, ProtocolError
from ktrdr.operations.store import OperationNotFound
from ktrdr.operations.transitions import IllegalTransition
from ktrdr.protocol.api import ApiError

MAX_MESSAGE = 1000


class ApiFailure(KtrdrError):
    """Raised by endpoint code to reply with an error."""

    def __init__(self, code: int, error: str, message: str, *, field: str | None = None,
                 hint: str | None = None) -> None:
        if len(message) > MAX_MESSAGE:  # messages may echo the request: a 1 MB value must not make a 1 MB reply
            message = message[:MAX_MESSAGE] + " … (truncated)"
        super().__init__(message, hint=hint)
        self.code, self.error, self.field = code, error, field

    def body(self) -> ApiError:
        """The JSON error body."""
        return ApiError(code=self.code, error=self.error, message=self.message, field=self.field, hint=self.hint)


def to_failure(exc: Exception) -> ApiFailure:
    """Map any exception from endpoint code to an ApiFailure (unknown ones are 500s)."""
    if isinstance(exc, ApiFailure):
        return exc
    if isinstance(exc, ProtocolError):
        field = exc.path.removeprefix("$.") if exc.path not in ("$", "") else None
        return ApiFailure(400, "bad_request", f"invalid request: {exc.message}", field=field,
                          hint="see subjects.md and the README for the request format")
    if isinstance(exc, OperationNotFound):
        return ApiFailure(404, "not_found", exc.message, field="operation_id", hint=exc.hint)
    if isinstance(exc, IllegalTransition):
        return ApiFailure(409, "conflict", exc.message, field="operation_id", hint=exc.hint)
    if isinstance(exc, KtrdrError):
        field = getattr(exc, "field", None) or getattr(exc, "path", None) or None
        return ApiFailure(400, "invalid", exc.message, field=field, hint=exc.hint or getattr(exc, "suggestion", None))
    if isinstance(exc, (ValueError, TypeError)):
        return ApiFailure(400, "invalid", str(exc))
    return ApiFailure(500, "internal", f"{type(exc).__name__}: {exc}", hint="see the backend log")
