"""Subject, stream, consumer and bucket names, all derived from one namespace (default `ktrdr`)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property

DEFAULT_NAMESPACE = "ktrdr"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")

# Operation types and their pools live in the kind table (ktrdr.operations.kinds).
LIFECYCLE_EVENTS = ("started", "metric", "log", "completed", "failed", "cancelled")
# the ones that can change an operation's record: the aggregator's consumer receives only these (`started` and
# `log` change nothing the claim has not written, so the server keeps them from it)
FOLDED_EVENTS = ("metric", "completed", "failed", "cancelled")
PROGRESS_EVENT = "progress"


def check_token(value: str, what: str) -> str:
    """Return `value` if it is one valid subject token, else raise ValueError naming `what`."""
    if not _TOKEN.match(value or ""):
        raise ValueError(f"{what} {value!r} is not a valid subject token (letters, digits, '_' or '-')")
    return value


@dataclass(frozen=True)
class Names:
    """Every name on the bus for one namespace; tests use a fresh namespace each."""

    ns: str = DEFAULT_NAMESPACE

    def __post_init__(self) -> None:
        check_token(self.ns, "namespace")

    # -- subjects -------------------------------------------------------------------------
    def heartbeat(self, kind: str, worker_id: str) -> str:
        """Subject a worker heartbeats on."""
        return f"{self.ns}.heartbeat.{check_token(kind, 'kind')}.{check_token(worker_id, 'worker id')}"

    def heartbeat_all(self) -> str:
        """Wildcard for every heartbeat."""
        return f"{self.ns}.heartbeat.>"

    def work(self, op_type: str, pool: str) -> str:
        """Work-queue subject for one (operation type, pool)."""
        return f"{self.ns}.work.{check_token(op_type, 'operation type')}.{check_token(pool, 'pool')}"

    def work_all(self) -> str:
        """Wildcard for every work subject (the work stream's subjects)."""
        return f"{self.ns}.work.>"

    def event(self, op_id: str, event: str) -> str:
        """Subject of one operation's event of one kind."""
        return f"{self.ns}.ops.{check_token(op_id, 'operation id')}.{check_token(event, 'event')}"

    def events_of(self, op_id: str) -> str:
        """Wildcard for every event of one operation."""
        return f"{self.ns}.ops.{check_token(op_id, 'operation id')}.*"

    def events_all(self) -> str:
        """Wildcard for every event of every operation."""
        return f"{self.ns}.ops.>"

    def lifecycle_subjects(self) -> list[str]:
        """The durable-event subjects (one wildcard per lifecycle event kind)."""
        return [f"{self.ns}.ops.*.{e}" for e in LIFECYCLE_EVENTS]

    def folded_subjects(self) -> list[str]:
        """The durable-event subjects the aggregator folds into records."""
        return [f"{self.ns}.ops.*.{e}" for e in FOLDED_EVENTS]

    def progress_subjects(self) -> list[str]:
        """The latest-wins progress subjects."""
        return [f"{self.ns}.ops.*.{PROGRESS_EVENT}"]

    def cancel(self, op_id: str) -> str:
        """Subject that cancels one operation."""
        return f"{self.ns}.cancel.{check_token(op_id, 'operation id')}"

    def cancel_all(self) -> str:
        """Wildcard for every cancel."""
        return f"{self.ns}.cancel.*"

    def cancel_queue(self) -> str:
        """Queue group of the cancel-intent recorders (every backend and worker; one records each cancel)."""
        return f"{self.ns}-cancel-intents"

    def api(self, area: str, verb: str) -> str:
        """Request/reply subject of one API endpoint."""
        return f"{self.ns}.api.{check_token(area, 'area')}.{check_token(verb, 'verb')}"

    def api_all(self) -> str:
        """Wildcard for the whole API."""
        return f"{self.ns}.api.>"

    def dead(self, op_type: str, pool: str) -> str:
        """Dead-letter subject for orders that exhausted their deliveries."""
        return f"{self.ns}.dead.{check_token(op_type, 'operation type')}.{check_token(pool, 'pool')}"

    def dead_all(self) -> str:
        """Wildcard for every dead letter."""
        return f"{self.ns}.dead.>"

    # -- JetStream names ----------------------------------------------------------------
    @cached_property
    def _upper(self) -> str:
        return self.ns.upper().replace("-", "_")

    @property
    def work_stream(self) -> str:
        """Work-queue stream (retention workqueue)."""
        return f"{self._upper}_WORK"

    @property
    def events_stream(self) -> str:
        """Durable lifecycle/metric/log events stream."""
        return f"{self._upper}_EVENTS"

    @property
    def progress_stream(self) -> str:
        """Latest-wins progress stream (one message per subject)."""
        return f"{self._upper}_PROGRESS"

    @property
    def dead_stream(self) -> str:
        """Dead-letter stream."""
        return f"{self._upper}_DEAD"

    def work_consumer(self, op_type: str, pool: str) -> str:
        """Durable pull consumer shared by every worker of one (type, pool)."""
        return f"work_{check_token(op_type, 'operation type')}_{check_token(pool, 'pool')}"

    aggregator_consumer = "aggregator"
    progress_consumer = "aggregator_progress"
    fold_group = "aggregator"  # the priority group of both: the server pins them to one backend at a time

    def bucket(self, name: str) -> str:
        """KV or object-store bucket name (`operations`, `workers`, `data`, `models`, `checkpoints`, `results`)."""
        return f"{self.ns}_{check_token(name, 'bucket')}"

    def service_name(self) -> str:
        """Name of the backend's NATS service (`nats micro ls`)."""
        return f"{self.ns}-backend"


KV_BUCKETS = ("operations", "workers")
OBJECT_BUCKETS = ("data", "models", "checkpoints", "results")


def names(ns: str | None = None) -> Names:
    """Names for `ns`, or for `KTRDR_NAMESPACE` (default `ktrdr`)."""
    return Names(ns or os.environ.get("KTRDR_NAMESPACE") or DEFAULT_NAMESPACE)
