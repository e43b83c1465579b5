"""Object-store adapters against a real server: frames, checkpoints, results, the thread bridge, interop."""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pandas as pd
import pytest
from nats.aio.client import Client
from nats.js.api import ObjectMeta

from ktrdr.backtesting.book import LEDGER_COLUMNS
from ktrdr.backtesting.result import BacktestResult
from ktrdr.bus import objects_io as io
from ktrdr.bus.connection import connect
from ktrdr.bus.objects import (BusTimeout, LoopThreadError, ObjectCheckpointer, ObjectFrameStore, ObjectNotFound,
                               ResultStore, delete_checkpoint, frame_meta, list_results, load_result, object_stores,
                               run_sync, save_result)
from ktrdr.config import Settings
from ktrdr.data import DataNotFoundError, DataRepository, SyntheticProvider
from ktrdr.protocol.subjects import Names

pytestmark = pytest.mark.integration


async def test_frame_saved_from_a_thread_reads_back_identical_on_another_connection(
        nc: Client, topology: Names, settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    df = SyntheticProvider(7).fetch("EURUSD", "5m", "2024-01-01", "2024-02-01")
    writer = DataRepository(ObjectFrameStore((await object_stores(nc.jetstream(), topology)).data, loop))
    meta = await asyncio.to_thread(writer.save, "EURUSD", "5m", df, "synthetic")

    other = await connect(settings, name="reader")
    try:
        store = ObjectFrameStore((await object_stores(other.jetstream(), topology)).data, loop)
        loaded = await asyncio.to_thread(DataRepository(store).load, "EURUSD", "5m")
        assert await asyncio.to_thread(store.info, "EURUSD/5m") == meta
        assert await asyncio.to_thread(store.keys) == ["EURUSD/5m"]
    finally:
        await other.close()
    pd.testing.assert_frame_equal(loaded, df)
    assert "digest" in meta


async def test_missing_series_and_empty_bucket(nc: Client, topology: Names) -> None:
    store = ObjectFrameStore((await object_stores(nc.jetstream(), topology)).data, asyncio.get_running_loop())
    assert await asyncio.to_thread(store.keys) == []
    assert await asyncio.to_thread(store.get, "EURUSD/1h") is None
    assert await asyncio.to_thread(store.info, "EURUSD/1h") is None
    with pytest.raises(DataNotFoundError):
        await asyncio.to_thread(DataRepository(store).load, "EURUSD", "1h")


async def test_replacing_an_object_leaves_only_its_new_chunks(nc: Client, topology: Names) -> None:
    stores = await object_stores(nc.jetstream(), topology)
    first, second = os.urandom(300_000), os.urandom(200_000)  # 3 chunks, then 2
    await io.put(stores.data, "X/1h", first, {"v": "1"})
    await io.put(stores.data, "X/1h", second, {"v": "2"})
    assert await io.get(stores.data, "X/1h") == second
    state = (await nc.jetstream().stream_info(f"OBJ_{topology.bucket('data')}")).state
    assert state.messages == 1 + 2  # one meta record and the second upload's chunks


async def test_racing_writers_of_one_name_leave_one_object_and_no_orphans(nc: Client, topology: Names) -> None:
    store = (await object_stores(nc.jetstream(), topology)).data
    blobs = [os.urandom(150_000) for _ in range(4)]  # 2 chunks each
    await asyncio.gather(*(io.put(store, "Y/1h", b, {"i": str(i)}) for i, b in enumerate(blobs)))
    winner = int((await frame_meta(store, "Y/1h"))["i"])
    assert await io.get(store, "Y/1h") == blobs[winner]
    state = (await nc.jetstream().stream_info(f"OBJ_{topology.bucket('data')}")).state
    assert state.messages == 1 + 2


async def test_objects_interoperate_with_nats_py(nc: Client, topology: Names) -> None:
    store = (await object_stores(nc.jetstream(), topology)).results
    ours, theirs = os.urandom(300_001), os.urandom(140_000)
    await io.put(store, "ours", ours, {"k": "v"})
    await store.put("theirs", theirs, meta=ObjectMeta(headers={"k": ["w"]}))
    assert (await store.get("ours")).data == ours
    assert (await store.get_info("ours")).headers == {"k": ["v"]}
    assert await io.get(store, "theirs") == theirs
    assert io.decode_headers((await io.live_info(store, "theirs")).headers) == {"k": "w"}


async def test_a_digest_mismatch_is_reported(nc: Client, topology: Names) -> None:
    store = (await object_stores(nc.jetstream(), topology)).data
    staged = await io.upload(store, b"payload")
    forged = (await io.upload(store, b"another")).digest
    staged.digest = forged
    await io.publish(store, staged, "bad", {})
    with pytest.raises(io.CorruptObject, match="bad"):
        await io.get(store, "bad")


async def test_checkpointer_round_trip_and_delete(nc: Client, topology: Names) -> None:
    store = (await object_stores(nc.jetstream(), topology)).checkpoints
    loop = asyncio.get_running_loop()
    cp, other = ObjectCheckpointer(store, loop, "op-1"), ObjectCheckpointer(store, loop, "op-2")
    assert await asyncio.to_thread(cp.load) is None
    await asyncio.to_thread(cp.save, b"epoch 1")
    await asyncio.to_thread(cp.save, b"epoch 2")
    assert await asyncio.to_thread(cp.load) == b"epoch 2"
    assert await asyncio.to_thread(other.load) is None
    assert await delete_checkpoint(store, "op-1") is True
    assert await delete_checkpoint(store, "op-1") is False
    assert await asyncio.to_thread(cp.load) is None
    with pytest.raises(ValueError, match="operation id"):
        ObjectCheckpointer(store, loop, "a/b")


def _result() -> BacktestResult:
    index = pd.date_range("2024-01-01", periods=50, freq="1h", tz="UTC", name="timestamp")
    equity = pd.Series(np.linspace(10_000, 10_500, 50), index=index, name="equity")
    return BacktestResult.build(np.zeros((0, len(LEDGER_COLUMNS))), equity, index, 10_000.0)


async def test_result_round_trip_between_async_and_thread(nc: Client, topology: Names) -> None:
    store = (await object_stores(nc.jetstream(), topology)).results
    result = _result()
    key = await asyncio.to_thread(ResultStore(store, asyncio.get_running_loop()).save, "op-9", "result.npz",
                                  result.to_bytes())
    await save_result(store, "op-9", "summary.json", b"{}")
    assert key == "op-9/result.npz"
    back = BacktestResult.from_bytes(await load_result(store, "op-9", "result.npz"))
    pd.testing.assert_series_equal(back.equity, result.equity, check_freq=False)
    assert back.metrics == result.metrics
    assert await list_results(store, "op-9") == ["result.npz", "summary.json"]
    with pytest.raises(ObjectNotFound, match="op-9/trades") as err:
        await load_result(store, "op-9", "trades")
    assert "result.npz" in str(err.value)


async def test_sync_adapter_on_the_loop_thread_raises_instead_of_deadlocking(nc: Client, topology: Names) -> None:
    store = ObjectFrameStore((await object_stores(nc.jetstream(), topology)).data, asyncio.get_running_loop())
    with pytest.raises(LoopThreadError, match="worker thread"):
        store.keys()


async def test_bridge_times_out_but_passes_the_coroutines_own_errors_through() -> None:
    loop = asyncio.get_running_loop()

    async def fails() -> None:
        raise TimeoutError("from the coroutine")

    with pytest.raises(BusTimeout, match="0.05s"):
        await asyncio.to_thread(run_sync, loop, asyncio.Event().wait(), 0.05)  # a coroutine that never ends
    with pytest.raises(TimeoutError, match="from the coroutine") as err:
        await asyncio.to_thread(run_sync, loop, fails(), 5.0)
    assert not isinstance(err.value, BusTimeout)
