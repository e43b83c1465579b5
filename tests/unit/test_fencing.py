"""Fencing: the record's predicates, one terminal transition for worker and aggregator, old orders still decode."""

from __future__ import annotations

import msgspec

from ktrdr.operations import transitions as tr
from ktrdr.operations.aggregator import fold_one
from ktrdr.operations.record import OperationRecord, new_record
from ktrdr.protocol.codec import decode, encode
from ktrdr.protocol.messages import ErrorInfo, OperationCompleted, OperationFailed, OperationCancelledEvent, WorkOrder


def claimed(dispatch: int = 1, delivery: int = 1) -> OperationRecord:
    return tr.claim(dispatch, delivery, "w1")(new_record("dummy", "cpu", {}))


def test_predicates_name_what_each_counter_fences() -> None:
    r = claimed()
    taken = tr.claim(1, 2, "w2")(r)
    assert taken.attempt == 2 and not taken.owned_by(1) and taken.owned_by(2)
    assert taken.claimable(1, 3) and not taken.claimable(1, 2) and not taken.claimable(0, 3)
    assert taken.runs_later_delivery(1, 1) and not taken.runs_later_delivery(1, 2)
    rerouted = tr.redispatch("gpu")(new_record("training", "cpu", {}))
    assert rerouted.expects(2) and not rerouted.expects(1) and not rerouted.claimable(1, 1)


def test_the_aggregator_applies_the_workers_terminal_transition() -> None:
    r = msgspec.structs.replace(claimed(), error=ErrorInfo(code="X", message="retried once", retryable=True))
    cases = [
        (OperationCompleted(operation_id=r.id, attempt=1, result={"a": 1}, artifacts={"m": "k"}),
         tr.finish(1, "completed", result={"a": 1}, artifacts={"m": "k"})),
        (OperationFailed(operation_id=r.id, attempt=1, error=ErrorInfo(code="E", message="boom")),
         tr.finish(1, "failed", error=ErrorInfo(code="E", message="boom"))),
        (OperationCancelledEvent(operation_id=r.id, attempt=1, reason="user"), tr.finish(1, "cancelled", reason="user")),
    ]
    for event, mutation in cases:
        by_worker, by_aggregator = mutation(r), fold_one(r, event)
        ignore = {"finished_at", "updated_at"}
        fields = [f.name for f in msgspec.structs.fields(OperationRecord) if f.name not in ignore]
        assert {f: getattr(by_aggregator, f) for f in fields} == {f: getattr(by_worker, f) for f in fields}


def test_a_stale_attempts_terminal_event_changes_nothing() -> None:
    taken = tr.claim(1, 2, "w2")(claimed())
    assert fold_one(taken, OperationCompleted(operation_id=taken.id, attempt=1)) is taken


def test_orders_from_before_the_rename_still_decode() -> None:
    old = b'{"operation_id": "op_a", "type": "dummy", "pool": "cpu", "attempt": 3, "parameters": {"steps": 1}}'
    order = decode(old, WorkOrder)
    assert order.dispatch == 3 and order.parameters == {"steps": 1}
    wire = msgspec.json.decode(encode(WorkOrder(operation_id="op_a", type="dummy", pool="cpu", dispatch=4)))
    assert wire["dispatch"] == 4 and wire["attempt"] == 4  # workers from before the rename read `attempt`
    assert decode(b'{"operation_id": "op_a", "type": "dummy", "pool": "cpu"}', WorkOrder).dispatch == 1


def test_a_lost_workers_delivery_is_released_once_and_only_its_own() -> None:
    r = tr.claim(1, 1, "w1", "$JS.ACK.W.c.1.7.7.0.0")(new_record("dummy", "cpu", {}))
    for other in (tr.release_lost("w2", r.ack_subject), tr.release_lost("w1", "$JS.ACK.W.c.2.7.8.0.0")):
        try:
            other(r)
            raise AssertionError("released a delivery of another worker or an older delivery")
        except tr.Skip:
            pass
    released = tr.release_lost("w1", r.ack_subject)(r)
    assert released.status == "running" and released.ack_subject == "" and released.attempt == 1
    try:
        tr.release_lost("w1", r.ack_subject)(released)  # a second backend's sweep: nothing left to nak
        raise AssertionError("released twice")
    except tr.Skip:
        pass
    assert tr.claim(1, 2, "w2", "$JS.ACK.W.c.2.7.8.0.0")(released).attempt == 2  # the redelivery takes over


def test_only_final_facts_let_the_aggregator_skip_its_read() -> None:
    from ktrdr.operations.aggregator import settled_for
    from ktrdr.protocol.messages import OperationMetric, OperationProgress

    running = claimed()
    done = tr.finish(1, "completed")(running)
    taken = tr.claim(1, 2, "w2")(running)
    completed = OperationCompleted(operation_id=running.id, attempt=1)
    assert settled_for(done, [completed])  # the worker wrote it: nothing to fold
    assert settled_for(taken, [completed, OperationProgress(operation_id=running.id, attempt=1, seq=9)])  # stale
    assert not settled_for(running, [completed])  # may still need folding
    pending = new_record("dummy", "cpu", {})
    assert not settled_for(pending, [OperationProgress(operation_id=pending.id, attempt=1, seq=1)])  # view may lag
    assert not settled_for(done, [OperationMetric(operation_id=running.id, attempt=1)])  # metrics still count
    assert not settled_for(None, [completed])


def test_an_order_carries_its_record_so_the_claim_needs_no_read() -> None:
    from ktrdr.operations.submit import SNAPSHOT_MAX, claim_hint, work_order

    r = new_record("dummy", "cpu", {"steps": 2})
    order = decode(encode(work_order(r, revision=7)), WorkOrder)
    assert claim_hint(order) == (r, 7)
    assert claim_hint(decode(encode(work_order(r)), WorkOrder)) is None  # revision unknown: read at claim
    big = new_record("dummy", "cpu", {"blob": "x" * SNAPSHOT_MAX})
    assert claim_hint(decode(encode(work_order(big, revision=7)), WorkOrder)) is None  # not carried twice
    forged = msgspec.structs.replace(order, operation_id="op_other")
    assert claim_hint(forged) is None  # a snapshot of another record never guides this claim


def test_the_workers_terminal_write_keeps_the_progress_it_last_published() -> None:
    from ktrdr.operations.record import Progress

    last = Progress(percentage=90.0, current_step="step 3/3", steps_completed=3, steps_total=3)
    done = tr.finish(1, "completed", progress=last)(claimed())  # its progress event may not be folded yet
    assert done.progress == tr.final_progress(last, "completed") and done.progress.steps_completed == 3
    assert tr.finish(1, "failed", progress=last)(claimed()).progress == last
