"""Model registry over `<ns>_models`: versioned bundles `{strategy}/{timeframe}_v{N}` and a latest pointer each.

Concurrent trainers: a version number is claimed by publishing the bundle's meta record with
`Nats-Expected-Last-Subject-Sequence: 0`, which the server accepts only if that name was never written
(a deleted version still has its delete marker, so a number never names two different bundles). A writer
that loses moves on to the next number and reuses the chunks it already uploaded. The `latest` pointer
moves by compare-and-set on its own revision and only forwards, so it ends on the highest version whatever
order two trainers finish in. The pointer's content is the target key; its headers carry target and version.
"""

from __future__ import annotations

from typing import Any

from nats.js.api import ObjectInfo
from nats.js.object_store import ObjectStore

from ktrdr.bus import objects_io as io
from ktrdr.bus.objects import ObjectNotFound, ThreadBridge
from ktrdr.errors import BusError, KtrdrError
from ktrdr.training.keys import bundle_key, latest_key, next_version, parse_bundle_key

MAX_ATTEMPTS = 100


class ModelRefError(KtrdrError, ValueError):
    """A model reference is malformed or matches bundles of several timeframes; `ref` is the reference."""

    def __init__(self, message: str, *, ref: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.ref = ref


async def save_bundle(store: ObjectStore, strategy: str, timeframe: str, data: bytes) -> str:
    """Store a bundle as the next free version of (strategy, timeframe), advance `latest`; returns its key."""
    bundle_key(strategy, timeframe, 1)  # validates the parts before anything is uploaded
    existing = [i.name for i in await io.infos(store, include_deleted=True)]
    staged = await io.upload(store, data)
    try:
        version = await _claim(store, staged, strategy, timeframe, next_version(existing, strategy, timeframe))
    except BaseException:
        await io.discard(store, staged.nuid)
        raise
    await _advance_latest(store, strategy, timeframe, version)
    return bundle_key(strategy, timeframe, version)


async def _claim(store: ObjectStore, staged: ObjectInfo, strategy: str, timeframe: str, first: int) -> int:
    for version in range(first, first + MAX_ATTEMPTS):
        headers = {"strategy": strategy, "timeframe": timeframe, "version": str(version)}
        try:
            await io.publish(store, staged, bundle_key(strategy, timeframe, version), headers, expect_seq=0)
            return version
        except io.ObjectConflict:
            continue  # another trainer took this number first
    raise BusError(f"could not claim a version of {strategy}/{timeframe} in {MAX_ATTEMPTS} tries",
                   hint="too many concurrent saves of one model; retry the save")


def _pointed_version(info: ObjectInfo | None) -> int:
    if info is None or info.deleted:
        return 0
    return int(io.decode_headers(info.headers).get("version", "0"))


async def _advance_latest(store: ObjectStore, strategy: str, timeframe: str, version: int) -> None:
    target = bundle_key(strategy, timeframe, version)
    # Compare-and-set that only moves forwards: a trainer finishing late must not point back at its older version.
    await io.swap(store, latest_key(strategy, timeframe), target.encode(), {"target": target, "version": str(version)},
                  keep=lambda current: _pointed_version(current) >= version)


async def list_models(store: ObjectStore) -> list[dict[str, Any]]:
    """Every stored bundle version: key, strategy, timeframe, version, size, created (ISO time)."""
    rows = []
    for info in await io.infos(store):
        if (parsed := parse_bundle_key(info.name)) is not None:
            strategy, timeframe, version = parsed
            rows.append({"key": info.name, "strategy": strategy, "timeframe": timeframe, "version": version,
                         "size": info.size or 0, "created": info.mtime or ""})
    return sorted(rows, key=lambda r: (r["strategy"], r["timeframe"], r["version"]))


async def resolve_model(store: ObjectStore, ref: str) -> str:
    """The versioned key named by `strategy`, `strategy@3`, `strategy/1h` (its latest) or `strategy/1h_v3`."""
    if parse_bundle_key(ref) is not None:
        return ref
    strategy, slash, timeframe = ref.partition("/")
    if slash:
        return await _latest(store, strategy, timeframe, ref)
    strategy, at, wanted = ref.partition("@")
    models = [m for m in await list_models(store) if m["strategy"] == strategy]
    if at:
        if not wanted.isdigit():
            raise ModelRefError(f"model reference {ref!r}: version {wanted!r} is not a number", ref=ref,
                                hint="write strategy@3")
        models = [m for m in models if m["version"] == int(wanted)]
    timeframes = sorted({m["timeframe"] for m in models})
    if not models:
        stored = sorted({m["strategy"] for m in await list_models(store)})
        raise ObjectNotFound(io.bucket_of(store), ref, hint=f"stored strategies: {stored or 'none'}")
    if len(timeframes) > 1:
        raise ModelRefError(f"model reference {ref!r} matches timeframes {timeframes}", ref=ref,
                            hint=f"name one, e.g. {strategy}/{timeframes[0]}")
    return models[-1]["key"] if at else await _latest(store, strategy, timeframes[0], ref)


async def _latest(store: ObjectStore, strategy: str, timeframe: str, ref: str) -> str:
    pointer = await io.live_info(store, latest_key(strategy, timeframe))
    target = io.decode_headers(pointer.headers).get("target", "") if pointer else ""
    if target and await io.live_info(store, target) is not None:
        return target
    # No pointer (a trainer died between claiming a version and moving it) or a deleted target: newest wins.
    versions = [m for m in await list_models(store) if (m["strategy"], m["timeframe"]) == (strategy, timeframe)]
    if not versions:
        raise ObjectNotFound(io.bucket_of(store), ref, hint="list stored models with list_models()")
    return versions[-1]["key"]


async def load_bundle(store: ObjectStore, ref: str) -> bytes:
    """The bundle bytes a reference names (see resolve_model); ObjectNotFound when absent."""
    key = await resolve_model(store, ref)
    data = await io.get(store, key)
    if data is None:
        raise ObjectNotFound(io.bucket_of(store), key, hint="list stored models with list_models()")
    return data


class ModelRegistry(ThreadBridge):
    """The model registry for worker threads (same semantics as the async functions)."""

    def save(self, strategy: str, timeframe: str, data: bytes) -> str:
        """Store the next version; returns its key."""
        return self._run(save_bundle(self.store, strategy, timeframe, data))

    def load(self, ref: str) -> bytes:
        """The bundle a reference names."""
        return self._run(load_bundle(self.store, ref))

    def resolve(self, ref: str) -> str:
        """The versioned key a reference names."""
        return self._run(resolve_model(self.store, ref))

    def list(self) -> list[dict[str, Any]]:
        """Every stored bundle version."""
        return self._run(list_models(self.store))
