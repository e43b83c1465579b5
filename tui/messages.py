"""One Textual Message per thing that happened on the bus; progress messages coalesce (latest wins)."""

from __future__ import annotations

from textual.message import Message

from ktrdr.protocol.workers import WorkerRecord
from ktrdr.operations.record import OperationRecord
from ktrdr.protocol.messages import OperationEvent, OperationProgress, WorkerHeartbeat

from .feed import Deleted


class RecordChanged(Message):
    """An operations-bucket entry changed (or was deleted)."""

    def __init__(self, record: OperationRecord | Deleted) -> None:
        super().__init__()
        self.record = record


class WorkerChanged(Message):
    """A workers-bucket entry changed (or expired)."""

    def __init__(self, record: WorkerRecord | Deleted) -> None:
        super().__init__()
        self.record = record


class BeatReceived(Message):
    """A worker heartbeat."""

    def __init__(self, beat: WorkerHeartbeat) -> None:
        super().__init__()
        self.beat = beat


class EventReceived(Message):
    """An operation event; a queued progress event is dropped when a newer one of the same operation follows."""

    def __init__(self, event: OperationEvent) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        """Progress is latest-wins: the next progress of the same operation supersedes this one."""
        return (isinstance(message, EventReceived) and isinstance(self.event, OperationProgress)
                and isinstance(message.event, OperationProgress)
                and message.event.operation_id == self.event.operation_id)


class ProgressPending(Message):
    """Progress arrived for one or more operations; the app folds the latest of each (see pump_events)."""


class Connection(Message):
    """The NATS connection changed state: `connecting`, `connected`, `reconnecting` or `unreachable`."""

    def __init__(self, state: str, detail: str = "") -> None:
        super().__init__()
        self.state, self.detail = state, detail
