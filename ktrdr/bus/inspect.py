"""Read-only view of the topology for `ktrdr nats status`."""

from __future__ import annotations

from typing import Any

from nats.js.errors import NotFoundError

from ktrdr.bus.connection import connect
from ktrdr.bus.topology import consumer_configs, stream_configs
from ktrdr.config import Settings
from ktrdr.protocol.subjects import KV_BUCKETS, OBJECT_BUCKETS, Names


async def describe(settings: Settings, url: str) -> dict[str, Any]:
    """Streams (messages, bytes), consumers (pending, ack pending, waiting) and buckets of the namespace."""
    n = Names(settings.namespace)
    nc = await connect(settings, url)
    js = nc.jetstream()
    out: dict[str, Any] = {"url": url, "namespace": n.ns, "server": str(nc.connected_server_version),
                           "streams": [], "consumers": [], "buckets": []}
    try:
        for cfg in stream_configs(n, settings):
            out["streams"].append(await _stream(js, cfg.name))
        for stream, cfg in consumer_configs(n, settings):
            out["consumers"].append(await _consumer(js, stream, cfg.durable_name))
        for kind, names_, prefix in (("kv", KV_BUCKETS, "KV_"), ("object", OBJECT_BUCKETS, "OBJ_")):
            for b in names_:
                row = await _stream(js, prefix + n.bucket(b))
                out["buckets"].append({**row, "name": n.bucket(b), "kind": kind})
    finally:
        await nc.close()
    return out


async def _stream(js: Any, name: str) -> dict[str, Any]:
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        return {"name": name, "exists": False}
    return {"name": name, "exists": True, "messages": info.state.messages, "bytes": info.state.bytes}


async def _consumer(js: Any, stream: str, name: str) -> dict[str, Any]:
    try:
        info = await js.consumer_info(stream, name)
    except NotFoundError:
        return {"stream": stream, "name": name, "exists": False}
    return {"stream": stream, "name": name, "exists": True, "pending": info.num_pending,
            "ack_pending": info.num_ack_pending, "waiting": info.num_waiting,
            "redelivered": info.num_redelivered}


def render_status(info: dict[str, Any]) -> None:
    """Print the status as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"NATS {info['url']} (server {info['server']}), namespace [bold]{info['namespace']}[/]")
    missing = "[red]missing — run `ktrdr nats up`[/]"
    for title, rows, cols in (
        ("Streams", info["streams"], ("name", "messages", "bytes")),
        ("Consumers", info["consumers"], ("stream", "name", "pending", "ack_pending", "waiting")),
        ("Buckets", info["buckets"], ("kind", "name", "messages", "bytes")),
    ):
        table = Table(title=title)
        for col in cols:
            table.add_column(col)
        for row in rows:
            table.add_row(*[str(row.get(c, "")) if row.get("exists") or c in ("name", "stream", "kind")
                            else missing for c in cols])
        console.print(table)
