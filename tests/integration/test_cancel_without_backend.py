"""Without a backend a client may cancel (a bare publish, pending or running) but not resume."""

from __future__ import annotations

from ktrdr.bus.handle import Bus
from ktrdr.client import KtrdrClient
from ktrdr.operations.aggregator import Aggregator
from ktrdr.operations.submit import submit
from ktrdr_tui import feed
from tests.helpers import wait_record
from tests.integration.conftest import WorkerPool


async def test_a_bare_cancel_settles_pending_and_running_operations_without_a_backend(
        bus: Bus, aggregator: Aggregator, workers: WorkerPool) -> None:
    await workers.start(worker_id="w-busy", capacity=1)
    running = await submit(bus, "dummy", "cpu", {"steps": 400, "step_seconds": 0.05})
    await wait_record(bus, running.id, lambda r: r.status == "running")
    waiting = await submit(bus, "dummy", "cpu", {"steps": 1})  # the only slot is taken: it stays pending
    client = KtrdrClient(bus, timeout=0.5)

    await client.cancel_direct(waiting.id, "changed my mind")  # what `nats pub ktrdr.cancel.<id>` does
    cancelled = await wait_record(bus, waiting.id, lambda r: r.terminal)
    assert (cancelled.status, cancelled.cancel_reason, cancelled.attempt) == ("cancelled", "changed my mind", 0)

    await client.cancel_direct(running.id, "stop it")
    stopped = await wait_record(bus, running.id, lambda r: r.terminal, timeout=30)
    assert stopped.status == "cancelled" and stopped.cancel_reason == "stop it"

    said = await feed.resume(client, running.id)
    assert "needs a backend" in said
    assert (await bus.ops.get(running.id))[0].status == "cancelled"  # nothing written by the client
