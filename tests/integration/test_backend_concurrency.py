"""The backend answers API requests concurrently: one slow request does not hold up the ones behind it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.aio.msg import Msg

from ktrdr.backend.endpoints import Endpoints
from ktrdr.bus.handle import Bus
from ktrdr.bus.tasks import Concurrently
from ktrdr.client import KtrdrClient
from tests.helpers import eventually
from tests.integration.conftest import BackendPool


async def test_a_slow_request_does_not_hold_up_the_others(bus: Bus, backends: BackendPool,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    release, entered = asyncio.Event(), asyncio.Event()
    original = Endpoints.workers_list

    async def first_one_stuck(self: Endpoints, req: Any) -> Any:
        if not entered.is_set():
            entered.set()
            await release.wait()
        return await original(self, req)

    monkeypatch.setattr(Endpoints, "workers_list", first_one_stuck)
    await backends.start()
    client = KtrdrClient(bus, timeout=10)
    slow = asyncio.create_task(client.request("workers", "list"))
    await asyncio.wait_for(entered.wait(), 10)
    # the same endpoint (one subscription) answers the next request while the first still waits
    assert "workers" in await asyncio.wait_for(client.request("workers", "list"), 10)
    assert not slow.done()
    release.set()
    assert "workers" in await asyncio.wait_for(slow, 10)


async def test_at_most_limit_handlers_run_and_the_rest_wait_their_turn(bus: Bus) -> None:
    running, most, done = 0, 0, []
    gate = asyncio.Event()

    async def handler(msg: Msg) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await gate.wait()
        running -= 1
        done.append(msg.data)

    concurrently = Concurrently(limit=3)
    sub = await bus.nc.subscribe("conc.test", cb=concurrently(handler))
    for i in range(10):
        await bus.nc.publish("conc.test", str(i).encode())
    await eventually(lambda: running == 3, what="three handlers running")
    assert most == 3 and not done
    gate.set()
    await eventually(lambda: len(done) == 10, what="every message handled")
    await concurrently.drain()
    await sub.unsubscribe()
    assert most == 3 and sorted(done) == sorted(str(i).encode() for i in range(10))
