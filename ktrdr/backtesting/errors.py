"""Errors of the backtesting area."""

from __future__ import annotations

from ktrdr.errors import KtrdrError


class BacktestError(KtrdrError, ValueError):
    """A backtest input (data, signals, probabilities, checkpoint) is unusable; `field` names it."""

    def __init__(self, message: str, *, field: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field
