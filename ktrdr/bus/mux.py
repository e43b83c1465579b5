"""Requests and acked JetStream publishes multiplexed on one reply subscription: the round trip of every hot path.

nats-py's `request` (and `js.publish`, built on it) spends per call a random token read from the OS and a
response future inside `asyncio.wait_for` (one more loop turn and a timer), and `js.publish` parses its ack
into a dataclass through `json`. Every operation makes an API request and five acked publishes in sequence
(record, order, claim, terminal event, terminal record), and the aggregator thousands per second. Here the token is a counter, the ack is decoded by msgspec, and a timer
handle replaces `wait_for`: half the client CPU per publish with many in flight, a fifth less one at a
time (bench/bench_mux.py). The errors are nats-py's own, so retries and compare-and-set handling are unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import APIError, KeyWrongLastSequenceError, NoStreamResponseError

__all__ = ["PubAck", "RequestMux"]
NO_RESPONDERS = "503"
WRONG_LAST_SEQUENCE = (10071, 10164)  # JetStream's error codes for a failed compare-and-set


class _Error(msgspec.Struct):
    code: int = 0
    err_code: int = 0
    description: str = ""


class PubAck(msgspec.Struct):
    """The server's acknowledgement of a stored message."""

    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    error: _Error | None = None


_decode_ack = msgspec.json.Decoder(PubAck).decode


class RequestMux:
    """One connection's requests: each waits for its own reply on `<inbox>.<n>`."""

    def __init__(self, nc: Client, timeout: float = 5.0) -> None:
        self.nc, self.timeout = nc, timeout
        self._pending: dict[str, tuple[asyncio.Future[Msg], asyncio.TimerHandle]] = {}
        self._prefix = ""
        self._next = 0
        self._sub: Any = None
        self._starting = asyncio.Lock()

    async def _start(self) -> None:
        """Subscribe the reply inbox (once; nats-py re-subscribes it after a reconnect)."""
        async with self._starting:
            if self._sub is None:
                prefix = f"{self.nc.new_inbox()}."
                self._sub = await self.nc.subscribe(f"{prefix}*", cb=self._on_ack)
                self._prefix = prefix

    async def _on_ack(self, msg: Msg) -> None:
        waiting = self._pending.pop(msg.subject[len(self._prefix):], None)
        if waiting is not None:
            fut, timer = waiting
            timer.cancel()
            if not fut.done():
                fut.set_result(msg)

    def _expire(self, token: str) -> None:
        fut, _ = self._pending.pop(token, (None, None))
        if fut is not None and not fut.done():
            fut.set_exception(nats.errors.TimeoutError())

    async def send(self, subject: str, payload: bytes, headers: dict[str, str] | None = None,
                   timeout: float | None = None) -> asyncio.Future[Msg]:
        """Publish with a reply subject of its own; the future of the reply (nats-py's TimeoutError if none).

        Many sends can be awaited together (asyncio.gather on the futures): no task per request. A future given
        up on is forgotten when its timer fires.
        """
        if self._sub is None:
            await self._start()
        loop = asyncio.get_running_loop()
        self._next += 1
        token = str(self._next)
        fut: asyncio.Future[Msg] = loop.create_future()
        self._pending[token] = fut, loop.call_later(timeout or self.timeout, self._expire, token)
        try:
            await self.nc.publish(subject, payload, reply=f"{self._prefix}{token}", headers=headers)
        except BaseException:
            self._pending.pop(token)[1].cancel()
            raise
        return fut

    async def request(self, subject: str, payload: bytes, headers: dict[str, str] | None = None,
                      timeout: float | None = None) -> Msg:
        """The reply; nats-py's NoRespondersError when nobody listens, its TimeoutError when nobody answers."""
        return _answered(await (await self.send(subject, payload, headers, timeout)))

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str] | None = None,
                      timeout: float | None = None) -> PubAck:
        """Store one message and return the server's ack; raises nats-py's errors (TimeoutError, APIError, …)."""
        return _stored(await (await self.send(subject, payload, headers, timeout)))

    async def update(self, subject: str, payload: bytes, last: int) -> int:
        """A compare-and-set write (a KV update, or a create with `last=0`); the new revision."""
        return (await self.publish(subject, payload, _expecting(last))).seq

    async def update_many(self, writes: list[tuple[str, bytes, int]]) -> list[int | Exception]:
        """Many compare-and-set writes in flight at once: each one's new revision, or its exception."""
        futs = [await self.send(subject, payload, _expecting(last)) for subject, payload, last in writes]
        replies = await asyncio.gather(*futs, return_exceptions=True)
        return [reply if isinstance(reply, Exception) else _revision(reply) for reply in replies]


def _expecting(last: int) -> dict[str, str]:
    """The compare-and-set header: the subject's last sequence must still be `last` (0: no message yet)."""
    return {"Nats-Expected-Last-Subject-Sequence": str(last)}


def _revision(msg: Msg) -> int | Exception:
    """The new revision an update's reply reports, or the exception for what it said instead."""
    try:
        return _stored(msg).seq
    except (APIError, NoStreamResponseError) as exc:
        return exc


def _stored(msg: Msg) -> PubAck:
    """The ack in a publish's reply; NoStreamResponseError when no stream listens on the subject."""
    try:
        return _checked(_answered(msg))
    except nats.errors.NoRespondersError:
        raise NoStreamResponseError from None


def _answered(msg: Msg) -> Msg:
    """`msg`, unless it is the server's "no responders" status."""
    if not msg.data and msg.headers and msg.headers.get("Status") == NO_RESPONDERS:
        raise nats.errors.NoRespondersError
    return msg


def _checked(msg: Msg) -> PubAck:
    """The ack in `msg`, or nats-py's exception for what the server said instead."""
    try:
        ack = _decode_ack(msg.data)
    except msgspec.DecodeError as exc:  # something other than JetStream answered on the subject
        raise APIError(description=f"unreadable JetStream ack on {msg.subject}: {exc}") from None
    if ack.error is not None:
        if ack.error.err_code in WRONG_LAST_SEQUENCE:
            raise KeyWrongLastSequenceError(description=ack.error.description)
        raise APIError.from_error(msgspec.to_builtins(ack.error))
    return ack
