"""The monitor's I/O: KV watches, heartbeats and history reads, through the client with direct fallbacks.

Reading works without a backend: the KV buckets and subjects are read directly, and the backend's endpoints
are only preferred where they exist (metrics). Of the actions, cancel works without one (a bare publish);
resume writes KV and queues an order, so it needs the backend.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ktrdr.bus.reading import LOADED, Deleted, page_stream, watch_bucket
from ktrdr.client import KtrdrClient, NoBackend
from ktrdr.errors import KtrdrError, ProtocolError
from ktrdr.operations.record import OperationRecord
from ktrdr.protocol.codec import decode, decode_event
from ktrdr.protocol.workers import WorkerRecord
from ktrdr.protocol.messages import OperationEvent, OperationMetric, WorkerHeartbeat

__all__ = ["Deleted", "cancel", "equity_curve", "events", "heartbeats", "history", "operation_records", "resume",
           "worker_records"]
HISTORY_LIMIT = 500  # lifecycle/metric/log events read back when a detail view opens


async def _watch(client: KtrdrClient, bucket: str, type_: type) -> AsyncIterator[Any]:
    """Every current value of a bucket, then every change (Deleted for removals)."""
    kv = await client.bus.js.key_value(client.bus.names.bucket(bucket))
    async for item in watch_bucket(kv, type_):
        if item is not LOADED:
            yield item


def operation_records(client: KtrdrClient) -> AsyncIterator[OperationRecord | Deleted]:
    """The operations bucket, watched."""
    return _watch(client, "operations", OperationRecord)


def worker_records(client: KtrdrClient) -> AsyncIterator[WorkerRecord | Deleted]:
    """The workers bucket (the backend registry's view), watched."""
    return _watch(client, "workers", WorkerRecord)


async def heartbeats(client: KtrdrClient) -> AsyncIterator[WorkerHeartbeat]:
    """Every worker heartbeat as it is published."""
    sub = await client.bus.nc.subscribe(client.bus.names.heartbeat_all())
    try:
        async for msg in sub.messages:
            try:
                yield decode(msg.data, WorkerHeartbeat, subject=msg.subject)
            except ProtocolError:
                continue
    finally:
        await sub.unsubscribe()


async def events(client: KtrdrClient, op_id: str | None = None) -> AsyncIterator[OperationEvent]:
    """Live events of every operation (or one)."""
    async for _subject, event in client.events(op_id):
        yield event


async def history(client: KtrdrClient, op_id: str, limit: int = HISTORY_LIMIT) -> list[OperationEvent]:
    """One operation's stored lifecycle, metric and log events, oldest first (straight from the stream)."""
    bus, out = client.bus, []
    async for raw in page_stream(bus.js, bus.names.events_stream, bus.names.events_of(op_id), limit=limit):
        try:
            out.append(decode_event(raw.data or b"", subject=raw.subject or ""))
        except ProtocolError:
            pass
    return out


async def epoch_metrics(client: KtrdrClient, op_id: str) -> list[dict[str, Any]]:
    """Metric values per epoch: the backend's endpoint, else the events stream read directly."""
    try:
        reply = await client.metrics(op_id, limit=1000)
        return [m["values"] | {"_name": m.get("name", "epoch")} for m in reply["metrics"]]
    except NoBackend:
        found = await history(client, op_id, limit=2000)
        return [e.values | {"_name": e.name} for e in found if isinstance(e, OperationMetric)]


async def equity_curve(client: KtrdrClient, record: OperationRecord) -> list[float]:
    """A backtest's equity curve from the results bucket ([] when it stored none)."""
    from ktrdr.bus.objects import backtest_result

    try:
        result = await backtest_result(client.bus.js, client.bus.names, record)
    except KtrdrError:
        return []
    return [] if result is None else result.equity.to_numpy().tolist()


async def cancel(client: KtrdrClient, op_id: str, reason: str = "cancelled from the monitor") -> str:
    """Cancel through the backend, else by the bare publish any worker acts on; says which."""
    reply = await client.cancel_anyhow(op_id, reason)
    return "cancel published on the bus (no backend)" if reply["published"] else "cancel requested"


async def resume(client: KtrdrClient, op_id: str) -> str:
    """Resume through the backend: it writes KV and queues an order, which a client may not do itself."""
    try:
        await client.resume(op_id)
        return "resuming"
    except NoBackend:
        return "resume needs a backend (start one with `ktrdr backend` or `ktrdr up`)"
