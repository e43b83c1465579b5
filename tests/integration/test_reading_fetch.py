"""fetch_ready against a real consumer: a lone message costs one pull, a queue is taken in one more pull."""

from __future__ import annotations

from typing import Any

from ktrdr.bus.connection import flush
from ktrdr.bus.handle import Bus
from ktrdr.bus.reading import fetch_ready


async def pulls_while(bus: Bus, consumer: str, action: Any, stream: str | None = None) -> tuple[Any, int]:
    """What `action()` returns, and how many pull requests reached `consumer` (on the events stream) meanwhile."""
    seen: list[bytes] = []

    async def count(msg: Any) -> None:
        seen.append(msg.data)

    stream = stream or bus.names.events_stream
    spy = await bus.nc.subscribe(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}", cb=count)
    await flush(bus.nc)
    try:
        result = await action()
        await flush(bus.nc)
    finally:
        await spy.unsubscribe()
    return result, len(seen)


async def test_a_lone_message_costs_one_pull_and_a_queue_one_more(bus: Bus) -> None:
    n = bus.names
    psub = await bus.js.pull_subscribe_bind(durable=n.aggregator_consumer, stream=n.events_stream)
    await bus.js.publish(n.event("op_lone", "metric"), b"{}")
    lone, pulls = await pulls_while(bus, n.aggregator_consumer, lambda: fetch_ready(psub, 500, timeout=5.0))
    assert [m.subject for m in lone] == [n.event("op_lone", "metric")] and pulls == 1

    for i in range(5):
        await bus.js.publish(n.event(f"op_q{i}", "metric"), b"{}")
    queued, pulls = await pulls_while(bus, n.aggregator_consumer, lambda: fetch_ready(psub, 500, timeout=5.0))
    assert [m.subject for m in queued] == [n.event(f"op_q{i}", "metric") for i in range(5)] and pulls == 2

    for i in range(5):
        await bus.js.publish(n.event(f"op_c{i}", "metric"), b"{}")
    capped = await fetch_ready(psub, 3, timeout=5.0)
    rest = await fetch_ready(psub, 3, timeout=5.0)
    assert [len(capped), len(rest)] == [3, 2]
