"""A slot pulls its next order as the handler returns: the order arrives while the finished record is written,
its handler waits for that record (the order kept alive meanwhile), an order for a pull given up goes straight
back, a pull with nothing ends."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from nats.aio.msg import Msg

from ktrdr.bus.handle import Bus
from ktrdr.config import Settings
from ktrdr.operations.submit import submit
from ktrdr.workers.chain import Chain
from ktrdr.workers.context import OperationContext
from ktrdr.workers.runtime import Worker
from tests.helpers import wait_all_terminal, wait_record
from tests.integration.conftest import WorkerPool


def _slow_first_record(worker: Worker, bus: Bus, first: str, second: str, delay_s: float) -> list[str]:
    """Make the worker's terminal write of `first` take `delay_s`; the list gets `second`'s status as it goes in."""
    seen: list[str] = []
    put_if = worker.bus.ops.put_if

    async def slow_terminal_write(record: Any, revision: int) -> int:
        if record.id == first and record.terminal:  # the server takes its time with the first record
            await asyncio.sleep(delay_s)
            seen.append((await bus.ops.get(second))[0].status)
        return await put_if(record, revision)

    worker.bus.ops.put_if = slow_terminal_write  # type: ignore[method-assign]
    return seen


async def test_the_next_order_is_claimed_while_the_last_record_is_written_and_runs_after_it(
        bus: Bus, workers: WorkerPool) -> None:
    first = await submit(bus, "dummy", "cpu", {"steps": 0})
    second = await submit(bus, "dummy", "cpu", {"steps": 0})
    seen_by_handler: dict[str, str] = {}  # the first one's status when each handler starts

    def handler(ctx: OperationContext) -> dict:
        seen_by_handler[ctx.operation_id] = ctx.call(lambda: bus.ops.get(first.id))[0].status
        return {}

    worker = await workers.start(handler, capacity=1)
    seen_at_write = _slow_first_record(worker, bus, first.id, second.id, 0.5)
    records = await wait_all_terminal(bus, [first.id, second.id])
    assert {r.status for r in records.values()} == {"completed"}
    assert seen_at_write == ["running"], "the second order was not pulled and claimed during the first's write"
    assert seen_by_handler == {first.id: "running", second.id: "completed"}


async def test_an_order_waiting_for_the_last_record_is_kept_alive_past_the_ack_wait(
        fast: tuple[Bus, Settings]) -> None:
    bus, quick = fast  # orders come back after 2 s without a keep-alive
    pool = WorkerPool(quick)
    try:
        first = await submit(bus, "dummy", "cpu", {"steps": 0})
        second = await submit(bus, "dummy", "cpu", {"steps": 0})
        holder = await pool.start(capacity=1, worker_id="w-holder")
        _slow_first_record(holder, bus, first.id, second.id, 3.0)
        await wait_record(bus, second.id, lambda r: r.status == "running")
        await pool.start(capacity=1, worker_id="w-idle")  # would take the second order, were it redelivered
        records = await wait_all_terminal(bus, [first.id, second.id])
    finally:
        await pool.close()
    assert records[second.id].status == "completed"
    assert (records[second.id].attempt, records[second.id].worker_id) == (1, "w-holder")


async def test_an_order_taken_over_while_it_waited_for_the_last_record_is_not_run(
        fast: tuple[Bus, Settings]) -> None:
    bus, quick = fast
    pool = WorkerPool(quick)
    ran: list[str] = []

    def handler(ctx: OperationContext) -> dict:
        ran.append(ctx.operation_id)
        return {}

    try:
        first = await submit(bus, "dummy", "cpu", {"steps": 0})
        second = await submit(bus, "dummy", "cpu", {"steps": 0})
        holder = await pool.start(handler, capacity=1, worker_id="w-holder")
        _slow_first_record(holder, bus, first.id, second.id, 1.5)  # longer than a keep-alive period (0.67 s)
        claimed = await wait_record(bus, second.id, lambda r: r.status == "running")
        _, revision = await bus.ops.get(second.id)  # as if the server had lost the order's keep-alive and
        await bus.ops.put_if(msgspec.structs.replace(claimed, attempt=2, worker_id="w-other"), revision)  # moved it
        await wait_record(bus, first.id, lambda r: r.status == "completed")
        await asyncio.sleep(0.5)
    finally:
        await pool.close()
    record, _ = await bus.ops.get(second.id)
    assert ran == [first.id], "the superseded claim ran its handler all the same"
    assert (record.status, record.attempt, record.worker_id) == ("running", 2, "w-other")


async def _one_order(bus: Bus, psub: Any, n: int) -> Msg:
    await bus.js.publish(bus.names.work("dummy", "cpu"), str(n).encode())
    return (await psub.fetch(1, timeout=5))[0]


async def _started(bus: Bus) -> tuple[Any, Chain, Msg]:
    """The work consumer bound, a one-slot chain, and one order fetched the ordinary way."""
    n = bus.names
    psub = await bus.js.pull_subscribe_bind(durable=n.work_consumer("dummy", "cpu"), stream=n.work_stream)
    chain = Chain(bus.nc, 1, n.work_stream, n.work_consumer("dummy", "cpu"))
    await chain.start()
    return psub, chain, await _one_order(bus, psub, 1)


async def test_an_order_for_a_pull_given_up_goes_straight_back(bus: Bus) -> None:
    n = bus.names
    psub, chain, first = await _started(bus)
    await first.ack()
    waiting = await chain.pull(expires_s=30.0)
    chain.give_up()
    assert waiting is not None and await waiting is None
    await bus.js.publish(n.work("dummy", "cpu"), b"2")  # delivered to the given-up pull, which naks it
    again = (await psub.fetch(1, timeout=5))[0]  # long before the 30 s ack wait
    assert again.data == b"2" and again.metadata.num_delivered == 2
    await chain.close()


async def test_a_pull_with_nothing_to_deliver_ends_with_none(bus: Bus) -> None:
    n = bus.names
    psub, chain, first = await _started(bus)
    await first.ack()
    waiting = await chain.pull(expires_s=0.2)
    assert waiting is not None and await asyncio.wait_for(waiting, 5) is None
    second = await _one_order(bus, psub, 2)  # the slot's subscription serves the next pull
    await second.ack()
    waiting = await chain.pull(expires_s=5.0)
    await bus.js.publish(n.work("dummy", "cpu"), b"3")
    third = await asyncio.wait_for(waiting, 5)
    assert third is not None and third.data == b"3"
    await chain.close()
