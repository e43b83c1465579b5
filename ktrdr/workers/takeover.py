"""Before a redelivery takes over a running record, read the events log: its attempt may have finished."""

from __future__ import annotations

from nats.js.errors import NotFoundError

from ktrdr.bus.handle import Bus
from ktrdr.errors import ProtocolError
from ktrdr.operations import transitions as tr
from ktrdr.operations.aggregator import fold
from ktrdr.protocol.codec import decode_event
from ktrdr.protocol.messages import TERMINAL_EVENTS


async def settle_from_log(bus: Bus, op_id: str) -> bool:
    """True when the record was running but the log holds that attempt's terminal event (now folded in)."""
    record = await bus.ops.find(op_id)
    if record is None or record.status != "running":
        return False
    for kind in TERMINAL_EVENTS:
        try:
            raw = await bus.js.get_msg(bus.names.events_stream, subject=bus.names.event(op_id, kind))
            event = decode_event(raw.data or b"")
        except (NotFoundError, ProtocolError):
            continue
        if event.attempt == record.attempt:
            await tr.apply(bus.ops, op_id, fold([event]))
            return True
    return False
