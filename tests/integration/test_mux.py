"""RequestMux against a real server: acks, duplicates, compare-and-set, and nats-py's errors for what goes wrong."""

from __future__ import annotations

import asyncio

import nats.errors
from nats.aio.msg import Msg
import pytest
from nats.js.errors import APIError, KeyWrongLastSequenceError, NoStreamResponseError

from ktrdr.bus.handle import Bus
from ktrdr.operations.record import new_record
from ktrdr.operations.store import Conflict


async def test_acks_carry_the_stream_sequence_and_flag_duplicates(bus: Bus) -> None:
    subject = bus.names.event("op_pub", "log")
    first = await bus.mux.publish(subject, b"{}", {"Nats-Msg-Id": "pub-1"})
    again = await bus.mux.publish(subject, b"{}", {"Nats-Msg-Id": "pub-1"})
    other = await bus.mux.publish(subject, b"{}", {"Nats-Msg-Id": "pub-2"})
    stored = await bus.js.get_msg(bus.names.events_stream, subject=subject)  # the last one on the subject
    assert first.stream == bus.names.events_stream and not first.duplicate
    assert again.duplicate and again.seq == first.seq
    assert other.seq == stored.seq > first.seq and not bus.mux._pending


async def test_a_stale_revision_is_refused_as_nats_py_refuses_it(bus: Bus) -> None:
    record = new_record("dummy", "cpu", {}, op_id="op_cas")
    revision = await bus.ops.create(record)
    newer = await bus.ops.put_if(record, revision)
    with pytest.raises(Conflict):
        await bus.ops.put_if(record, revision)
    with pytest.raises(Conflict):
        await bus.ops.create(record)
    subject = f"$KV.{bus.names.bucket('operations')}.op_cas"
    with pytest.raises(KeyWrongLastSequenceError):
        await bus.mux.update(subject, b"{}", last=revision)
    assert (await bus.ops.get("op_cas"))[1] == newer


async def test_a_deleted_record_can_be_created_again(bus: Bus) -> None:
    record = new_record("dummy", "cpu", {}, op_id="op_again")
    await bus.ops.create(record)
    await bus.ops.delete("op_again")
    revision = await bus.ops.create(record)
    assert (await bus.ops.get("op_again")) == (record, revision)


async def test_no_stream_no_answer_and_a_foreign_answer_raise_nats_py_errors(bus: Bus) -> None:
    with pytest.raises(NoStreamResponseError):
        await bus.mux.publish("nowhere.at.all", b"{}")

    silent = await bus.nc.subscribe("silent.subject")  # hears the publish, never answers
    with pytest.raises(nats.errors.TimeoutError):
        await bus.mux.publish("silent.subject", b"{}", timeout=0.2)
    await silent.unsubscribe()

    async def garbage(msg: Msg) -> None:
        await msg.respond(b"not json")

    foreign = await bus.nc.subscribe("foreign.subject", cb=garbage)
    with pytest.raises(APIError, match="unreadable JetStream ack"):
        await bus.mux.publish("foreign.subject", b"{}")
    await foreign.unsubscribe()
    assert not bus.mux._pending  # nothing waits on, or leaks, a token


async def test_many_in_flight_each_get_their_own_ack(bus: Bus) -> None:
    subjects = [bus.names.event(f"op_many{i}", "log") for i in range(300)]
    acks = await asyncio.gather(*(bus.mux.publish(s, b"{}") for s in subjects))
    for subject, ack in zip(subjects, acks):
        assert (await bus.js.get_msg(bus.names.events_stream, subject=subject)).seq == ack.seq
    assert len({a.seq for a in acks}) == 300


async def test_requests_get_their_own_replies_and_silence_is_nats_py_s_error(bus: Bus) -> None:
    async def upper(msg: Msg) -> None:
        await msg.respond(msg.data.upper())

    service = await bus.nc.subscribe("mux.upper", cb=upper)
    replies = await asyncio.gather(*(bus.mux.request("mux.upper", f"m{i}".encode()) for i in range(50)))
    assert [r.data for r in replies] == [f"M{i}".encode() for i in range(50)]
    await service.unsubscribe()
    with pytest.raises(nats.errors.NoRespondersError):
        await bus.mux.request("mux.upper", b"anyone?")


async def test_many_compare_and_sets_at_once_each_get_their_own_outcome(bus: Bus) -> None:
    records = [new_record("dummy", "cpu", {}, op_id=f"op_batch{i}") for i in range(5)]
    revisions = [await bus.ops.create(r) for r in records]
    await bus.ops.put_if(records[2], revisions[2])  # someone else wrote this one since
    outcomes = await bus.ops.put_many_if(list(zip(records, revisions)))
    assert isinstance(outcomes[2], Conflict)
    for i in (0, 1, 3, 4):
        assert outcomes[i] == (await bus.ops.get(records[i].id))[1] > revisions[i]
    mixed = await bus.mux.update_many([("nowhere.at.all", b"{}", 0), (bus.ops._subject("op_batch0"), b"{}", 1)])
    assert isinstance(mixed[0], NoStreamResponseError) and isinstance(mixed[1], KeyWrongLastSequenceError)
    assert not bus.mux._pending
