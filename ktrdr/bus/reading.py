"""The shared read loops: page through one subject of a stream, watch a KV bucket as typed values."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import msgspec
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from ktrdr.errors import ProtocolError
from ktrdr.protocol.codec import decode

log = logging.getLogger("ktrdr.bus.reading")
T = TypeVar("T")


class Deleted(msgspec.Struct, frozen=True):
    """A key that left a KV bucket."""

    key: str


class Loaded(msgspec.Struct, frozen=True):
    """The watch has delivered every current value; what follows are changes."""


LOADED = Loaded()


async def page_stream(js: JetStreamContext, stream: str, subject: str, *, start: int = 1,
                      limit: int = 1000) -> AsyncIterator[Any]:
    """The stream's stored messages on `subject` (a wildcard is fine) from sequence `start`, oldest first."""
    seq = max(1, start)
    for _ in range(limit):
        try:
            raw = await js.get_msg(stream, seq=seq, subject=subject, next=True)
        except NotFoundError:
            return
        yield raw
        seq = (raw.seq or seq) + 1


async def watch_bucket(kv: KeyValue, type_: type[T], key: str = ">", *,
                       initial_only: bool = False) -> AsyncIterator[T | Deleted | Loaded]:
    """Every current value under `key` as `type_`, then LOADED, then every change (Deleted for removals).

    Unreadable values are logged and skipped. `initial_only` ends the iteration at LOADED.
    """
    watcher = await kv.watch(key)
    try:
        while True:
            entry = await watcher.updates(timeout=None)  # type: ignore[arg-type]
            if entry is None:
                yield LOADED
                if initial_only:
                    return
                continue
            if entry.value is None or entry.operation in ("DEL", "PURGE") or not entry.value:
                yield Deleted(entry.key)
                continue
            try:
                yield decode(entry.value, type_)
            except ProtocolError as exc:
                log.warning("unreadable value %s in %s: %s", entry.key, getattr(kv, "_name", "?"), exc)
    finally:
        try:
            await watcher.stop()
        except Exception:  # the connection may be gone already
            pass
