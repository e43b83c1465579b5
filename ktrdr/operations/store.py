"""The `operations` KV bucket: typed get/create/compare-and-set update and a full scan."""

from __future__ import annotations

from collections.abc import AsyncIterator

from nats.js.errors import InvalidKeyError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from ktrdr.bus.mux import RequestMux
from ktrdr.bus.reading import watch_bucket
from ktrdr.errors import KtrdrError
from ktrdr.operations.record import OperationRecord
from ktrdr.protocol.codec import decode, encode
from ktrdr.protocol.subjects import check_token


class OperationNotFound(KtrdrError, KeyError):
    """No operation with this id."""

    def __init__(self, op_id: str) -> None:
        super().__init__(f"no operation {op_id!r}", hint="list operations with `ktrdr ops`")
        self.op_id = op_id


class Conflict(KtrdrError):
    """The record changed since it was read (compare-and-set lost)."""


class OperationStore:
    """Typed access to the operations bucket; writes go through the connection's RequestMux."""

    def __init__(self, kv: KeyValue, mux: RequestMux, bucket: str) -> None:
        self.kv, self.mux = kv, mux
        self._prefix = f"$KV.{bucket}."

    def _subject(self, op_id: str) -> str:
        try:
            return self._prefix + check_token(op_id, "operation id")
        except ValueError:
            raise InvalidKeyError(op_id) from None

    async def get(self, op_id: str) -> tuple[OperationRecord, int]:
        """The record and its revision; OperationNotFound when missing or deleted."""
        try:
            entry = await self.kv.get(op_id)
        except KeyNotFoundError:
            raise OperationNotFound(op_id) from None
        if entry.value is None:
            raise OperationNotFound(op_id)
        return decode(entry.value, OperationRecord), entry.revision

    async def find(self, op_id: str) -> OperationRecord | None:
        """The record, or None."""
        try:
            return (await self.get(op_id))[0]
        except OperationNotFound:
            return None

    async def create(self, record: OperationRecord) -> int:
        """Store a new record; Conflict when the id exists."""
        try:
            return await self.mux.update(self._subject(record.id), encode(record), last=0)
        except KeyWrongLastSequenceError:
            pass
        try:  # a deleted record leaves a tombstone, which nats-py's create knows to write over
            return await self.kv.create(record.id, encode(record))
        except KeyWrongLastSequenceError:
            raise Conflict(f"operation {record.id} already exists") from None

    async def put_if(self, record: OperationRecord, revision: int) -> int:
        """Compare-and-set: write only if the stored revision is still `revision`."""
        try:
            return await self.mux.update(self._subject(record.id), encode(record), last=revision)
        except KeyWrongLastSequenceError:
            raise _changed(record.id) from None

    async def put_many_if(self, writes: list[tuple[OperationRecord, int]]) -> list[int | Exception]:
        """Compare-and-set many records at once: each one's new revision, or its error (Conflict when changed)."""
        results = await self.mux.update_many([(self._subject(r.id), encode(r), revision) for r, revision in writes])
        return [_changed(r.id) if isinstance(out, KeyWrongLastSequenceError) else out
                for (r, _), out in zip(writes, results)]

    async def delete(self, op_id: str, revision: int | None = None) -> None:
        """Delete a record (optionally only at `revision`)."""
        await self.kv.delete(op_id, last=revision)

    async def scan(self) -> AsyncIterator[OperationRecord]:
        """Every current record, streamed through one watcher (no per-key round trips)."""
        async for item in watch_bucket(self.kv, OperationRecord, initial_only=True):
            if isinstance(item, OperationRecord):
                yield item


def _changed(op_id: str) -> Conflict:
    """A compare-and-set that found the record changed since its revision."""
    return Conflict(f"operation {op_id} changed concurrently")
