"""The API's endpoint implementations: typed request in, msgspec-encodable reply out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from ktrdr.backend.errors import ApiFailure
from ktrdr.backend.index import OperationsIndex
from ktrdr.backend.parents import ParentDriver, create_parent, is_parent
from ktrdr.backend.registry import Registry
from ktrdr.backend.routing import capacity_warning, pool_for
from ktrdr.bus.handle import Bus
from ktrdr.bus.reading import page_stream
from ktrdr.operations import kinds
from ktrdr.operations import submit as ops
from ktrdr.operations import transitions as tr
from ktrdr.operations.params import Step
from ktrdr.operations.record import OperationRecord
from ktrdr.protocol import api
from ktrdr.protocol.codec import decode
from ktrdr.protocol.messages import OperationMetric

MAX_LIST = 1000


class Started(msgspec.Struct, kw_only=True, frozen=True):
    """Reply of every start endpoint."""

    operation_id: str
    type: str
    status: str
    pool: str
    warnings: list[str] = []


def _noted(started: Started, notes: list[Any]) -> Started:
    """The reply with the strategy's warnings (keys accepted without effect) after its own."""
    if not notes:
        return started
    return msgspec.structs.replace(started, warnings=[*started.warnings, *(f"strategy: {n}" for n in notes)])


def summary(r: OperationRecord) -> dict[str, Any]:
    """The list view of a record (no parameters, no result)."""
    return {"id": r.id, "type": r.type, "status": r.status, "pool": r.pool, "worker_id": r.worker_id,
            "attempt": r.attempt, "percentage": r.progress.percentage, "current_step": r.progress.current_step,
            "created_at": r.created_at, "started_at": r.started_at, "finished_at": r.finished_at,
            "parent_id": r.parent_id, "error": r.error.message if r.error else None}


def params_of(req: Any) -> dict[str, Any]:
    """A request's fields as operation parameters (no None values, no operation_id)."""
    return {k: v for k, v in msgspec.to_builtins(req).items() if v is not None and k != "operation_id"}


def check_strategy(text: str, warnings: list[Any] | None = None) -> Any:
    """Validate strategy text; StrategyError (path, suggestion) becomes a 400 naming `strategy_yaml.<path>`.

    Keys accepted without effect are appended to `warnings` (StrategyWarning: path, line, column).
    """
    from ktrdr.strategy import StrategyError, validate_strategy

    try:
        return validate_strategy(text, warnings)
    except StrategyError as exc:
        raise ApiFailure(400, "invalid_strategy", str(exc), field=f"strategy_yaml.{exc.path}",
                         hint=exc.suggestion or "fix the strategy file; `ktrdr validate FILE` checks it") from None


def research_steps(req: Any, cfg: Any) -> list[Step]:
    """A research parent's children: train, then backtest the model that training stored."""
    # The strategy's own held-out period (`backtest.date_range`) comes before the training dates.
    held_out = cfg.backtest.date_range if cfg.backtest and cfg.backtest.date_range else None
    train = {k: v for k, v in params_of(req).items() if k not in ("backtest_start", "backtest_end", "capital")}
    test = {"strategy_yaml": req.strategy_yaml,
            "start": req.backtest_start or (held_out and held_out.start) or req.start,
            "end": req.backtest_end or (held_out and held_out.end) or req.end, "capital": req.capital,
            "symbol": (req.symbols or [None])[0], "timeframe": (req.timeframes or [None])[0]}
    return [Step(type="training", parameters=train, device=req.device, weight=0.8),
            Step(type="backtest", parameters={k: v for k, v in test.items() if v is not None},
                 inputs={"model": "0.artifacts.model"}, weight=0.2)]


@dataclass(frozen=True)
class BackendParts:
    """What the endpoints use of their backend: its bus, views, parent driver and identity."""

    bus: Bus
    registry: Registry
    index: OperationsIndex
    parents: ParentDriver
    backend_id: str
    started: float  # time.monotonic() at start, for the uptime


class Endpoints:
    """One method per (area, verb)."""

    def __init__(self, parts: BackendParts) -> None:
        self.b = parts

    def method(self, area: str, verb: str) -> Callable[[Any], Awaitable[Any]]:
        """The implementation of one endpoint: its own method, else the generic start of a worker kind."""
        own = getattr(self, f"{area}_{verb}", None)
        if own is not None:
            return own
        kind = kinds.get(area)
        return lambda req: self.start(kind, req)

    async def start(self, kind: kinds.OperationKind, req: Any) -> Started:
        """Check the parameters as the worker will (and any inline strategy), then queue the operation."""
        params = params_of(req)
        checked = kind.parse(params)
        notes: list[Any] = []  # the strategy's keys accepted without effect travel back as warnings
        if getattr(checked, "strategy_yaml", None):
            check_strategy(checked.strategy_yaml, notes)
        pool = pool_for(kind.name, getattr(checked, "device", "auto"), self.b.registry)
        record = await ops.submit(self.b.bus, kind.name, pool, params, op_id=req.operation_id)
        warning = capacity_warning(kind.name, pool, self.b.registry)
        return _noted(Started(operation_id=record.id, type=kind.name, status=record.status, pool=pool,
                              warnings=[warning] if warning else []), notes)

    async def pipeline_start(self, req: Any) -> Started:
        """Start a parent operation over explicit steps."""
        if not req.steps:
            raise ApiFailure(400, "invalid", "a pipeline needs at least one step", field="steps")
        workers = [k.name for k in kinds.worker_kinds()]
        for i, step in enumerate(req.steps):
            if step.type not in workers:
                raise ApiFailure(400, "invalid", f"unknown step type {step.type!r}", field=f"steps[{i}].type",
                                 hint=f"use {', '.join(workers)}")
        return await self._parent("pipeline", req.steps, req.operation_id, {"name": req.name})

    async def research_start(self, req: Any) -> Started:
        """Train, then backtest the trained model, as one parent operation."""
        kinds.get("research").parse(params_of(req))  # both periods, before anything is created
        cfg = check_strategy(req.strategy_yaml)
        return await self._parent("research", research_steps(req, cfg), req.operation_id, {})

    async def sweep_start(self, req: Any) -> Started:
        """Validate every variant of the grid (nothing is queued if one is wrong), then start the sweep."""
        from ktrdr.backend.sweeps import sweep_plan

        # up to 256 variants validated: off the event loop, which serves every other request meanwhile
        steps, extra = await asyncio.to_thread(sweep_plan, kinds.get("sweep").parse(params_of(req)))
        return await self._parent("sweep", steps, req.operation_id, extra)

    async def _parent(self, op_type: str, steps: list[Step], op_id: str | None,
                      extra: dict[str, Any]) -> Started:
        record = await create_parent(self.b.bus, op_type, steps, op_id=op_id, extra=extra)
        await self.b.parents.drive(record.id)
        warnings = [w for s in steps if (w := capacity_warning(
            s.type, s.pool or pool_for(s.type, s.device, self.b.registry), self.b.registry))]
        return Started(operation_id=record.id, type=op_type, status=record.status, pool="", warnings=warnings)

    async def operations_get(self, req: api.OperationRef) -> OperationRecord:
        """One operation's full record."""
        return (await self.b.bus.ops.get(req.operation_id))[0]

    async def operations_list(self, req: api.ListOperations) -> dict[str, Any]:
        """Filtered, newest first, paged; with total and active counts."""
        if not 1 <= req.limit <= MAX_LIST:
            raise ApiFailure(400, "invalid", f"limit must be 1..{MAX_LIST}, got {req.limit}", field="limit")
        if req.offset < 0:
            raise ApiFailure(400, "invalid", "offset must be >= 0", field="offset")
        rows = self.b.index.query(status=req.status, types=req.type, active_only=req.active_only)
        active = sum(1 for r in self.b.index.records.values() if r.active)
        return {"operations": [summary(r) for r in rows[req.offset:req.offset + req.limit]],
                "total": len(rows), "active": active}

    async def operations_cancel(self, req: api.CancelOperation) -> dict[str, Any]:
        """Cancel (pending at once; running via its worker; parents with their children)."""
        record = await ops.cancel(self.b.bus, req.operation_id, req.reason, requested_by="api")
        if record.children:
            await self.b.parents.drive(record.id)
        return {"operation_id": record.id, "status": record.status, "cancel_requested": record.cancel_requested}

    async def operations_resume(self, req: api.OperationRef) -> Started:
        """failed|cancelled → resuming, then a new order continuing from the checkpoint (409 if not allowed)."""
        record, _ = await self.b.bus.ops.get(req.operation_id)
        if is_parent(record):
            return await self._resume_parent(record)
        record = await ops.resume(self.b.bus, req.operation_id)
        return Started(operation_id=record.id, type=record.type, status=record.status, pool=record.pool)

    async def _resume_parent(self, parent: OperationRecord) -> Started:
        resumed = await tr.apply(self.b.bus.ops, parent.id, tr.resume())
        assert resumed is not None
        # Children first, the parent back to running last: a drive in between would otherwise see the
        # parent running over children still failed, and settle it failed again.
        for child_id in parent.children:
            child = await self.b.bus.ops.find(child_id)
            if child is not None and child.status in ("failed", "cancelled"):
                if is_parent(child):  # a sweep's research variant
                    await self._resume_parent(child)
                else:
                    await ops.resume(self.b.bus, child_id)
        await tr.apply(self.b.bus.ops, parent.id, tr.restart_parent())
        await self.b.parents.drive(parent.id)
        return Started(operation_id=parent.id, type=parent.type, status="running", pool="")

    async def operations_metrics(self, req: api.GetMetrics) -> dict[str, Any]:
        """Metric events from `cursor` on (stream order); `next_cursor` continues."""
        n, out, seq = self.b.bus.names, [], max(1, req.cursor)
        async for raw in page_stream(self.b.bus.js, n.events_stream, n.event(req.operation_id, "metric"),
                                     start=seq, limit=max(1, min(req.limit, MAX_LIST))):
            event = decode(raw.data or b"", OperationMetric)
            out.append({"seq": raw.seq, "attempt": event.attempt, "name": event.name, "values": event.values,
                        "ts": event.ts})
            seq = raw.seq + 1
        return {"operation_id": req.operation_id, "metrics": out, "next_cursor": seq}

    async def operations_result(self, req: api.OperationRef) -> dict[str, Any]:
        """Status, result summary, artifacts and error."""
        r, _ = await self.b.bus.ops.get(req.operation_id)
        return {"operation_id": r.id, "status": r.status, "result": r.result, "artifacts": r.artifacts,
                "error": msgspec.to_builtins(r.error) if r.error else None}

    async def workers_list(self, req: api.Empty) -> dict[str, Any]:
        """Every registered worker."""
        rows = sorted(self.b.registry.workers.values(), key=lambda w: (w.kind, w.pool, w.worker_id))
        now = time.time_ns()
        return {"workers": [{**msgspec.to_builtins(w), "age_s": round(w.age_s(now), 2)} for w in rows]}

    async def strategies_validate(self, req: api.ValidateStrategy) -> dict[str, Any]:
        """Check a strategy; an invalid one is a 400 naming the YAML path."""
        warnings: list[Any] = []
        cfg = check_strategy(req.strategy_yaml, warnings)
        return {"valid": True, "name": cfg.name, "warnings": [str(w) for w in warnings]}

    async def system_health(self, req: api.Empty) -> dict[str, Any]:
        """Backend identity, uptime, operation and worker counts."""
        counts: dict[str, int] = {}
        for r in self.b.index.records.values():
            counts[r.status] = counts.get(r.status, 0) + 1
        alive = sum(1 for w in self.b.registry.workers.values() if w.alive)
        return {"backend_id": self.b.backend_id, "uptime_s": round(time.monotonic() - self.b.started, 1),
                "namespace": self.b.bus.names.ns, "operations": counts, "workers_alive": alive,
                "workers_registered": len(self.b.registry.workers)}

    async def dead_list(self, req: api.Empty) -> dict[str, Any]:
        """Orders that exhausted their deliveries."""
        n, out = self.b.bus.names, []
        async for raw in page_stream(self.b.bus.js, n.dead_stream, n.dead_all(), limit=MAX_LIST):
            headers = raw.headers or {}
            out.append({"seq": raw.seq, "subject": headers.get("Ktrdr-Subject", raw.subject),
                        "reason": headers.get("Ktrdr-Reason", ""), "order": msgspec.json.decode(raw.data or b"{}")})
        return {"entries": out}
