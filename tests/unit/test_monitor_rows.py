"""What the monitor shows of one operation: a step cell that never pushes columns away, progress stamped when it moved,
and completed operations without stale step text."""

from __future__ import annotations

import msgspec

from ktrdr.operations import transitions as tr
from ktrdr.operations.aggregator import fold_one
from ktrdr.operations.record import ErrorInfo, new_record
from ktrdr.protocol.messages import OperationCompleted, OperationProgress
from tui.render import STEP_WIDTH, operation_cells


def running(op_type: str = "dummy"):
    """A running record at attempt 1."""
    return msgspec.structs.replace(new_record(op_type, "cpu", {}), status="running", attempt=1, created_at=1,
                                   updated_at=1)


def test_a_long_failure_message_is_cut_with_an_ellipsis() -> None:
    message = "could not read the series: " + "x" * 500
    failed = msgspec.structs.replace(running(), status="failed", error=ErrorInfo(code="DataError", message=message))
    step = operation_cells(failed)[4]
    assert len(step.plain) == STEP_WIDTH and step.plain.endswith("…") and message.startswith(step.plain[:-1])
    assert failed.error.message == message  # the record (and the detail view) keep it whole


def test_progress_moves_the_records_timestamp() -> None:
    r = running()
    stamps = []
    for seq, ts in ((1, 1_000), (2, 5_000), (3, 9_000)):
        r = fold_one(r, OperationProgress(operation_id=r.id, seq=seq, ts=ts, percentage=seq * 10.0,
                                          current_step=f"step {seq}"))
        stamps.append(r.updated_at)
    assert stamps == sorted(stamps) and len(set(stamps)) == 3


def test_a_completed_operation_drops_its_step_text() -> None:
    r = fold_one(running("backtest"), OperationProgress(operation_id="x", seq=1, ts=5, percentage=97.0,
                                                        current_step="backtest: storing results"))
    done = fold_one(r, OperationCompleted(operation_id=r.id, seq=2, ts=6, result={"ok": 1}))
    assert done.status == "completed" and done.progress.current_step == "" and done.progress.percentage == 100.0
    failed = tr.finished(r, 1, "failed", error=ErrorInfo(code="E", message="m"))
    assert failed.progress.current_step == "backtest: storing results"  # where it stopped stays visible
