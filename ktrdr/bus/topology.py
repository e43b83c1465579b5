"""One idempotent ensure_topology(): streams, consumers, KV buckets and object stores of the design."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy, ConsumerConfig, DiscardPolicy, KeyValueConfig, ObjectStoreConfig, RetentionPolicy,
    StorageType, StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError

from ktrdr.config import Settings
from ktrdr.operations.kinds import work_pairs
from ktrdr.protocol.subjects import KV_BUCKETS, OBJECT_BUCKETS, Names

log = logging.getLogger("ktrdr.bus.topology")
DAY = 86400.0
# A backend that pinned the folding consumers and sent no pull for this long hands them to another backend.
FOLD_PIN_S = 5.0


@dataclass
class PinnedConsumerConfig(ConsumerConfig):
    """A consumer that delivers to one client of its priority group at a time (nats-server 2.11+).

    nats-py's ConsumerConfig has no priority fields yet, and drops them from consumer info: the `metadata` entry
    says the policy, so that ensure_topology() sees an older consumer differ and updates it.
    """

    priority_groups: list[str] | None = None
    priority_policy: str | None = None
    priority_timeout: float | None = None  # seconds

    def as_dict(self) -> dict[str, object]:
        """The API's form: the timeout in nanoseconds."""
        result = super().as_dict()
        if self.priority_timeout is not None:
            result["priority_timeout"] = self._to_nanoseconds(self.priority_timeout)
        return result


@dataclass
class TopologyReport:
    """What ensure_topology() created, updated or left alone."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when anything was created or updated."""
        return bool(self.created or self.updated)


def stream_configs(n: Names, s: Settings) -> list[StreamConfig]:
    """The streams: work queue, durable events, latest-wins progress, dead letters."""
    r = s.replicas
    return [
        StreamConfig(name=n.work_stream, subjects=[n.work_all()], retention=RetentionPolicy.WORK_QUEUE,
                     storage=StorageType.FILE, num_replicas=r, duplicate_window=120.0,
                     description="work orders; one consumer per (type, pool)"),
        StreamConfig(name=n.events_stream, subjects=n.lifecycle_subjects(), retention=RetentionPolicy.LIMITS,
                     storage=StorageType.FILE, num_replicas=r, max_age=s.events_max_age_days * DAY,
                     duplicate_window=120.0, description="operation lifecycle, metric and log events"),
        # file, not memory: a restarted server must still have the stream and the aggregator's consumer
        StreamConfig(name=n.progress_stream, subjects=n.progress_subjects(), retention=RetentionPolicy.LIMITS,
                     storage=StorageType.FILE, num_replicas=r, max_msgs_per_subject=1, max_age=DAY,
                     duplicate_window=60.0, discard=DiscardPolicy.OLD, description="latest progress per operation"),
        StreamConfig(name=n.dead_stream, subjects=[n.dead_all()], retention=RetentionPolicy.LIMITS,
                     storage=StorageType.FILE, num_replicas=r, max_age=s.events_max_age_days * DAY,
                     duplicate_window=120.0, description="work orders that exhausted max_deliver"),
    ]


def consumer_configs(n: Names, s: Settings) -> list[tuple[str, ConsumerConfig]]:
    """(stream, consumer) pairs: one durable pull consumer per work pool, plus the aggregator's two."""
    out: list[tuple[str, ConsumerConfig]] = []
    for op_type, pool in work_pairs():
        name = n.work_consumer(op_type, pool)
        out.append((n.work_stream, ConsumerConfig(
            durable_name=name, name=name, filter_subject=n.work(op_type, pool), ack_policy=AckPolicy.EXPLICIT,
            ack_wait=s.ack_wait_s, max_deliver=s.max_deliver, max_ack_pending=-1, num_replicas=s.replicas,
            description=f"workers of {op_type}/{pool}")))
    # the events consumer hears only what can change a record; the progress stream holds nothing else. One
    # backend folds at a time: two backends folding one operation's events would each overwrite the other's
    # write and read the record back, at every write (measured: record writes 12,000/s → 8,000/s with a second)
    for stream, name, subjects in ((n.events_stream, n.aggregator_consumer, n.folded_subjects()),
                                   (n.progress_stream, n.progress_consumer, None)):
        out.append((stream, PinnedConsumerConfig(
            durable_name=name, name=name, filter_subjects=subjects, ack_policy=AckPolicy.EXPLICIT, ack_wait=30.0,
            max_deliver=-1, max_ack_pending=20000, num_replicas=s.replicas, description="backend aggregator",
            priority_groups=[n.fold_group], priority_policy="pinned_client", priority_timeout=FOLD_PIN_S,
            metadata={"ktrdr_priority": f"pinned_client {n.fold_group} {FOLD_PIN_S:g}s"})))
    return out


def kv_configs(n: Names, s: Settings) -> list[KeyValueConfig]:
    """The KV buckets: operations (source of truth) and the TTL'd worker registry."""
    return [
        KeyValueConfig(bucket=n.bucket("operations"), history=1, replicas=s.replicas,
                       storage=StorageType.FILE, description="one record per operation"),
        KeyValueConfig(bucket=n.bucket("workers"), history=1, replicas=s.replicas, ttl=s.worker_ttl_s,
                       storage=StorageType.FILE, description="worker registry"),
    ]


def object_configs(n: Names, s: Settings) -> list[ObjectStoreConfig]:
    """The object stores: data, models, checkpoints, results."""
    return [ObjectStoreConfig(bucket=n.bucket(b), replicas=s.replicas, storage=StorageType.FILE)
            for b in OBJECT_BUCKETS]


assert set(KV_BUCKETS) == {"operations", "workers"}


# names are the lookup itself; nats-py's consumer info drops the priority fields (the metadata entry stands in)
_UNCOMPARED = frozenset({"name", "durable_name", "priority_groups", "priority_policy", "priority_timeout"})


def _differs(wanted: dict, actual: dict) -> list[str]:
    """Fields we set whose server value differs (server-filled defaults and metadata keys are ignored)."""
    return [k for k, v in wanted.items() if k not in _UNCOMPARED and not _same(v, actual.get(k))]


def _same(wanted: object, actual: object) -> bool:
    """Equal; for metadata, every wanted entry is there (the server adds its own)."""
    if isinstance(wanted, dict) and isinstance(actual, dict):
        return all(actual.get(k) == v for k, v in wanted.items())
    return wanted == actual


async def _ensure_stream(js: JetStreamContext, cfg: StreamConfig, report: TopologyReport) -> None:
    try:
        info = await js.stream_info(cfg.name)
    except NotFoundError:
        await js.add_stream(cfg)
        report.created.append(f"stream {cfg.name}")
        return
    diff = _differs(cfg.as_dict(), info.config.as_dict())
    if diff:
        await js.update_stream(cfg)
        report.updated.append(f"stream {cfg.name} ({', '.join(diff)})")
    else:
        report.unchanged.append(f"stream {cfg.name}")


async def _ensure_consumer(js: JetStreamContext, stream: str, cfg: ConsumerConfig,
                           report: TopologyReport) -> None:
    label = f"consumer {stream}/{cfg.durable_name}"
    try:
        info = await js.consumer_info(stream, cfg.durable_name)
    except NotFoundError:
        await js.add_consumer(stream, cfg)
        report.created.append(label)
        return
    diff = _differs(cfg.as_dict(), info.config.as_dict())
    if diff:
        await js.add_consumer(stream, cfg)
        report.updated.append(f"{label} ({', '.join(diff)})")
    else:
        report.unchanged.append(label)


async def _ensure_backing(js: JetStreamContext, stream: str, replicas: int, max_age: float | None,
                          label: str, report: TopologyReport) -> None:
    """Bring an existing KV/object bucket's backing stream to the wanted replicas and TTL."""
    info = await js.stream_info(stream)
    cfg = info.config
    wanted_age = max_age or 0.0
    if cfg.num_replicas == replicas and abs((cfg.max_age or 0.0) - wanted_age) < 1e-6:
        report.unchanged.append(label)
        return
    cfg.num_replicas, cfg.max_age = replicas, wanted_age
    await js.update_stream(cfg)
    report.updated.append(label)


async def _ensure_kv(js: JetStreamContext, cfg: KeyValueConfig, report: TopologyReport) -> None:
    try:
        await js.key_value(cfg.bucket)
    except BucketNotFoundError:
        await js.create_key_value(cfg)
        report.created.append(f"kv {cfg.bucket}")
        return
    await _ensure_backing(js, f"KV_{cfg.bucket}", cfg.replicas, cfg.ttl, f"kv {cfg.bucket}", report)


async def _ensure_object_store(js: JetStreamContext, cfg: ObjectStoreConfig, report: TopologyReport) -> None:
    try:
        await js.object_store(cfg.bucket)
    except (BucketNotFoundError, NotFoundError):
        await js.create_object_store(cfg.bucket, config=cfg)
        report.created.append(f"object store {cfg.bucket}")
        return
    await _ensure_backing(js, f"OBJ_{cfg.bucket}", cfg.replicas, cfg.ttl, f"object store {cfg.bucket}", report)


async def ensure_topology(js: JetStreamContext, n: Names, s: Settings) -> TopologyReport:
    """Create or update every stream, consumer and bucket; running it again changes nothing."""
    report = TopologyReport()
    for stream in stream_configs(n, s):
        await _ensure_stream(js, stream, report)
    for stream_name, consumer in consumer_configs(n, s):
        await _ensure_consumer(js, stream_name, consumer, report)
    for kv in kv_configs(n, s):
        await _ensure_kv(js, kv, report)
    for obj in object_configs(n, s):
        await _ensure_object_store(js, obj, report)
    if report.changed:
        log.info("topology: created %s; updated %s", report.created, report.updated)
    return report
