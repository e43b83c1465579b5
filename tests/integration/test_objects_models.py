"""The model registry against a real server: versions, the latest pointer, references, concurrent saves."""

from __future__ import annotations

import asyncio

import pytest
import torch
from nats.aio.client import Client

from ktrdr.bus import objects_io as io
from ktrdr.bus.connection import connect
from ktrdr.bus.objects import ObjectNotFound, object_stores
from ktrdr.bus.objects_models import (ModelRefError, ModelRegistry, _advance_latest, list_models, load_bundle,
                                      resolve_model, save_bundle)
from ktrdr.config import Settings
from ktrdr.protocol.subjects import Names
from ktrdr.training.bundle import ModelBundle, latest_key
from ktrdr.training.keys import model_line

pytestmark = pytest.mark.integration


async def test_versions_increment_and_latest_follows(nc: Client, topology: Names) -> None:
    store = (await object_stores(nc.jetstream(), topology)).models
    keys = [await save_bundle(store, "trend", "1h", f"bundle {i}".encode()) for i in (1, 2, 3)]
    assert keys == ["trend/1h_v1", "trend/1h_v2", "trend/1h_v3"]
    assert await load_bundle(store, "trend/1h") == b"bundle 3"
    assert await load_bundle(store, "trend") == b"bundle 3"
    assert await load_bundle(store, "trend@2") == b"bundle 2"
    assert await load_bundle(store, "trend/1h_v1") == b"bundle 1"
    assert await io.get(store, latest_key("trend", "1h")) == b"trend/1h_v3"
    rows = await list_models(store)
    assert [(r["key"], r["version"], r["size"]) for r in rows] == [(k, i, 8) for i, k in enumerate(keys, 1)]
    assert all(r["strategy"] == "trend" and r["timeframe"] == "1h" and r["created"] for r in rows)


async def test_references_that_name_nothing_or_several(nc: Client, topology: Names) -> None:
    store = (await object_stores(nc.jetstream(), topology)).models
    with pytest.raises(ObjectNotFound, match="none"):
        await load_bundle(store, "trend")
    await save_bundle(store, "trend", "1h", b"a")
    await save_bundle(store, "trend", "4h", b"b")
    with pytest.raises(ModelRefError, match=r"\['1h', '4h'\]"):
        await resolve_model(store, "trend")
    with pytest.raises(ModelRefError, match="not a number"):
        await resolve_model(store, "trend@x")
    with pytest.raises(ObjectNotFound):
        await load_bundle(store, "trend/1d")
    with pytest.raises(ObjectNotFound):
        await load_bundle(store, "trend/1h_v9")
    with pytest.raises(ObjectNotFound, match="trend"):
        await load_bundle(store, "other@1")


async def test_concurrent_saves_get_distinct_versions(nc: Client, topology: Names, settings: Settings,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    store = (await object_stores(nc.jetstream(), topology)).models
    publish, conflicts = io.publish, []

    async def counting(*args: object, **kwargs: object) -> object:
        try:
            return await publish(*args, **kwargs)
        except io.ObjectConflict as exc:
            conflicts.append(exc.name)
            raise

    monkeypatch.setattr(io, "publish", counting)
    other = await connect(settings, name="trainer-2")
    try:
        store2 = (await object_stores(other.jetstream(), topology)).models
        blobs = [f"model {i}".encode() for i in range(6)]
        keys = await asyncio.gather(*(save_bundle(store if i % 2 else store2, "race", "1h", b)
                                      for i, b in enumerate(blobs)))
    finally:
        await other.close()
    assert conflicts, "all six saves should have started from the same listing and collided"
    assert sorted(keys) == [f"race/1h_v{v}" for v in range(1, 7)]
    for key, blob in zip(keys, blobs):
        assert await load_bundle(store, key) == blob
    assert await resolve_model(store, "race/1h") == "race/1h_v6"
    state = (await nc.jetstream().stream_info(f"OBJ_{topology.bucket('models')}")).state
    assert state.messages == 6 * 2 + 2  # meta + one chunk per version, and the pointer's: no orphaned uploads


async def test_a_taken_version_is_refused_by_the_server(nc: Client, topology: Names) -> None:
    store = (await object_stores(nc.jetstream(), topology)).models
    first, second = await io.upload(store, b"one"), await io.upload(store, b"two")
    await io.publish(store, first, "s/1h_v1", {}, expect_seq=0)
    with pytest.raises(io.ObjectConflict):
        await io.publish(store, second, "s/1h_v1", {}, expect_seq=0)
    await io.delete(store, "s/1h_v1")
    assert await save_bundle(store, "s", "1h", b"three") == "s/1h_v2"  # a deleted number is never reused


async def test_latest_never_moves_backwards_and_survives_its_loss(nc: Client, topology: Names) -> None:
    store = (await object_stores(nc.jetstream(), topology)).models
    for blob in (b"v1", b"v2"):
        await save_bundle(store, "m", "1h", blob)
    await _advance_latest(store, "m", "1h", 1)  # a slow trainer finishing late
    assert await resolve_model(store, "m/1h") == "m/1h_v2"
    await io.delete(store, latest_key("m", "1h"))
    assert await load_bundle(store, "m/1h") == b"v2"
    assert await save_bundle(store, "m", "1h", b"v3") == "m/1h_v3"
    assert await resolve_model(store, "m") == "m/1h_v3"


async def test_registry_from_a_thread_round_trips_a_bundle(nc: Client, topology: Names) -> None:
    registry = ModelRegistry((await object_stores(nc.jetstream(), topology)).models, asyncio.get_running_loop())
    bundle = ModelBundle(weights={"w": torch.arange(4.0)}, model_config={"type": "mlp"},
                         output_format="classification", feature_names=["rsi"], strategy="trend", timeframe="1h")
    key = await asyncio.to_thread(registry.save, "trend", "1h", bundle.to_bytes())
    back = ModelBundle.from_bytes(await asyncio.to_thread(registry.load, "trend"))
    assert key == "trend/1h_v1" and await asyncio.to_thread(registry.resolve, "trend@1") == key
    assert torch.equal(back.weights["w"], bundle.weights["w"]) and back.feature_names == ["rsi"]
    assert [r["key"] for r in await asyncio.to_thread(registry.list)] == [key]


async def test_a_symbol_set_is_its_own_line(nc: Client, topology: Names) -> None:
    store = (await object_stores(nc.jetstream(), topology)).models
    basket = model_line(["EURUSD", "GBPUSD"], "1h")
    assert await save_bundle(store, "fx", "1h", b"single") == "fx/1h_v1"
    assert await save_bundle(store, "fx", basket, b"basket") == "fx/EURUSD+GBPUSD_1h_v1"
    rows = await list_models(store)
    assert [(r["line"], r["symbols"], r["timeframe"]) for r in rows] == [
        ("1h", [], "1h"), (basket, ["EURUSD", "GBPUSD"], "1h")]
    assert await load_bundle(store, "fx/1h") == b"single"  # the exact line wins over the symbol set's
    assert await load_bundle(store, f"fx/{basket}") == b"basket"
    with pytest.raises(ModelRefError, match=r"\['1h', 'EURUSD\+GBPUSD_1h'\]"):
        await resolve_model(store, "fx")
    await save_bundle(store, "basket_only", basket, b"b1")
    await save_bundle(store, "basket_only", model_line(["EURUSD", "USDJPY"], "1h"), b"b2")
    with pytest.raises(ModelRefError, match="EURUSD\\+USDJPY_1h"):  # two symbol sets on 1h: name one
        await resolve_model(store, "basket_only/1h")
    assert await load_bundle(store, "basket_only/EURUSD+USDJPY_1h") == b"b2"
