"""GPU first: pick the training pool, and move orders that waited too long in `gpu` to an idle CPU worker."""

from __future__ import annotations

import logging
import time

from ktrdr.backend.index import OperationsIndex
from ktrdr.backend.registry import Registry
from ktrdr.bus.handle import Bus
from ktrdr.operations import kinds
from ktrdr.operations.submit import redispatch

log = logging.getLogger("ktrdr.backend.routing")


def pool_for(op_type: str, device: str, registry: Registry) -> str:
    """The pool an operation goes to: a device naming one of its pools wins; auto: gpu when a GPU worker lives."""
    kind = kinds.get(op_type)
    if device in kind.pools:
        return device
    if "gpu" in kind.pools and registry.alive(op_type, "gpu"):
        return "gpu"
    return kind.default_pool


def capacity_warning(op_type: str, pool: str, registry: Registry) -> str | None:
    """A warning when no live worker serves (type, pool): the order is queued anyway."""
    if registry.alive(op_type, pool):
        return None
    registered = registry.count(op_type, pool)
    flag = " --pool gpu" if pool == "gpu" else ""
    return (f"no live {op_type} worker in pool {pool!r} ({registered} registered); the operation is queued and "
            f"starts when one joins — start one with `{kinds.get(op_type).start_hint}{flag}`")


async def move_waiting_gpu_orders(bus: Bus, index: OperationsIndex, registry: Registry) -> list[str]:
    """Re-route training orders pending in `gpu` longer than gpu_wait_s while a CPU training worker is idle."""
    idle_cpu = [w for w in registry.alive("training", "cpu") if w.status == "available" and not w.running]
    if not idle_cpu:
        return []
    cutoff = time.time_ns() - int(bus.settings.gpu_wait_s * 1e9)
    moved = []
    for record in index.query(status=["pending"], types=["training"]):
        if record.pool == "gpu" and record.updated_at < cutoff and len(moved) < len(idle_cpu):
            if await redispatch(bus, record.id, pool="cpu") is not None:
                log.info("moved %s from gpu to cpu after %.0fs waiting", record.id, bus.settings.gpu_wait_s)
                moved.append(record.id)
    return moved
