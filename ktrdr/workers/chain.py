"""Each slot's pull for its next order, sent the moment its handler returns.

A worker that acks an order and then pulls the next, or asks for the next with the ack (`+NXT`), holds its slot
idle while the finished operation's record is written: a server round trip per operation. Here the slot pulls
when the handler returns, while that record is written, and the ack follows once the record is in. The slot
is free by then, so it never counts for an order it could not start; the next handler still starts only after
the records are written (see `Execution._records_written`), so a crash costs no more runs than before.
JetStream delivers an order under its own subject, so each slot's pull has a reply subscription of its own,
made at start and reused by the slot's next pull once one is answered. An order that arrives when nothing waits
on its subscription (its pull given up, or the worker stopping) is nak'd at once, for another worker to take.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg

from ktrdr.bus.pull import GRACE_S

log = logging.getLogger("ktrdr.workers.chain")


class Chain:
    """The pulls of one worker's slots, each waiting for at most one order."""

    def __init__(self, nc: Client, size: int, stream: str, consumer: str) -> None:
        self.nc, self.size = nc, size
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._waiting: dict[str, tuple[asyncio.Future[Msg | None], asyncio.TimerHandle]] = {}
        self._free: list[str] = []  # reply subjects no pull waits on
        self._subs: list[Any] = []
        self.closed = False

    async def start(self) -> None:
        """One reply subscription per slot."""
        for _ in range(self.size):
            self._free.append(await self._subscribe())

    def give_up(self) -> None:
        """Answer every waiting pull with None (orders they bring later are nak'd) and start no more."""
        self.closed = True
        for inbox in list(self._waiting):
            self._resolve(inbox, None)

    async def close(self) -> None:
        """Give up and unsubscribe."""
        self.give_up()
        for sub in self._subs:
            if not self.nc.is_closed:
                await sub.unsubscribe()
        self._subs.clear()

    async def pull(self, expires_s: float) -> asyncio.Future[Msg | None] | None:
        """Ask for the next order: a future of it (None when none came within `expires_s`); None once closed."""
        if self.closed or not self._free:
            return None
        inbox = self._free.pop()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Msg | None] = loop.create_future()
        self._waiting[inbox] = fut, loop.call_later(expires_s + GRACE_S, self._resolve, inbox, None)
        request = json.dumps({"batch": 1, "expires": int(expires_s * 1e9)})
        try:
            await self.nc.publish(self._subject, request.encode(), reply=inbox)
        except Exception:
            self._resolve(inbox, None)
            raise
        return fut

    async def _subscribe(self) -> str:
        inbox = self.nc.new_inbox()

        async def on_msg(msg: Msg) -> None:
            is_order = bool(msg.reply)  # JetStream's statuses (408 expired, 409 …) carry no ack subject
            if not self._resolve(inbox, msg if is_order else None) and is_order:
                log.debug("an order came after its pull was given up: nak, for another worker")
                await msg.nak()

        self._subs.append(await self.nc.subscribe(inbox, cb=on_msg))
        return inbox

    def _resolve(self, inbox: str, msg: Msg | None) -> bool:
        """Hand `msg` to the pull waiting on `inbox`; False when none waits there."""
        waiting = self._waiting.pop(inbox, None)
        if waiting is None:
            return False
        fut, timer = waiting
        timer.cancel()
        if not fut.done():
            fut.set_result(msg)
        if not self.closed:
            self._free.append(inbox)
        return True
