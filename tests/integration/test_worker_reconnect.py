"""A worker that lost the server while it ran an operation reads the record before it writes the end: an attempt
superseded meanwhile (its keep-alives lost with the server, its order gone to another worker) adds no terminal
event to the operation's log and leaves the newer attempt's record alone."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import msgspec

from ktrdr.bus.handle import Bus
from ktrdr.config import Settings
from ktrdr.operations.submit import submit
from ktrdr.workers.context import OperationContext
from tests.chaos.procs import ServerProc
from tests.helpers import eventually, wait_record
from tests.integration.conftest import WorkerPool


async def test_an_attempt_superseded_while_the_server_was_away_records_no_end(tmp_path: Path) -> None:
    server = ServerProc(tmp_path)
    settings = Settings(nats_url=server.url, namespace="reconnect", home=str(tmp_path / "home"))
    bus = await Bus.open(settings, setup=True)
    pool = WorkerPool(settings)
    release = threading.Event()

    def handler(ctx: OperationContext) -> dict:
        release.wait(30)  # deaf to its cancel: it runs to the end, as a step that cannot be interrupted does
        return {"done": True}

    try:
        worker = await pool.start(handler, worker_id="w-old")
        op = await submit(bus, "dummy", "cpu", {"steps": 1})
        claimed = await wait_record(bus, op.id, lambda r: r.status == "running")
        server.stop()
        server.start()
        await eventually(lambda: worker.bus.nc.stats["reconnects"] >= 1 and worker.bus.nc.is_connected,
                         what="the worker to reconnect")
        await eventually(lambda: bus.nc.is_connected, what="the test's connection to reconnect")
        _, revision = await bus.ops.get(op.id)  # the order went to another worker while the keep-alives were lost
        await bus.ops.put_if(msgspec.structs.replace(claimed, attempt=2, worker_id="w-new"), revision)
        release.set()
        await eventually(lambda: not worker.running, what="the old attempt to end")
        await asyncio.sleep(0.5)
        info = await bus.js.stream_info(bus.names.events_stream, subjects_filter=bus.names.event(op.id, "completed"))
        record, _ = await bus.ops.get(op.id)
    finally:
        release.set()
        await pool.close()
        await bus.close()
        server.close()
    assert not info.state.subjects, "the superseded attempt logged a completion"
    assert (record.status, record.attempt, record.worker_id) == ("running", 2, "w-new")
