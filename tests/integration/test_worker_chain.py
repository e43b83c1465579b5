"""The ack that asks for the next order (+NXT): a busy worker takes its next order without a pull of its own, an
order whose pull was given up goes straight back to the queue, and a pull with nothing to deliver ends."""

from __future__ import annotations

import asyncio
from typing import Any

from nats.aio.msg import Msg

from ktrdr.bus.handle import Bus
from ktrdr.operations.submit import submit
from ktrdr.workers.chain import Chain
from tests.helpers import wait_all_terminal
from tests.integration.conftest import WorkerPool
from tests.helpers import pulls_while


async def test_orders_queued_behind_a_busy_worker_cost_no_pull_of_their_own(bus: Bus, workers: WorkerPool) -> None:
    ops = [await submit(bus, "dummy", "cpu", {"steps": 0}) for _ in range(20)]
    consumer = bus.names.work_consumer("dummy", "cpu")

    async def run_all() -> None:
        await workers.start(capacity=1)
        await wait_all_terminal(bus, [o.id for o in ops])

    _, pulls = await pulls_while(bus, bus.names.work_stream, consumer, run_all)
    assert pulls <= 3, f"{pulls} pull requests for 20 orders: the acks should have asked for the next ones"


async def _one_order(bus: Bus, psub: Any, n: int) -> Msg:
    await bus.js.publish(bus.names.work("dummy", "cpu"), str(n).encode())
    return (await psub.fetch(1, timeout=5))[0]


async def _started(bus: Bus) -> tuple[Any, Chain, Msg]:
    """The work consumer bound, a one-slot chain, and one order fetched the ordinary way."""
    n = bus.names
    psub = await bus.js.pull_subscribe_bind(durable=n.work_consumer("dummy", "cpu"), stream=n.work_stream)
    chain = Chain(bus.nc, 1)
    await chain.start()
    return psub, chain, await _one_order(bus, psub, 1)


async def test_an_order_for_a_pull_given_up_goes_straight_back(bus: Bus) -> None:
    n = bus.names
    psub, chain, first = await _started(bus)
    waiting = await chain.ack_next(first, expires_s=30.0)
    chain.give_up()
    assert waiting is not None and await waiting is None
    await bus.js.publish(n.work("dummy", "cpu"), b"2")  # delivered to the given-up pull, which naks it
    again = (await psub.fetch(1, timeout=5))[0]  # long before the 30 s ack wait
    assert again.data == b"2" and again.metadata.num_delivered == 2
    await chain.close()


async def test_a_pull_with_nothing_to_deliver_ends_with_none(bus: Bus) -> None:
    n = bus.names
    psub, chain, first = await _started(bus)
    waiting = await chain.ack_next(first, expires_s=0.2)
    assert waiting is not None and await asyncio.wait_for(waiting, 5) is None
    second = await _one_order(bus, psub, 2)  # the slot's subscription serves the next pull
    waiting = await chain.ack_next(second, expires_s=5.0)
    await bus.js.publish(n.work("dummy", "cpu"), b"3")
    third = await asyncio.wait_for(waiting, 5)
    assert third is not None and third.data == b"3"
    await chain.close()
