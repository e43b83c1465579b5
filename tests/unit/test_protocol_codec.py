"""Every wire message round-trips as JSON; bad bytes always become a ProtocolError with a path."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ktrdr.errors import ProtocolError
from ktrdr.protocol.codec import MAX_PAYLOAD, decode, decode_cancel, decode_event, encode
from ktrdr.protocol.messages import (
    EVENT_TYPES, WIRE_TYPES, Capabilities, CancelRequest, ErrorInfo, GpuInfo, OperationCompleted,
    OperationEvent, OperationFailed, OperationMetric, OperationProgress, WorkerHeartbeat, WorkOrder, event_kind,
)

SAMPLES = [
    WorkerHeartbeat(worker_id="w1", kind="training", pool="gpu", status="busy", running=["op_a"],
                    capabilities=Capabilities(cpus=8, memory_mb=1024, gpu=GpuInfo(name="A100", memory_mb=40000)),
                    seq=3, sent_at=123),
    WorkOrder(operation_id="op_x", type="dummy", pool="cpu", dispatch=2, parameters={"steps": 3}, resume=True),
    CancelRequest(reason="user asked", requested_by="cli"),
    OperationProgress(operation_id="op_x", attempt=2, seq=7, percentage=42.5, current_step="epoch 3",
                      context={"epoch": 3}),
    OperationMetric(operation_id="op_x", values={"loss": 0.5}),
    OperationCompleted(operation_id="op_x", result={"ok": True}, artifacts={"model": "m/1h_v1"}),
    OperationFailed(operation_id="op_x", error=ErrorInfo(code="boom", message="it broke", retryable=True)),
]


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(msg: object) -> None:
    data = encode(msg)
    json.loads(data)  # plain JSON a person can read
    assert decode(data, type(msg)) == msg


def test_every_event_type_round_trips_through_the_union() -> None:
    for tag, cls in EVENT_TYPES.items():
        event = cls(operation_id="op_1", attempt=3, seq=9)
        back = decode_event(encode(event))
        assert back == event and event_kind(back) == tag
        assert json.loads(encode(event))["event"] == tag
    assert set(WIRE_TYPES) >= set(EVENT_TYPES.values())


def test_a_person_can_write_a_minimal_event_by_hand() -> None:
    event = decode_event(b'{"event": "failed", "operation_id": "op_1", "error": {"message": "x"}}')
    assert isinstance(event, OperationFailed) and event.error.message == "x" and event.attempt == 1


def test_unknown_fields_are_accepted_for_forward_compatibility() -> None:
    order = decode(b'{"operation_id": "op", "type": "dummy", "pool": "cpu", "priority": 9}', WorkOrder)
    assert order.operation_id == "op"


@pytest.mark.parametrize(("payload", "path"), [
    (b'{"operation_id": "op", "type": "dummy", "pool": "cpu", "attempt": "two"}', "$.attempt"),
    (b'{"type": "dummy", "pool": "cpu"}', "$"),
    (b'{"operation_id": "op", "type": "dummy", "pool": "cpu", "parameters": []}', "$.parameters"),
])
def test_wrong_types_and_missing_fields_name_the_path(payload: bytes, path: str) -> None:
    with pytest.raises(ProtocolError) as err:
        decode(payload, WorkOrder, subject="ktrdr.work.dummy.cpu")
    assert err.value.path == path
    assert "ktrdr.work.dummy.cpu" in str(err.value)


def test_nested_path_is_reported() -> None:
    with pytest.raises(ProtocolError) as err:
        decode(b'{"worker_id": "w", "kind": "k", "pool": "p", "capabilities": {"gpu": {"name": 5}}}', WorkerHeartbeat)
    assert err.value.path == "$.capabilities.gpu.name"


def test_unknown_event_tag_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="event"):
        decode_event(b'{"event": "exploded", "operation_id": "op"}')


def test_one_megabyte_payload_is_rejected_cleanly() -> None:
    blob = b'{"operation_id": "' + b"x" * MAX_PAYLOAD + b'"}'
    with pytest.raises(ProtocolError, match="exceeds"):
        decode_event(blob)
    with pytest.raises(ProtocolError):
        decode(b"\x00" * MAX_PAYLOAD, WorkOrder)


def test_cancel_accepts_empty_and_json_bodies() -> None:
    assert decode_cancel(b"") == CancelRequest()
    assert decode_cancel(b"  \n") == CancelRequest()
    assert decode_cancel(b'{"reason": "stop"}').reason == "stop"
    with pytest.raises(ProtocolError):
        decode_cancel(b"stop please")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_garbage_never_escapes_as_anything_but_protocol_error(data: bytes) -> None:
    for target in (WorkOrder, WorkerHeartbeat, OperationEvent, CancelRequest):
        try:
            decode(data, target)
        except ProtocolError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids), max_leaves=30))
def test_random_json_values_are_protocol_errors_or_valid(value: object) -> None:
    data = msgspec.json.encode(value)
    try:
        decode_event(data)
    except ProtocolError as exc:
        assert exc.path.startswith("$")
