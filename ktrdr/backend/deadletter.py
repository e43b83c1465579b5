"""Dead letters: on MAX_DELIVERIES, fail the operation with a reason and move its order to the dead stream."""

from __future__ import annotations

import json
import logging
from typing import Any

from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from ktrdr.bus.handle import Bus
from ktrdr.errors import ProtocolError
from ktrdr.operations import transitions as tr
from ktrdr.operations.store import OperationNotFound
from ktrdr.protocol.codec import decode
from ktrdr.protocol.messages import WorkOrder

log = logging.getLogger("ktrdr.backend.dead")
ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"


class DeadLetters:
    """Listens to max-deliveries advisories of the work stream (queue group: one backend handles each)."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.handled = 0
        self._sub: Any = None

    async def start(self) -> None:
        """Subscribe to the advisories."""
        subject = f"{ADVISORY}.{self.bus.names.work_stream}.*"
        self._sub = await self.bus.nc.subscribe(subject, queue="dead-letters", cb=self._on_advisory)

    async def stop(self) -> None:
        """Unsubscribe."""
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def _on_advisory(self, msg: Msg) -> None:
        try:
            advisory = json.loads(msg.data)
            await self.bury(int(advisory["stream_seq"]), int(advisory.get("deliveries", 0)))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("unreadable max-deliveries advisory: %s", exc)

    async def bury(self, seq: int, deliveries: int) -> None:
        """Fail the order's operation, copy the order to the dead stream, delete it from the work stream."""
        stream = self.bus.names.work_stream
        try:
            raw = await self.bus.js.get_msg(stream, seq)
        except NotFoundError:
            return  # another backend got there first
        reason, order = self._reason(raw.data or b"", deliveries)
        if order is not None:
            record = await self.bus.ops.find(order.operation_id)
            if record is not None and record.worker_id:
                reason += f"; last worker {record.worker_id} (attempt {record.attempt})"
            if record is not None and record.error is not None:
                reason += f"; last error: {record.error.message}"
            try:
                await tr.apply(self.bus.ops, order.operation_id, tr.fail_now("max_deliveries", reason))
            except OperationNotFound:
                pass
        op_type, pool = (raw.subject or "x.work.unknown.unknown").split(".")[-2:]
        await self.bus.js.publish(self.bus.names.dead(op_type, pool), raw.data or b"",
                                  headers={"Ktrdr-Reason": reason, "Ktrdr-Subject": raw.subject or ""})
        await self.bus.js.delete_msg(stream, seq)
        self.handled += 1
        log.warning("dead-lettered %s: %s", order.operation_id if order else f"seq {seq}", reason)

    def _reason(self, data: bytes, deliveries: int) -> tuple[str, WorkOrder | None]:
        try:
            order = decode(data, WorkOrder)
        except ProtocolError:
            return f"unreadable order delivered {deliveries} times", None
        return (f"gave up after {deliveries} deliveries (max_deliver={self.bus.settings.max_deliver}); "
                "see the worker logs"), order
