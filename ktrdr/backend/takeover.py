"""Fast takeover: a running operation whose worker the registry knows is gone goes to another worker now.

Without this, the order of a SIGKILLed worker waits out JetStream's ack wait before it is redelivered. The
registry knows sooner (3 missed heartbeats, or none heard at all in that time), so the backend naks the lost
delivery itself: JetStream redelivers it at once, the next claim takes over as attempt + 1, and that claim fences
the lost attempt off for good (its events are ignored, its record writes skip, it never acks). A worker that is
only slow keeps heartbeating and is never marked unavailable, so it keeps its work. The ack subject is cleared by
compare-and-set before the nak, so of several backends (or sweeps) exactly one naks each delivery.
"""

from __future__ import annotations

import logging

from ktrdr.backend.index import OperationsIndex
from ktrdr.backend.registry import Registry
from ktrdr.bus.handle import Bus
from ktrdr.operations import transitions as tr
from ktrdr.operations.store import OperationNotFound

log = logging.getLogger("ktrdr.backend.takeover")
NAK = b"-NAK"


async def take_over_lost(bus: Bus, index: OperationsIndex, registry: Registry) -> list[str]:
    """Nak the running deliveries of lost workers so another worker claims them; the ids moved.

    Records without an ack subject are skipped: parents (the backend runs them), claims by workers from before
    ack subjects were recorded, and deliveries already released.
    """
    moved = []
    for record in [r for r in index.records.values() if r.status == "running" and r.ack_subject
                   and registry.lost(r.worker_id)]:
        try:
            released = await tr.apply(bus.ops, record.id, tr.release_lost(record.worker_id, record.ack_subject))
        except OperationNotFound:
            continue
        if released is None:
            continue  # another backend released it, or it moved on meanwhile
        await bus.nc.publish(record.ack_subject, NAK)
        log.warning("worker %s is unavailable: %s (attempt %d) handed to another worker", record.worker_id,
                    record.id, record.attempt)
        moved.append(record.id)
    return moved
