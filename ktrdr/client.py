"""The one client the CLI and the TUI use: the backend API plus event subscriptions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from ktrdr.bus.connection import flush
from ktrdr.bus.handle import Bus
from ktrdr.bus.reading import watch_bucket
from ktrdr.errors import KtrdrError
from ktrdr.operations.record import OperationRecord, new_operation_id
from ktrdr.protocol.codec import decode, decode_event, encode
from ktrdr.protocol.messages import CancelRequest, OperationEvent, event_kind


class ApiError(KtrdrError):
    """An error reply from the backend: code (400/404/409/500), the field at fault and a hint."""

    def __init__(self, code: int, message: str, *, field: str | None = None, hint: str | None = None,
                 error: str = "") -> None:
        where = f" (field `{field}`)" if field else ""
        super().__init__(f"{message}{where}", hint=hint)
        self.code, self.field, self.error = code, field, error


class NoBackend(KtrdrError, ConnectionError):
    """No backend answered."""


NO_BACKEND_HINT = "start the stack with `ktrdr up` (or only a backend: `ktrdr backend`)"


def _reply(msg: Any) -> Any:
    """The decoded reply, or the ApiError its service-error headers describe."""
    headers = msg.headers or {}
    if "Nats-Service-Error-Code" in headers:
        err = msgspec.json.decode(msg.data) if msg.data else {}
        raise ApiError(int(headers["Nats-Service-Error-Code"]), err.get("message") or
                       headers.get("Nats-Service-Error", "error"), field=err.get("field"),
                       hint=err.get("hint"), error=err.get("error", ""))
    return msgspec.json.decode(msg.data)


class KtrdrClient:
    """Requests to `<ns>.api.<area>.<verb>` and subscriptions to operation events."""

    def __init__(self, bus: Bus, timeout: float = 10.0) -> None:
        self.bus, self.timeout = bus, timeout

    async def request(self, area: str, verb: str, payload: Any = None, *, attempts: int = 1) -> Any:
        """Call one endpoint; error replies raise ApiError, silence raises NoBackend.

        With `attempts` > 1 a request that timed out is sent again: a backend that dies holding it (its
        queue-group subscription not yet gone on the server) must not fail the call. Only idempotent calls
        retry — start requests carry a client-made operation id, so a repeat is a no-op.
        """
        body = encode(payload) if payload is not None else b"{}"
        subject = self.bus.names.api(area, verb)
        msg = None
        for attempt in range(attempts):
            try:
                msg = await self._request(subject, body)
                break
            except (NatsTimeout, asyncio.TimeoutError):
                continue
        if msg is None:
            raise NoBackend("no backend answered", hint=NO_BACKEND_HINT)
        return _reply(msg)

    async def _request(self, subject: str, body: bytes) -> Any:
        """One request; 'no responders' is asked again a few times over ~1 s (a backend may be starting)."""
        for delay in (0.1, 0.2, 0.3, 0.4):
            try:
                return await self.bus.mux.request(subject, body, timeout=self.timeout)
            except NoRespondersError:
                await asyncio.sleep(delay)
        raise NoBackend("no backend answered", hint=NO_BACKEND_HINT)

    async def start(self, area: str, payload: Any, verb: str = "start") -> dict[str, Any]:
        """Start an operation (retried safely: the id is chosen here); returns {operation_id, …, warnings}."""
        body = dict(payload)
        body.setdefault("operation_id", new_operation_id(area))
        return await self.request(area, verb, body, attempts=3)

    async def get(self, op_id: str) -> OperationRecord:
        """One operation's record."""
        return msgspec.convert(await self.request("operations", "get", {"operation_id": op_id}, attempts=2),
                               OperationRecord)

    async def list(self, **filters: Any) -> dict[str, Any]:
        """Operations (newest first) with total and active counts."""
        return await self.request("operations", "list", {k: v for k, v in filters.items() if v is not None},
                                  attempts=2)

    async def cancel(self, op_id: str, reason: str = "cancelled by user") -> dict[str, Any]:
        """Cancel an operation."""
        return await self.request("operations", "cancel", {"operation_id": op_id, "reason": reason})

    async def cancel_direct(self, op_id: str, reason: str = "cancelled by user") -> None:
        """Cancel without the backend: a core publish on `cancel.<id>` (what `nats pub` does)."""
        await self.bus.nc.publish(self.bus.names.cancel(op_id), encode(CancelRequest(reason=reason)))

    async def cancel_anyhow(self, op_id: str, reason: str = "cancelled by user") -> dict[str, Any]:
        """Cancel through the backend, else by the bare publish (`published` says so).

        The one thing a client may do without a backend besides reading: every worker stores the intent of
        a published cancel, pending or running. Starting and resuming always need the backend.
        """
        try:
            return await self.cancel(op_id, reason) | {"published": False}
        except NoBackend:
            await self.cancel_direct(op_id, reason)
            return {"operation_id": op_id, "status": "cancel published", "cancel_requested": True, "published": True}

    async def resume(self, op_id: str) -> dict[str, Any]:
        """Resume a failed or cancelled operation from its checkpoint."""
        return await self.request("operations", "resume", {"operation_id": op_id})

    async def metrics(self, op_id: str, cursor: int = 0, limit: int = 200) -> dict[str, Any]:
        """Metric events from a cursor."""
        return await self.request("operations", "metrics", {"operation_id": op_id, "cursor": cursor, "limit": limit})

    async def result(self, op_id: str) -> dict[str, Any]:
        """Result summary and artifacts."""
        return await self.request("operations", "result", {"operation_id": op_id})

    async def workers(self) -> list[dict[str, Any]]:
        """Registered workers."""
        return (await self.request("workers", "list"))["workers"]

    async def health(self) -> dict[str, Any]:
        """Backend health."""
        return await self.request("system", "health")

    async def record(self, op_id: str) -> OperationRecord | None:
        """The record straight from KV (works without a backend)."""
        return await self.bus.ops.find(op_id)

    async def events(self, op_id: str | None = None,
                     on_ready: Any = None) -> AsyncIterator[tuple[str, OperationEvent]]:
        """Live events (all operations, or one), as (subject, event); bad payloads are skipped.

        `on_ready(subject)` is called once the server has the subscription (nothing after that is missed).
        """
        subject = self.bus.names.events_of(op_id) if op_id else self.bus.names.events_all()
        sub = await self.bus.nc.subscribe(subject)
        # shielded: a flush cancelled before its PONG makes nats-py's reader fail on that PONG (Ctrl-C right away)
        await asyncio.shield(flush(self.bus.nc))
        if on_ready is not None:
            on_ready(subject)
        try:
            async for msg in sub.messages:
                try:
                    yield msg.subject, decode_event(msg.data, subject=msg.subject)
                except KtrdrError:
                    continue
        finally:
            await sub.unsubscribe()

    async def follow(self, op_id: str) -> AsyncIterator[OperationRecord]:
        """The record now, then after every change, until it is terminal (children included via the parent)."""
        async for record in watch_bucket(self.bus.ops.kv, OperationRecord, op_id):
            if isinstance(record, OperationRecord):
                yield record
                if record.terminal:
                    return


__all__ = ["ApiError", "KtrdrClient", "NoBackend", "event_kind"]
