"""Sweep parents: one child per variant, at most `max_parallel` in flight, settled into a ranking.

Unlike research and pipelines, a sweep's children run side by side and do not depend on each other:
a failed child is a row of the ranking, and the sweep fails only when every child failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from ktrdr.backend.parents import child_id, create_parent
from ktrdr.operations import transitions as tr
from ktrdr.operations.params import SWEEP_METRICS, ResearchParams, Step, SweepParams, sweep_metric
from ktrdr.operations.record import OperationRecord, Progress
from ktrdr.operations.submit import submit
from ktrdr.protocol.messages import ErrorInfo

if TYPE_CHECKING:
    from ktrdr.backend.parents import ParentDriver

Children = list[OperationRecord | None]


def sweep_plan(p: SweepParams) -> tuple[list[Step], dict[str, Any]]:
    """Every variant expanded and validated (a bad path or value is a 400 naming it), as steps and parameters."""
    from ktrdr.backend.errors import ApiFailure
    from ktrdr.operations import kinds
    from ktrdr.strategy import StrategyError
    from ktrdr.strategy.sweep_grid import Axis, expand

    try:
        variants = expand(p.strategy_yaml, [Axis(a.path, tuple(a.values)) for a in p.sets], p.samples, p.seed)
    except StrategyError as exc:
        raise ApiFailure(400, "invalid_sweep", exc.message, field=f"sets.{exc.path}" if exc.path else "sets",
                         hint=exc.suggestion or "check the --set paths against the strategy file") from None
    child = "research" if p.backtest else "training"
    # The sweep's research fields that the child kind takes (a training child has no backtest dates).
    fields = set(kinds.get(child).params.__struct_fields__) & set(ResearchParams.__struct_fields__)
    common = {k: getattr(p, k) for k in sorted(fields - {"strategy_yaml"}) if getattr(p, k) is not None}
    for _, text in variants:  # the child's own checks, so no child can be refused once queued
        kinds.get(child).parse({**common, "strategy_yaml": text})
    steps = [Step(type=child, parameters=common, device=p.device) for _ in variants]
    extra = {"strategy_yaml": p.strategy_yaml, "variants": [o for o, _ in variants], "metric": sweep_metric(p),
             "max_parallel": p.max_parallel, "backtest": p.backtest, "seed": p.seed, "samples": p.samples,
             "sets": [msgspec.to_builtins(a) for a in p.sets]}
    return steps, extra


def variant_text(parent: OperationRecord, index: int) -> str:
    """Variant `index`'s strategy: the sweep's strategy with that variant's overrides (checked at start)."""
    from ktrdr.strategy.loader import read_source
    from ktrdr.strategy.sweep_grid import variant_yaml

    params = parent.parameters
    return variant_yaml(read_source(params["strategy_yaml"]), params["variants"][index], f"variant {index}")


async def drive_sweep(driver: ParentDriver, parent: OperationRecord) -> None:
    """Fill free slots with the next variants, keep progress, settle once every child has ended."""
    steps = [msgspec.convert(s, Step) for s in parent.parameters.get("steps", [])]
    children: Children = [await _child(driver, child_id(parent, i, s.type)) for i, s in enumerate(steps)]
    if parent.terminal or parent.cancel_requested:  # rare: read the children fresh, a stale one may have ended
        await driver.cancel_children(parent, [await driver.bus.ops.find(c.id) if c else None for c in children])
        return
    await _progress(driver, parent, children)
    free = int(parent.parameters.get("max_parallel", 4)) - sum(1 for c in children if c is not None and c.active)
    for i, (step, child) in enumerate(zip(steps, children)):
        if free <= 0:
            break
        if child is None:
            await _submit(driver, parent, i, step)
            free -= 1
    if all(c is not None and c.terminal for c in children):
        # The index may lag a resume that just reopened children: settle on what the bucket says now.
        fresh = [await driver.bus.ops.find(c.id) for c in children if c is not None]
        if all(c is not None and c.terminal for c in fresh):
            await _settle(driver, parent, [c for c in fresh if c is not None])


async def _child(driver: ParentDriver, op_id: str) -> OperationRecord | None:
    """From the backend's in-memory index (every child change drives the sweep: N KV reads each would
    cost O(N²) per sweep); the bucket only for a child the index has not seen yet."""
    return driver.index.records.get(op_id) or await driver.bus.ops.find(op_id)


async def _submit(driver: ParentDriver, parent: OperationRecord, i: int, step: Step) -> None:
    params = {**step.parameters, "strategy_yaml": variant_text(parent, i)}
    op_id = child_id(parent, i, step.type)
    if step.type == "research":  # a parent itself: built like `ktrdr research` builds it
        from ktrdr.backend.endpoints import research_steps
        from ktrdr.operations import kinds

        from ktrdr.strategy import validate_strategy

        steps = research_steps(kinds.get("research").parse(params), validate_strategy(params["strategy_yaml"]))
        child = await create_parent(driver.bus, "research", steps, op_id=op_id, parent_id=parent.id)
        await tr.apply(driver.bus.ops, parent.id, tr.add_child(child.id))
        await driver.drive(child.id)
        return
    pool = step.pool or driver.pool_for(step.type, step.device)  # GPU first, as for any training
    child = await submit(driver.bus, step.type, pool, params, op_id=op_id, parent_id=parent.id)
    await tr.apply(driver.bus.ops, parent.id, tr.add_child(child.id))


async def _progress(driver: ParentDriver, parent: OperationRecord, children: Children) -> None:
    """Progress is the share of children that have ended; the step names the running ones."""
    done = sum(1 for c in children if c is not None and c.terminal)
    running = sum(1 for c in children if c is not None and c.active)
    pct = round(100.0 * done / max(1, len(children)), 2)
    step = f"{done}/{len(children)} variants done, {running} running"
    if pct != parent.progress.percentage or step != parent.progress.current_step:
        progress = Progress(percentage=pct, current_step=step, steps_completed=done, steps_total=len(children))
        await tr.apply(driver.bus.ops, parent.id, tr.set_progress(progress))


def child_metrics(child: OperationRecord) -> dict[str, float | None]:
    """Every sweep metric a finished child reports (research nests training and backtest results)."""
    res = child.result or {}
    training = res.get("training", {}) if child.type == "research" else res
    fit = training.get("training", {})
    test = (res.get("backtest") or {}).get("metrics", {}) if child.type == "research" else {}
    return {"val_loss": fit.get("best_val_loss"), "val_accuracy": (fit.get("final") or {}).get("val_accuracy"),
            "test_accuracy": (training.get("test") or {}).get("accuracy"),
            "sharpe": test.get("sharpe_ratio"), "return": test.get("total_return_pct"),
            "drawdown": test.get("max_drawdown_pct")}


def ranking(parent: OperationRecord, children: list[OperationRecord]) -> dict[str, Any]:
    """The sweep's result: variants ranked by the metric (best first), then those without a value."""
    metric = parent.parameters["metric"]
    better = SWEEP_METRICS[metric][0]
    rows = []
    for i, child in enumerate(children):  # children in variant order
        values = child_metrics(child) if child.status == "completed" else {}
        rows.append({"variant": i, "overrides": parent.parameters["variants"][i], "child_id": child.id,
                     "status": child.status, "value": values.get(metric), "metrics": values,
                     "model": child.artifacts.get("model"), "error": child.error.message if child.error else None})
    scored = sorted((r for r in rows if r["value"] is not None), key=lambda r: r["value"], reverse=better == "max")
    ranked = scored + [r for r in rows if r["value"] is None]
    for rank, row in enumerate(ranked, 1):
        row["rank"] = rank if row["value"] is not None else None
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("completed", "failed", "cancelled")}
    return {"metric": metric, "better": better, "variants": len(rows), **counts,
            "best": scored[0] if scored else None, "ranking": ranked}


async def _settle(driver: ParentDriver, parent: OperationRecord, children: list[OperationRecord]) -> None:
    """Completed when any child completed; failed when all failed; else cancelled."""
    result = ranking(parent, children)
    if result["completed"]:
        best = result["best"]
        artifacts = {"best_model": best["model"]} if best and best["model"] else {}
        await tr.apply(driver.bus.ops, parent.id, tr.finish(parent.attempt, "completed", result=result,
                                                            artifacts=artifacts))
        return
    status = "failed" if result["failed"] == len(children) else "cancelled"
    first = next((c.error for c in children if c.error), None)
    error = ErrorInfo(code=status, message=f"every variant {'failed' if status == 'failed' else 'ended'}"
                                           + (f"; first error: {first.message}" if first else ""))
    await tr.apply(driver.bus.ops, parent.id, tr.finish(parent.attempt, status, result=result, error=error))

