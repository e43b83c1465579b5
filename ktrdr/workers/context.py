"""What a handler receives: parameters, progress, cancellation, checkpoints and a bridge to the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ktrdr.context import CancelToken, Checkpointer, MemoryCheckpointer, ProgressReporter

T = TypeVar("T")


@dataclass
class OperationContext:
    """Everything an operation's code may touch; it runs in a worker thread, never on the loop."""

    operation_id: str
    type: str
    attempt: int
    parameters: dict[str, Any]
    progress: ProgressReporter
    cancel: CancelToken
    checkpointer: Checkpointer = field(default_factory=MemoryCheckpointer)
    resume: bool = False
    worker_id: str = ""
    loop: asyncio.AbstractEventLoop | None = None
    services: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)

    def call(self, coro_fn: Callable[[], Coroutine[Any, Any, T]], timeout: float = 120.0) -> T:
        """Run a coroutine on the worker's event loop from the operation thread and wait for it."""
        if self.loop is None:
            raise RuntimeError("this context has no event loop to call into")
        return asyncio.run_coroutine_threadsafe(coro_fn(), self.loop).result(timeout)


#: A handler runs one operation synchronously and returns its result summary.
Handler = Callable[[OperationContext], dict[str, Any]]
