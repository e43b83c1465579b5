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
