"""BatchPuller against a real consumer: a lone message costs one pull, a queue one more; nothing is a timeout; a
message for a pull given up goes straight back; a missing consumer is an error, not a spin."""

from __future__ import annotations

import asyncio

import pytest
from nats.errors import TimeoutError as NatsTimeoutError

from ktrdr.bus.handle import Bus
from ktrdr.bus.pull import BatchPuller, PullError
from tests.helpers import eventually, pulls_while


async def _puller(bus: Bus, consumer: str | None = None) -> BatchPuller:
    puller = BatchPuller(bus.nc, bus.names.events_stream, consumer or bus.names.aggregator_consumer,
                         group=bus.names.fold_group)
    await puller.start()
    return puller


async def test_a_lone_message_costs_one_pull_and_a_queue_one_more(bus: Bus) -> None:
    n = bus.names
    puller = await _puller(bus)
    count = lambda action: pulls_while(bus, n.events_stream, n.aggregator_consumer, action)  # noqa: E731
    await bus.js.publish(n.event("op_lone", "metric"), b"{}")
    lone, pulls = await count(lambda: puller.fetch_ready(500, timeout=5.0))
    assert [m.subject for m in lone] == [n.event("op_lone", "metric")] and pulls == 1

    for i in range(5):
        await bus.js.publish(n.event(f"op_q{i}", "metric"), b"{}")
    queued, pulls = await count(lambda: puller.fetch_ready(500, timeout=5.0))
    assert [m.subject for m in queued] == [n.event(f"op_q{i}", "metric") for i in range(5)] and pulls == 2

    for i in range(5):
        await bus.js.publish(n.event(f"op_c{i}", "metric"), b"{}")
    capped = await puller.fetch_ready(3, timeout=5.0)
    rest = await puller.fetch_ready(3, timeout=5.0)
    assert [len(capped), len(rest)] == [3, 2]
    await puller.stop()


async def test_nothing_within_the_timeout_is_nats_py_s_timeout(bus: Bus) -> None:
    puller = await _puller(bus)
    with pytest.raises(NatsTimeoutError):
        await asyncio.wait_for(puller.fetch_ready(10, timeout=0.2), 5)
    await puller.stop()


async def _stray(bus: Bus, puller: BatchPuller) -> None:
    """A fetch given up while the server still holds its pull, then a message that pull brings with no taker."""
    n = bus.names
    waiting = asyncio.create_task(puller.fetch_ready(10, timeout=30.0))
    await asyncio.sleep(0)  # the pull request is out
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await bus.js.publish(n.event("op_stray", "metric"), b"{}")

    async def delivered() -> bool:
        return (await bus.js.consumer_info(n.events_stream, n.aggregator_consumer)).num_ack_pending == 1

    await eventually(delivered, what="the stray message delivered")


async def test_a_message_no_pull_waited_for_goes_to_the_next_fetch(bus: Bus) -> None:
    n = bus.names
    puller = await _puller(bus)
    await _stray(bus, puller)
    got, pulls = await pulls_while(bus, n.events_stream, n.aggregator_consumer,
                                   lambda: puller.fetch_ready(10, timeout=5.0))
    assert [m.subject for m in got] == [n.event("op_stray", "metric")] and pulls == 0
    await puller.stop()


async def test_what_no_fetch_took_is_handed_back_at_stop(bus: Bus) -> None:
    n = bus.names
    puller = await _puller(bus)
    await _stray(bus, puller)
    await puller.stop()
    other = await _puller(bus)  # another backend's, long before the consumer's 30 s ack wait
    got = await other.fetch_ready(10, timeout=5.0)
    assert [m.subject for m in got] == [n.event("op_stray", "metric")] and got[0].metadata.num_delivered == 2
    await other.stop()


async def test_a_missing_consumer_is_an_error(bus: Bus) -> None:
    puller = await _puller(bus, consumer="no_such_consumer")
    with pytest.raises(PullError, match="503"):
        await asyncio.wait_for(puller.fetch_ready(10, timeout=1.0), 5)
    await puller.stop()
