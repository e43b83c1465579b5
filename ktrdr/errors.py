"""The error hierarchy: one root, one subclass per area, structured fields, builtin second bases."""

from __future__ import annotations


class KtrdrError(Exception):
    """Root of every error this package raises on purpose; `hint` says what to do about it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class ConfigError(KtrdrError, ValueError):
    """A configuration value is missing or wrong; `path` names it."""

    def __init__(self, message: str, *, path: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class ProtocolError(KtrdrError, ValueError):
    """A wire message could not be decoded; `path` names the bad field (`$.progress.percentage`)."""

    def __init__(self, message: str, *, path: str = "$", subject: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.subject = subject


class BusError(KtrdrError, ConnectionError):
    """NATS could not be reached or refused an operation."""


class OperationCancelled(KtrdrError):
    """Raised inside an operation's code when its cancellation token fired."""

    def __init__(self, reason: str = "cancelled") -> None:
        super().__init__(f"operation cancelled: {reason}")
        self.reason = reason


class RetryableError(KtrdrError):
    """An operation failure worth retrying on another delivery after `delay_s`."""

    def __init__(self, message: str, *, delay_s: float = 1.0) -> None:
        super().__init__(message)
        self.delay_s = delay_s
