"""Errors of the training area: each says what was wrong and what to do about it."""

from __future__ import annotations

from ktrdr.errors import KtrdrError


class TrainingError(KtrdrError, ValueError):
    """Training inputs are unusable (shapes, too little data, unsupported option); `field` names the culprit."""

    def __init__(self, message: str, *, field: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class DeviceUnavailable(KtrdrError, RuntimeError):
    """The requested accelerator cannot be used; `reason` says why (no CUDA build, no device, ...)."""

    def __init__(self, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"no usable GPU: {reason}", hint=hint)
        self.reason = reason


class BundleError(KtrdrError, ValueError):
    """A model bundle could not be decoded or does not fit its inputs."""
