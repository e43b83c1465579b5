"""The `dummy` operation: steps that sleep or burn CPU, optional failure, optional deafness to cancel."""

from __future__ import annotations

import json
import time
from typing import Any

from ktrdr.errors import KtrdrError
from ktrdr.operations import kinds
from ktrdr.operations.params import DummyParams
from ktrdr.workers.context import OperationContext

class DummyFailure(KtrdrError, RuntimeError):
    """The failure a dummy operation was asked to raise."""


def parse_params(parameters: dict[str, Any]) -> DummyParams:
    """Validate dummy parameters, naming the bad field."""
    return kinds.get("dummy").parse(parameters)


def _burn(seconds: float) -> None:
    """Hold the CPU (and the GIL) in pure Python for `seconds`."""
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        for i in range(2000):
            x += i * i


def run_dummy(ctx: OperationContext) -> dict[str, Any]:
    """Run the dummy steps with progress, checkpoints after each step, and cancellation checks."""
    p = parse_params(ctx.parameters)
    start = 0
    if ctx.resume and (saved := ctx.checkpointer.load()):
        start = json.loads(saved)["step"]
    for step in range(start, p.steps):
        if not p.ignore_cancel:
            ctx.cancel.check()
        if p.fail_at is not None and step == p.fail_at:
            raise DummyFailure(f"failed at step {step} as asked (fail_at={p.fail_at})")
        if p.cpu_burn:
            _burn(p.step_seconds)
        elif p.ignore_cancel:
            time.sleep(p.step_seconds)
        elif ctx.cancel.wait(p.step_seconds):
            ctx.cancel.check()
        ctx.checkpointer.save(json.dumps({"step": step + 1}).encode())
        ctx.progress.update(percentage=100.0 * (step + 1) / p.steps, current_step=f"step {step + 1}/{p.steps}",
                            steps_completed=step + 1, steps_total=p.steps)
    return {"steps": p.steps, "resumed_from": start, "attempt": ctx.attempt}
