"""Parent operations: children run in order; progress is their weighted progress; failure and cancel propagate."""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Callable

import msgspec

from ktrdr.backend.index import OperationsIndex
from ktrdr.bus.handle import Bus
from ktrdr.operations import transitions as tr
from ktrdr.operations.record import OperationRecord, Progress, new_record
from ktrdr.operations.store import Conflict
from ktrdr.operations.submit import cancel, submit
from ktrdr.operations.params import Step
from ktrdr.protocol.messages import ErrorInfo

log = logging.getLogger("ktrdr.backend.parents")
PoolFor = Callable[[str, str], str]


def child_id(parent: OperationRecord, index: int, op_type: str) -> str:
    """A deterministic id, so every backend driving the parent submits the same child (at most once)."""
    stamp = "_".join(parent.id.split("_")[2:4])
    digest = hashlib.sha1(f"{parent.id}/{index}".encode()).hexdigest()[:8]
    return f"op_{op_type}_{stamp}_{digest}"


def is_parent(record: OperationRecord) -> bool:
    """A record the backend drives (research, pipeline, sweep) rather than a worker."""
    return "steps" in record.parameters and record.worker_id == "backend"


async def create_parent(bus: Bus, op_type: str, steps: list[Step], *, op_id: str | None = None,
                        extra: dict[str, Any] | None = None, parent_id: str | None = None) -> OperationRecord:
    """A parent record, running from the start (the backend drives it; no worker claims it)."""
    params = {"steps": [msgspec.to_builtins(s) for s in steps], **(extra or {})}
    record = new_record(op_type, "", params, op_id=op_id, parent_id=parent_id)
    record = tr.driven_by_backend(record)
    try:
        await bus.ops.create(record)
    except Conflict:
        return (await bus.ops.get(record.id))[0]
    return record


class ParentDriver:
    """Advances parents when a child changes; idempotent, so every backend may drive every parent."""

    def __init__(self, bus: Bus, index: OperationsIndex, pool_for: PoolFor) -> None:
        self.bus, self.index, self.pool_for = bus, index, pool_for

    async def on_change(self, record: OperationRecord) -> None:
        """Index listener: a child or a parent changed."""
        if record.parent_id:
            await self.drive(record.parent_id)
        if is_parent(record):  # a parent may itself be a child (a sweep's research variants)
            await self.drive(record.id)

    async def drive(self, parent_id: str) -> None:
        """Submit the next child, or settle the parent from its children."""
        parent = await self.bus.ops.find(parent_id)
        if parent is None:
            return
        if parent.type == "sweep":  # children side by side, not in order
            from ktrdr.backend.sweeps import drive_sweep

            await drive_sweep(self, parent)
            return
        steps = [msgspec.convert(s, Step) for s in parent.parameters.get("steps", [])]
        children = [await self.bus.ops.find(child_id(parent, i, s.type)) for i, s in enumerate(steps)]
        if parent.terminal or parent.cancel_requested:
            await self.cancel_children(parent, children)
            return
        await self._update_progress(parent, steps, children)
        for i, (step, child) in enumerate(zip(steps, children)):
            if child is None:
                await self._submit_child(parent, i, step, children)
                return
            if child.status in ("failed", "cancelled"):
                await self._settle(parent, child.status, child)
                return
            if child.status != "completed":
                return
        await self._settle(parent, "completed", None, children)

    async def _submit_child(self, parent: OperationRecord, i: int, step: Step,
                            children: list[OperationRecord | None]) -> None:
        params = dict(step.parameters)
        for key, ref in step.inputs.items():  # e.g. {"model": "0.artifacts.model"}
            src, section, name = ref.split(".", 2)
            done = children[int(src)]
            params[key] = getattr(done, section).get(name) if done else None
        pool = step.pool or self.pool_for(step.type, step.device)
        child = await submit(self.bus, step.type, pool, params, op_id=child_id(parent, i, step.type),
                             parent_id=parent.id)
        await tr.apply(self.bus.ops, parent.id, tr.add_child(child.id))

    async def _update_progress(self, parent: OperationRecord, steps: list[Step],
                               children: list[OperationRecord | None]) -> None:
        total = sum(s.weight for s in steps) or 1.0
        done = sum(s.weight * (c.progress.percentage if c else 0.0) for s, c in zip(steps, children)) / total
        current = next((c for c in children if c is not None and c.active), None)
        step = f"{current.type}: {current.progress.current_step}" if current else parent.progress.current_step
        if abs(done - parent.progress.percentage) >= 0.5 or step != parent.progress.current_step:
            completed = sum(1 for c in children if c is not None and c.status == "completed")
            progress = Progress(percentage=round(done, 2), current_step=step, steps_completed=completed,
                                steps_total=len(steps))
            await tr.apply(self.bus.ops, parent.id, tr.set_progress(progress))

    async def _settle(self, parent: OperationRecord, status: str, failed_child: OperationRecord | None,
                      children: list[OperationRecord | None] | None = None) -> None:
        if status == "completed":
            result = {c.type: c.result for c in children or [] if c is not None}
            artifacts = {k: v for c in children or [] if c is not None for k, v in c.artifacts.items()}
            await tr.apply(self.bus.ops, parent.id, tr.finish(parent.attempt, "completed", result=result,
                                                              artifacts=artifacts))
            return
        assert failed_child is not None
        error = failed_child.error or ErrorInfo(code=status, message=f"child {failed_child.id} {status}")
        if status == "failed":
            error = ErrorInfo(code=error.code, message=f"{failed_child.type} step failed: {error.message}")
        await tr.apply(self.bus.ops, parent.id, tr.finish(parent.attempt, status, error=error))

    async def cancel_children(self, parent: OperationRecord, children: list[OperationRecord | None]) -> None:
        """Cancel the active children; the parent ends `cancelled` once none is active."""
        for child in children:
            if child is not None and child.active and not child.cancel_requested:
                try:
                    await cancel(self.bus, child.id, reason=f"parent {parent.id} cancelled")
                except tr.IllegalTransition:  # it ended meanwhile (another drive of this parent cancelled it)
                    pass
        if parent.cancel_requested and not parent.terminal and not any(c and c.active for c in children):
            await tr.apply(self.bus.ops, parent.id, tr.finish(parent.attempt, "cancelled"))

