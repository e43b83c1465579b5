"""data_load operations through an in-process data worker (pool ib) into the object store, read back elsewhere."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ktrdr.bus.handle import Bus
from ktrdr.bus.objects import ObjectFrameStore, object_stores
from ktrdr.config import Settings
from ktrdr.data import DataRepository, SyntheticProvider, write_csv
from ktrdr.operations.aggregator import Aggregator
from ktrdr.operations.submit import cancel, resume, submit
from ktrdr.protocol.codec import decode
from ktrdr.protocol.messages import WorkerHeartbeat
from ktrdr.workers.context import OperationContext
from ktrdr.workers.data import load_into_store, parse_params, run_data_load
from tests.helpers import spawn_worker_process, wait_record
from tests.integration.conftest import WorkerPool

JAN, FEB, MID_FEB = "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z", "2024-02-15T00:00:00Z"


def synthetic(seed: int, start: str, end: str, tf: str = "1h") -> pd.DataFrame:
    """The bars the synthetic source gives for [start, end)."""
    return SyntheticProvider(seed=seed).fetch("EURUSD", tf, start, end)


async def read_back(settings: Settings, symbol: str, tf: str) -> pd.DataFrame:
    """Load a series on a connection of its own, as a backtest worker would."""
    other = await Bus.open(settings, name="reader")
    try:
        stores = await object_stores(other.js, other.names)
        repo = DataRepository(ObjectFrameStore(stores.data, asyncio.get_running_loop()))
        return await asyncio.to_thread(repo.load, symbol, tf)
    finally:
        await other.close()


async def data_worker(workers: WorkerPool, handler: Any = run_data_load) -> None:
    """A data worker without IB, checkpointing to the object store."""
    await workers.start(handler, op_type="data", pool="ib", checkpoints=None, services={"ib": None})


async def load(bus: Bus, **params: Any) -> Any:
    """Submit a data load and wait for its terminal record."""
    op = await submit(bus, "data", "ib", params)
    return await wait_record(bus, op.id, lambda r: r.terminal, timeout=30)


async def test_synthetic_load_lands_in_the_store_and_reads_back_identical(
        bus: Bus, workers: WorkerPool, aggregator: Aggregator, settings: Settings) -> None:
    await data_worker(workers)
    record = await load(bus, symbol="eurusd", timeframe="1h", source="synthetic", mode="full", start=JAN, end=FEB,
                        seed=7)
    assert record.status == "completed", record.error
    expected = synthetic(7, JAN, FEB)
    r = record.result
    assert (r["status"], r["source"], r["symbol"], r["timeframe"]) == ("completed", "synthetic", "EURUSD", "1h")
    assert r["fetched_rows"] == r["stored_rows"] == len(expected)
    assert pd.Timestamp(r["first"]) == expected.index[0] and pd.Timestamp(r["last"]) == expected.index[-1]
    assert record.artifacts == {"data": "EURUSD/1h"}
    assert record.progress.steps_completed == record.progress.steps_total == r["segments_total"] >= 1
    pd.testing.assert_frame_equal(await read_back(settings, "EURUSD", "1h"), expected)


async def test_tail_after_full_fetches_only_new_bars(bus: Bus, workers: WorkerPool, aggregator: Aggregator,
                                                     settings: Settings) -> None:
    await data_worker(workers)
    first = await load(bus, symbol="EURUSD", timeframe="1h", source="synthetic", mode="full", start=JAN, end=FEB)
    assert first.status == "completed", first.error
    before_last = pd.Timestamp(first.result["last"])
    tail = await load(bus, symbol="EURUSD", timeframe="1h", source="synthetic", mode="tail", end=MID_FEB)
    assert tail.status == "completed", tail.error
    whole = synthetic(0, JAN, MID_FEB)
    new = whole.loc[whole.index > before_last]
    assert pd.Timestamp(tail.result["start"]) == before_last + pd.Timedelta(hours=1)
    assert tail.result["fetched_rows"] == len(new) > 0
    assert tail.result["stored_rows"] == len(whole)
    pd.testing.assert_frame_equal(await read_back(settings, "EURUSD", "1h"), whole)
    again = await load(bus, symbol="EURUSD", timeframe="1h", source="synthetic", mode="tail", end=MID_FEB)
    assert again.result["status"] == "up_to_date" and again.result["fetched_rows"] == 0


class WeeklyGated:
    """Synthetic bars in one-week segments; the third request blocks until the load is cancelled."""

    name = "synthetic"

    def __init__(self) -> None:
        self.inner, self.calls = SyntheticProvider(seed=3), 0
        self.gate = threading.Event()
        self.third_in_flight = threading.Event()

    def segment_span(self, timeframe: Any) -> pd.Timedelta:
        return pd.Timedelta(days=7)

    def earliest(self, symbol: str, timeframe: Any) -> pd.Timestamp:
        return self.inner.earliest(symbol, timeframe)

    def fetch(self, symbol: str, timeframe: Any, start: Any, end: Any, *, progress: Any = None,
              cancel: Any = None) -> pd.DataFrame:
        self.calls += 1
        if self.calls == 3 and not self.gate.is_set() and cancel is not None:
            self.third_in_flight.set()
            cancel.wait(20)  # a slow request in flight when the cancel arrives; it still completes
        return self.inner.fetch(symbol, timeframe, start, end)


async def cancelled_load(bus: Bus, workers: WorkerPool, settings: Settings) -> tuple[str, WeeklyGated]:
    """A nine-week full load cancelled while its third weekly segment is in flight; returns (op id, provider)."""
    provider = WeeklyGated()

    def handler(ctx: OperationContext) -> dict[str, Any]:
        return load_into_store(ctx, parse_params(ctx.parameters), provider)

    await data_worker(workers, handler)
    op = await submit(bus, "data", "ib", {"symbol": "EURUSD", "timeframe": "1h", "source": "synthetic",
                                          "mode": "full", "start": JAN, "end": "2024-03-04T00:00:00Z", "seed": 3})
    # the cancel must find the third request in flight: sent between segments, it would keep only two
    assert await asyncio.to_thread(provider.third_in_flight.wait, 20), "the third segment was never requested"
    await cancel(bus, op.id, "enough")
    record = await wait_record(bus, op.id, lambda r: r.terminal)
    assert record.status == "cancelled"
    return op.id, provider


async def test_cancel_between_segments_keeps_partial_data(bus: Bus, workers: WorkerPool, aggregator: Aggregator,
                                                          settings: Settings) -> None:
    await cancelled_load(bus, workers, settings)
    kept = SyntheticProvider(seed=3).fetch("EURUSD", "1h", JAN, "2024-01-22T00:00:00Z")  # three weekly segments
    pd.testing.assert_frame_equal(await read_back(settings, "EURUSD", "1h"), kept)


async def test_a_resumed_full_load_skips_the_saved_segments(bus: Bus, workers: WorkerPool, aggregator: Aggregator,
                                                            settings: Settings) -> None:
    op_id, provider = await cancelled_load(bus, workers, settings)
    provider.gate.set()
    await resume(bus, op_id)
    done = await wait_record(bus, op_id, lambda r: r.status == "completed" and r.attempt == 2)
    assert pd.Timestamp(done.result["start"]) == pd.Timestamp("2024-01-22T00:00:00Z"), "resumed at segment 4"
    assert provider.calls == 3 + 6  # the resumed attempt fetched only the six remaining weeks
    whole = SyntheticProvider(seed=3).fetch("EURUSD", "1h", JAN, "2024-03-04T00:00:00Z")
    pd.testing.assert_frame_equal(await read_back(settings, "EURUSD", "1h"), whole)


async def test_csv_source_and_bad_parameters(bus: Bus, workers: WorkerPool, aggregator: Aggregator,
                                             settings: Settings, tmp_path: Path) -> None:
    frame = synthetic(5, JAN, FEB, "4h")
    write_csv(frame, tmp_path / "EURUSD_4h.csv")
    await data_worker(workers)
    ok = await load(bus, symbol="EURUSD", timeframe="4h", source="csv", mode="full", csv_dir=str(tmp_path))
    assert ok.status == "completed", ok.error
    assert ok.result["source"] == "csv" and ok.result["fetched_rows"] == len(frame)
    pd.testing.assert_frame_equal(await read_back(settings, "EURUSD", "4h"), frame)

    typo = await load(bus, symbol="EURUSD", timeframe="1h", source="synthetic", mdoe="full")
    assert typo.status == "failed" and "mdoe" in typo.error.message
    no_ib = await load(bus, symbol="AAPL", timeframe="1d", source="ib")
    assert no_ib.status == "failed" and "--allow-no-ib" in no_ib.error.message
    bad_tf = await load(bus, symbol="EURUSD", timeframe="2h", source="synthetic")
    assert bad_tf.status == "failed" and "2h" in bad_tf.error.message


@pytest.mark.parametrize("params, field", [({"symbol": "X", "timeframe": "1h", "source": "csv"}, "csv_dir"),
                                           ({"symbol": "X", "timeframe": "1h", "start": "yesterday-ish"}, "start")])
def test_parameter_errors_name_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        parse_params(params)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_worker_process_without_ib_serves_synthetic_loads(bus: Bus, aggregator: Aggregator,
                                                                 settings: Settings, tmp_path: Path) -> None:
    """IB down is no reason to refuse synthetic and csv loads: the worker starts, says so, and keeps retrying IB."""
    port = str(closed_port())
    op = await submit(bus, "data", "ib", {"symbol": "EURUSD", "timeframe": "1d", "source": "synthetic",
                                          "mode": "full", "start": JAN, "end": FEB})
    beats = await bus.nc.subscribe(bus.names.heartbeat("data", "data-synthetic"))
    worker = spawn_worker_process(settings, "data", "data-synthetic", tmp_path, "--ib-port", port,
                                  "--ib-timeout", "1", "--burst")
    record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=60)
    beat = decode((await beats.next_msg(timeout=30)).data, WorkerHeartbeat)
    await beats.unsubscribe()
    _, err = await asyncio.to_thread(worker.communicate, timeout=60)
    assert record.status == "completed" and record.worker_id == "data-synthetic", record.error
    assert worker.returncode == 0 and "IB loads once it connects" in err.decode(), err.decode()
    assert beat.notes == {"ib": "disconnected"}  # what `ktrdr workers` shows beside the worker
    pd.testing.assert_frame_equal(await read_back(settings, "EURUSD", "1d"), synthetic(0, JAN, FEB, "1d"))
