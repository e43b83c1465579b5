"""What the runtime hands an operation's code: cancellation, progress, checkpoints. No NATS here."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable, Protocol

from ktrdr.errors import OperationCancelled

PROGRESS_FIELDS = (
    "percentage", "current_step", "steps_completed", "steps_total",
    "items_processed", "items_total", "current_item", "context",
)


class CancelToken:
    """Thread-safe cancellation flag that operation code checks at safe points."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        """Fire the token (idempotent; the first reason wins)."""
        if not self._event.is_set():
            self.reason = reason or "cancelled"
            self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once cancel() was called."""
        return self._event.is_set()

    def check(self) -> None:
        """Raise OperationCancelled if the token fired."""
        if self._event.is_set():
            raise OperationCancelled(self.reason)

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds, waking early on cancel; True if cancelled."""
        return self._event.wait(timeout)


class ProgressReporter:
    """Never-blocking progress sink callable from any thread; the runtime drains the latest state."""

    def __init__(self, on_change: Callable[[bool], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {}
        self._dirty = False
        self._metrics: deque[dict[str, Any]] = deque()
        self._logs: deque[tuple[str, str]] = deque()
        self._on_change = on_change
        self.started = time.monotonic()

    def update(self, **fields: Any) -> None:
        """Merge progress fields (see PROGRESS_FIELDS); a new `current_step` is flushed at once."""
        unknown = set(fields) - set(PROGRESS_FIELDS)
        if unknown:
            raise TypeError(f"unknown progress field(s) {sorted(unknown)}; use {PROGRESS_FIELDS}")
        with self._lock:
            step_changed = "current_step" in fields and fields["current_step"] != self._state.get("current_step")
            self._state.update(fields)
            self._dirty = True
        if self._on_change is not None:
            self._on_change(step_changed)

    def metric(self, values: dict[str, Any], *, name: str = "epoch") -> None:
        """Record one metric record (never coalesced)."""
        with self._lock:
            self._metrics.append({"name": name, "values": dict(values)})
        if self._on_change is not None:
            self._on_change(True)

    def log(self, message: str, level: str = "info") -> None:
        """Record a log line for the operation's event stream."""
        with self._lock:
            self._logs.append((level, message))
        if self._on_change is not None:
            self._on_change(True)

    def snapshot(self) -> dict[str, Any]:
        """A copy of the latest progress state."""
        with self._lock:
            return dict(self._state)

    def drain(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[tuple[str, str]]]:
        """Take (latest state if changed, pending metrics, pending logs) and reset them."""
        with self._lock:
            state = dict(self._state) if self._dirty else None
            self._dirty = False
            metrics, logs = list(self._metrics), list(self._logs)
            self._metrics.clear()
            self._logs.clear()
        return state, metrics, logs


class Checkpointer(Protocol):
    """Where an operation saves and finds its resumable state (opaque bytes)."""

    def load(self) -> bytes | None:
        """The last saved state, or None for a fresh start."""
        ...

    def save(self, state: bytes) -> None:
        """Persist a state; called from the operation's thread."""
        ...


class MemoryCheckpointer:
    """In-memory Checkpointer for tests and local runs."""

    def __init__(self, initial: bytes | None = None) -> None:
        self.state = initial
        self.saves = 0

    def load(self) -> bytes | None:
        """Return the last saved state."""
        return self.state

    def save(self, state: bytes) -> None:
        """Keep the state in memory."""
        self.state = state
        self.saves += 1
