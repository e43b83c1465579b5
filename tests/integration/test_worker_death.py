"""A worker process that dies: the registry marks it unavailable; a cancel recorded while its worker is dead
or cut off from NATS (so the core cancel reaches nobody) still ends the operation `cancelled`, run once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from ktrdr.backend.registry import MISSED_BEATS, WorkerRecord
from ktrdr.bus.handle import Bus
from ktrdr.config import Settings
from ktrdr.operations.submit import cancel, submit
from tests.helpers import spawn_worker_process, wait_entry, wait_record
from tests.integration.conftest import BackendPool, WorkerPool

STEPS = {"steps": 40, "step_seconds": 0.1}


class CuttableLink:
    """A TCP relay between worker processes and the server that can cut every connection and refuse new ones."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit("//", 1)[-1].rsplit(":", 1)
        self.target, self.cut_off = (host, int(port)), False
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        """Listen on a free port; returns the URL to give the worker."""
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return f"nats://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            self.writers.discard(writer)

    def cut(self) -> None:
        """Drop every relayed connection and refuse new ones until heal()."""
        self.cut_off = True
        for writer in list(self.writers):
            writer.close()

    def heal(self) -> None:
        """Accept connections again."""
        self.cut_off = False

    async def close(self) -> None:
        """Stop listening and drop everything."""
        self.cut()
        if self.server is not None:
            self.server.close()


async def wait_worker(bus: Bus, worker_id: str, predicate: Callable[[WorkerRecord], bool],
                      timeout: float) -> WorkerRecord:
    """Watch one registry key until its record satisfies `predicate`."""
    kv = await bus.js.key_value(bus.names.bucket("workers"))
    return await wait_entry(kv, worker_id, WorkerRecord, predicate, timeout)


async def test_sigkilled_worker_process_is_marked_unavailable(settings: Settings, bus: Bus, backends: BackendPool,
                                                              tmp_path: Path) -> None:
    await backends.start()
    proc = spawn_worker_process(settings, "dummy", "doomed", tmp_path)
    try:
        alive = await wait_worker(bus, "doomed", lambda w: w.status == "available", timeout=30)
        proc.kill()
        proc.wait(10)
        killed_ns = time.time_ns()
        # the promise is 3 missed intervals; the bound here is generous (a loaded machine sweeps late)
        gone = await wait_worker(bus, "doomed", lambda w: w.status == "unavailable",
                                 timeout=MISSED_BEATS * settings.heartbeat_s + 15)
    finally:
        proc.kill()
    detected_s = (time.time_ns() - killed_ns) / 1e9
    print(f"\nSIGKILLed worker marked unavailable {detected_s:.2f}s after the kill "
          f"({MISSED_BEATS} x {settings.heartbeat_s}s beats)")
    assert alive.pid == proc.pid and gone.pid == proc.pid and gone.interval_s == settings.heartbeat_s


async def test_cancel_recorded_while_the_worker_is_dead_ends_cancelled_and_never_runs_again(
        fast: tuple[Bus, Settings], workers: WorkerPool, tmp_path: Path) -> None:
    bus, s = fast  # the dead worker's order is redelivered after 2 s
    op = await submit(bus, "dummy", "cpu", STEPS)
    victim = spawn_worker_process(s, "dummy", "victim", tmp_path)
    try:
        await wait_record(bus, op.id, lambda r: r.worker_id == "victim" and r.progress.steps_completed >= 3)
        victim.kill()
        victim.wait(10)
    finally:
        victim.kill()
    # nobody hears the core cancel now: only the intent stored in KV can stop the redelivered order
    intent = await cancel(bus, op.id, "cancelled while its worker was dead")
    heir = await workers.start(worker_id="heir")
    record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=30)
    consumer = bus.names.work_consumer("dummy", "cpu")
    async with asyncio.timeout(20):  # the heir acks the dropped order once the claim has settled it
        while (info := await bus.js.consumer_info(bus.names.work_stream, consumer)).num_ack_pending:
            await asyncio.sleep(0.05)
    started = await bus.js.stream_info(bus.names.events_stream, subjects_filter=bus.names.event(op.id, "started"))
    assert intent.status == "running" and intent.cancel_requested
    assert record.status == "cancelled" and record.cancel_reason == "cancelled while its worker was dead"
    assert record.attempt == 1, "the cancelled operation was claimed and run again"
    assert heir.counters["fetched"] == 1 and not heir.running and info.num_pending == 0
    assert started.state.subjects == {bus.names.event(op.id, "started"): 1}


async def test_cancel_recorded_while_the_worker_is_cut_off_reaches_it_through_kv(
        fast: tuple[Bus, Settings], tmp_path: Path) -> None:
    bus, s = fast
    link = CuttableLink(s.nats_url)
    url = await link.start()
    op = await submit(bus, "dummy", "cpu", {"steps": 100, "step_seconds": 0.1})
    worker = spawn_worker_process(msgspec.structs.replace(s, nats_url=url), "dummy", "island", tmp_path)
    try:
        await wait_record(bus, op.id, lambda r: r.worker_id == "island" and r.progress.steps_completed >= 3)
        link.cut()
        intent = await cancel(bus, op.id, "cancelled while its worker was cut off")  # the core cancel is lost
        link.heal()  # the worker reconnects; its keep-alive reads the intent from KV
        record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=30)
    finally:
        worker.kill()
        await link.close()
    assert intent.status == "running" and intent.cancel_requested
    assert record.status == "cancelled" and record.cancel_reason == "cancelled while its worker was cut off"
    assert record.attempt == 1 and record.worker_id == "island" and record.progress.steps_completed < 100
