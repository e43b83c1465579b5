"""The state machine and the event fold, without NATS."""

from __future__ import annotations

import pytest

from ktrdr.operations import transitions as tr
from ktrdr.operations.aggregator import fold, fold_one
from ktrdr.operations.record import OperationRecord, new_operation_id, new_record
from ktrdr.protocol.messages import (
    OperationCancelledEvent, OperationCompleted, OperationFailed, OperationMetric, OperationProgress,
)


def running(attempt: int = 1, delivery: int = 1) -> OperationRecord:
    r = new_record("dummy", "cpu", {})
    return tr.claim(1, delivery, "w1")(r) if attempt == 1 else tr.moved(r, "running", attempt=attempt,
                                                                         delivery=delivery, worker_id="w1")


def test_operation_id_format() -> None:
    op_id = new_operation_id("training")
    prefix, kind, day, clock, tail = op_id.split("_")
    assert (prefix, kind, len(day), len(clock), len(tail)) == ("op", "training", 8, 6, 8)


def test_claim_then_takeover_by_redelivery_only() -> None:
    r = running()
    assert (r.status, r.attempt, r.worker_id) == ("running", 1, "w1")
    with pytest.raises(tr.Skip):
        tr.claim(1, 1, "w2")(r)  # same delivery again: a duplicate, not a takeover
    taken = tr.claim(1, 2, "w2")(r)
    assert (taken.attempt, taken.worker_id) == (2, "w2")
    with pytest.raises(tr.Skip):
        tr.claim(0, 3, "w3")(taken)  # an order of an older dispatch is stale


def test_claim_settles_a_cancel_requested_while_queued() -> None:
    r = tr.request_cancel("x")(running())
    assert r.cancel_requested and r.status == "running"
    assert tr.claim(1, 2, "w2")(r).status == "cancelled"


def test_a_specific_cancel_reason_survives_a_bare_cancel_in_either_order() -> None:
    bare, given = tr.DEFAULT_CANCEL_REASON, "wrong parameters"
    first_bare = tr.request_cancel(given)(tr.request_cancel(bare)(running()))
    first_given = tr.request_cancel(given)(running())
    with pytest.raises(tr.Skip):
        tr.request_cancel(bare)(first_given)
    with pytest.raises(tr.Skip):
        tr.request_cancel("a later reason")(first_given)  # the first specific reason wins
    assert first_bare.cancel_reason == first_given.cancel_reason == given
    # The worker's end carries the reason its token fired with; it beats a stored bare default.
    ended = tr.finish(1, "cancelled", reason=given)(tr.request_cancel(bare)(running()))
    assert (ended.status, ended.cancel_reason) == ("cancelled", given)


def test_illegal_transition_names_both_states() -> None:
    done = tr.finish(1, "completed")(running())
    with pytest.raises(tr.IllegalTransition, match="from completed to resuming"):
        tr.resume()(done)
    with pytest.raises(tr.IllegalTransition, match="from completed to cancelled"):
        tr.request_cancel("late")(done)


def test_resume_bumps_dispatch_and_clears_the_error() -> None:
    failed = tr.finish(1, "failed")(running())
    resumed = tr.resume()(failed)
    assert (resumed.status, resumed.dispatch, resumed.resume, resumed.finished_at) == ("resuming", 2, True, 0)
    with pytest.raises(tr.IllegalTransition):
        tr.resume()(resumed)  # a second concurrent resume loses


def test_finish_ignores_stale_attempts() -> None:
    r = running(attempt=2, delivery=2)
    with pytest.raises(tr.Skip):
        tr.finish(1, "failed")(r)


def test_fold_coalesces_progress_and_ignores_stale_and_out_of_order() -> None:
    r = running(attempt=2, delivery=2)
    events = [
        OperationProgress(operation_id=r.id, attempt=2, seq=5, percentage=50.0),
        OperationProgress(operation_id=r.id, attempt=2, seq=3, percentage=30.0),   # out of order
        OperationProgress(operation_id=r.id, attempt=1, seq=99, percentage=99.0),  # stale attempt
        OperationMetric(operation_id=r.id, attempt=2, values={"loss": 1.0}),
        OperationFailed(operation_id=r.id, attempt=1),                             # stale attempt
    ]
    new = fold(events)(r)
    assert (new.progress.percentage, new.progress_seq, new.metrics_count, new.status) == (50.0, 5, 1, "running")
    with pytest.raises(tr.Skip):
        fold(events[1:3])(new)


def test_terminal_events_fold_into_terminal_states() -> None:
    r = running()
    assert fold_one(r, OperationCompleted(operation_id=r.id, result={"x": 1})).result == {"x": 1}
    assert fold_one(r, OperationCancelledEvent(operation_id=r.id, reason="bye")).cancel_reason == "bye"
    done = fold_one(r, OperationFailed(operation_id=r.id))
    assert done.status == "failed" and fold_one(done, OperationCompleted(operation_id=r.id)) is done


def test_metrics_count_after_the_worker_recorded_the_end_but_not_stale_ones() -> None:
    done = fold_one(running(), OperationCompleted(operation_id="x"))
    assert fold_one(done, OperationMetric(operation_id="x", attempt=1)).metrics_count == 1
    newer = running(attempt=2, delivery=2)
    assert fold_one(newer, OperationMetric(operation_id="x", attempt=1)) is newer


def test_progress_fields_agree_across_reporter_event_and_record() -> None:
    """Three views of one progress state (reporter, wire event, KV record) must not drift apart."""
    import msgspec

    from ktrdr.context import PROGRESS_FIELDS
    from ktrdr.operations.record import Progress
    from ktrdr.protocol.messages import EventBase

    base = {f.name for f in msgspec.structs.fields(EventBase)}
    event = [f.name for f in msgspec.structs.fields(OperationProgress) if f.name not in base]
    record = [f.name for f in msgspec.structs.fields(Progress)]
    assert event == record == list(PROGRESS_FIELDS)
