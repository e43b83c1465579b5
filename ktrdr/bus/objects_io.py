"""Object-store primitives on the standard NATS object layout: chunked upload, compare-and-set publish, fast read.

nats-py's `ObjectStore.put` cannot create-if-absent or compare-and-set, and its `get` grows one bytes object
chunk by chunk (quadratic: seconds for tens of MB). These helpers write and read the same wire layout that
nats-py and the `nats` CLI use (`$O.<bucket>.C.<nuid>` chunks, `$O.<bucket>.M.<b64 name>` meta with rollup),
so objects stay readable by every standard tool; the meta publish may carry
`Nats-Expected-Last-Subject-Sequence`, which makes "this name is still at revision N" atomic on the server.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from hashlib import sha256

from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import Header, ObjectInfo, ObjectMetaOptions
from nats.js.errors import APIError, NotFoundError
from nats.js.object_store import ObjectStore
from nats.nuid import NUID

from ktrdr.errors import KtrdrError

CHUNK_SIZE = 128 * 1024  # nats-py's and nats.go's default chunk size
CHUNK_WAIT_S = 5.0
_WRONG_LAST_SEQUENCE = 10071  # JSStreamWrongLastSequenceErrF
MAX_SWAPS = 100
_nuid = NUID()


class ObjectConflict(KtrdrError, RuntimeError):
    """A conditional write lost: the object changed since revision `expected` was read."""

    def __init__(self, bucket: str, name: str, expected: int) -> None:
        super().__init__(f"object {bucket}/{name} is no longer at revision {expected}",
                         hint="re-read it and try again")
        self.bucket, self.name, self.expected = bucket, name, expected


class CorruptObject(KtrdrError, ValueError):
    """Stored chunks do not add up to the object's recorded size or digest."""

    def __init__(self, bucket: str, name: str, why: str) -> None:
        super().__init__(f"object {bucket}/{name} is corrupt: {why}", hint="write the object again")
        self.bucket, self.name = bucket, name


def _parts(store: ObjectStore) -> tuple[JetStreamContext, str, str]:
    # nats-py exposes no accessors for these; they are stable since the object store was added (2.2).
    return store._js, store._name, store._stream  # noqa: SLF001


def bucket_of(store: ObjectStore) -> str:
    """The bucket's name."""
    return _parts(store)[1]


def meta_subject(bucket: str, name: str) -> str:
    """Subject holding an object's meta record."""
    return f"$O.{bucket}.M.{base64.urlsafe_b64encode(name.encode()).decode()}"


def chunk_subject(bucket: str, nuid: str) -> str:
    """Subject holding one upload's chunks."""
    return f"$O.{bucket}.C.{nuid}"


def encode_headers(meta: dict[str, str]) -> dict[str, list[str]]:
    """Metadata as object headers in nats.go's shape (`map[string][]string`), so `nats obj info` reads them."""
    return {k: [str(v)] for k, v in meta.items()}


def decode_headers(headers: dict | None) -> dict[str, str]:
    """Inverse of encode_headers; also accepts plain string values written by other clients."""
    return {k: (v[0] if v else "") if isinstance(v, list) else str(v) for k, v in (headers or {}).items()}


async def upload(store: ObjectStore, data: bytes) -> ObjectInfo:
    """Publish `data` as chunks under a fresh nuid; the returned info (no name yet) is not visible until published."""
    js, bucket, _ = _parts(store)
    nuid = _nuid.next().decode()
    view, h, chunks = memoryview(data), sha256(), 0
    try:
        for start in range(0, len(view), CHUNK_SIZE):
            piece = bytes(view[start:start + CHUNK_SIZE])
            h.update(piece)
            await js.publish(chunk_subject(bucket, nuid), piece)
            chunks += 1
    except BaseException:
        await discard(store, nuid)
        raise
    digest = "SHA-256=" + base64.urlsafe_b64encode(h.digest()).decode()
    return ObjectInfo(name="", bucket=bucket, nuid=nuid, size=len(data), chunks=chunks, digest=digest,
                      options=ObjectMetaOptions(max_chunk_size=CHUNK_SIZE))


async def discard(store: ObjectStore, nuid: str) -> None:
    """Purge one upload's chunks (after a lost race, a failure, or a replacement)."""
    js, bucket, stream = _parts(store)
    await js.purge_stream(stream, subject=chunk_subject(bucket, nuid))


async def read_meta(store: ObjectStore, name: str) -> tuple[int, ObjectInfo | None]:
    """(stream sequence of the meta record, its info) — (0, None) when the name was never written."""
    js, bucket, stream = _parts(store)
    try:
        msg = await js.get_last_msg(stream, meta_subject(bucket, name))
    except NotFoundError:
        return 0, None
    return msg.seq or 0, ObjectInfo.from_response(json.loads(msg.data))


async def publish(store: ObjectStore, staged: ObjectInfo, name: str, headers: dict[str, str], *,
                  expect_seq: int | None = None) -> ObjectInfo:
    """Make an upload visible as `name`; with `expect_seq` only if the name is still at that revision (0: absent).

    Raises ObjectConflict when the expectation fails; the upload's chunks are then kept for another try.
    """
    js, bucket, _ = _parts(store)
    info = replace(staged, name=name, headers=encode_headers(headers), deleted=False,
                   mtime=datetime.now(timezone.utc).isoformat())
    hdrs = {Header.ROLLUP: "sub"}
    if expect_seq is not None:
        hdrs[Header.EXPECTED_LAST_SUBJECT_SEQUENCE] = str(expect_seq)
    try:
        await js.publish(meta_subject(bucket, name), json.dumps(info.as_dict()).encode(), headers=hdrs)
    except APIError as exc:
        if exc.err_code == _WRONG_LAST_SEQUENCE:
            raise ObjectConflict(bucket, name, expect_seq or 0) from None
        raise
    return info


async def swap(store: ObjectStore, name: str, data: bytes, headers: dict[str, str], *,
               keep: Callable[[ObjectInfo], bool] | None = None) -> ObjectInfo | None:
    """Create or replace `name` by compare-and-set on its revision, retrying races (the last writer wins).

    `keep(current)` returning True leaves the current object alone (returns None). Exactly the replaced
    upload's chunks are purged, so racing writers leave no orphaned chunks behind.
    """
    staged: ObjectInfo | None = None
    seq = 0
    try:
        for _ in range(MAX_SWAPS):
            seq, current = await read_meta(store, name)
            if current is not None and keep is not None and keep(current):
                return None
            staged = staged or await upload(store, data)
            try:
                info = await publish(store, staged, name, headers, expect_seq=seq)
            except ObjectConflict:
                continue  # someone wrote in between: look again, reuse our chunks
            staged = None
            if current is not None and current.nuid and not current.deleted:
                await discard(store, current.nuid)
            return info
        raise ObjectConflict(bucket_of(store), name, seq)
    finally:
        if staged is not None:
            await discard(store, staged.nuid)


async def put(store: ObjectStore, name: str, data: bytes, headers: dict[str, str]) -> ObjectInfo:
    """Create or replace `name` (last writer wins)."""
    info = await swap(store, name, data, headers)
    assert info is not None  # without `keep`, swap always writes
    return info


async def live_info(store: ObjectStore, name: str) -> ObjectInfo | None:
    """The object's info, or None when it is absent or deleted."""
    _, info = await read_meta(store, name)
    return None if info is None or info.deleted else info


async def get(store: ObjectStore, name: str) -> bytes | None:
    """The object's bytes (digest-checked), or None when absent; follows a replacement that lands mid-read."""
    for attempt in range(3):
        info = await live_info(store, name)
        if info is None:
            return None
        try:
            return await _read(store, info)
        except NatsTimeout:
            # A concurrent put purges the chunks we were reading: retry on the new revision, if there is one.
            fresh = await live_info(store, name)
            if attempt == 2 or fresh is None or fresh.nuid == info.nuid:
                raise
    raise AssertionError("unreachable")


async def _read(store: ObjectStore, info: ObjectInfo) -> bytes:
    if info.is_link():
        return (await store.get(info.name)).data or b""  # links are never written by us; let nats-py follow them
    if not info.size:
        return b""
    js, bucket, stream = _parts(store)
    sub = await js.subscribe(chunk_subject(bucket, info.nuid), stream=stream, ordered_consumer=True)
    parts: list[bytes] = []
    try:
        for _ in range(info.chunks or 0):
            parts.append((await sub.next_msg(timeout=CHUNK_WAIT_S)).data)
    finally:
        await sub.unsubscribe()
    data = b"".join(parts)
    want = (info.digest or "").partition("=")[2]
    if len(data) != info.size or base64.urlsafe_b64decode(want) != sha256(data).digest():
        raise CorruptObject(bucket, info.name, f"{len(data)} bytes read, {info.size} recorded, digest differs")
    return data


async def infos(store: ObjectStore, *, include_deleted: bool = False) -> list[ObjectInfo]:
    """Infos of every object (deleted ones too when asked); [] for an empty bucket, sorted by name."""
    try:
        infos = await store.list(ignore_deletes=not include_deleted)
    except NotFoundError:  # nats-py raises instead of returning [] for an empty bucket
        return []
    return sorted(infos, key=lambda i: i.name)


async def delete(store: ObjectStore, name: str) -> bool:
    """Delete an object; False when there was none."""
    if await live_info(store, name) is None:
        return False
    try:
        await store.delete(name)
    except NotFoundError:  # deleted by someone else in between
        return False
    return True
