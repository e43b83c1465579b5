"""Resume through the backend API continues from the checkpoint in the object store, on another worker."""

from __future__ import annotations

import json

from ktrdr.bus.handle import Bus
from ktrdr.bus.objects import load_checkpoint, object_stores
from ktrdr.client import KtrdrClient
from tests.helpers import wait_record
from tests.integration.conftest import BackendPool, WorkerPool


async def test_resume_through_the_api_continues_from_the_object_store_checkpoint(
        bus: Bus, client: KtrdrClient, backends: BackendPool, workers: WorkerPool) -> None:
    await backends.start()
    first = await workers.start(checkpoints=None, worker_id="first")  # None: the object store, as in production
    op_id = (await client.start("dummy", {"steps": 60, "step_seconds": 0.05}))["operation_id"]
    await wait_record(bus, op_id, lambda r: r.progress.steps_completed >= 5)
    await client.cancel(op_id, "pause")
    cancelled = await wait_record(bus, op_id, lambda r: r.terminal)
    stores = await object_stores(bus.js, bus.names)
    saved = await load_checkpoint(stores.checkpoints, op_id)
    first.stop()  # the resumed attempt runs on a worker that never saw the first one
    await workers.start(checkpoints=None, worker_id="second")
    reply = await client.resume(op_id)
    done = await wait_record(bus, op_id, lambda r: r.terminal and r.attempt == 2, timeout=30)
    assert cancelled.status == "cancelled" and saved is not None
    step = json.loads(saved)["step"]
    assert reply["status"] == "resuming" and 5 <= step < 60
    assert done.status == "completed" and done.worker_id == "second"
    assert done.result == {"steps": 60, "resumed_from": step, "attempt": 2}
