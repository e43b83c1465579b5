"""Model registry over `<ns>_models`: versioned bundles `{strategy}/{line}_v{N}` and a latest pointer each
(the line is the timeframe, or `{SYM1+SYM2}_{timeframe}` for a multi-symbol model: see ktrdr.training.keys).

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
from ktrdr.training.keys import bundle_key, latest_key, next_version, parse_bundle_key, split_line

MAX_ATTEMPTS = 100


class ModelRefError(KtrdrError, ValueError):
    """A model reference is malformed or matches bundles of several lines; `ref` is the reference."""

    def __init__(self, message: str, *, ref: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.ref = ref


async def save_bundle(store: ObjectStore, strategy: str, line: str, data: bytes) -> str:
    """Store a bundle as the next free version of (strategy, line), advance `latest`; returns its key.

    `line` is a timeframe, or what keys.model_line makes of a symbol set and a timeframe."""
    bundle_key(strategy, line, 1)  # validates the parts before anything is uploaded
    existing = [i.name for i in await io.infos(store, include_deleted=True)]
    staged = await io.upload(store, data)
    try:
        version = await _claim(store, staged, strategy, line, next_version(existing, strategy, line))
    except BaseException:
        await io.discard(store, staged.nuid)
        raise
    await _advance_latest(store, strategy, line, version)
    return bundle_key(strategy, line, version)


async def _claim(store: ObjectStore, staged: ObjectInfo, strategy: str, line: str, first: int) -> int:
    for version in range(first, first + MAX_ATTEMPTS):
        headers = {"strategy": strategy, "line": line, "version": str(version)}
        try:
            await io.publish(store, staged, bundle_key(strategy, line, version), headers, expect_seq=0)
            return version
        except io.ObjectConflict:
            continue  # another trainer took this number first
    raise BusError(f"could not claim a version of {strategy}/{line} in {MAX_ATTEMPTS} tries",
                   hint="too many concurrent saves of one model; retry the save")


def _pointed_version(info: ObjectInfo | None) -> int:
    if info is None or info.deleted:
        return 0
    return int(io.decode_headers(info.headers).get("version", "0"))


async def _advance_latest(store: ObjectStore, strategy: str, line: str, version: int) -> None:
    target = bundle_key(strategy, line, version)
    # Compare-and-set that only moves forwards: a trainer finishing late must not point back at its older version.
    await io.swap(store, latest_key(strategy, line), target.encode(), {"target": target, "version": str(version)},
                  keep=lambda current: _pointed_version(current) >= version)


async def list_models(store: ObjectStore) -> list[dict[str, Any]]:
    """Every stored bundle version: key, strategy, line, symbols (of a multi-symbol line), timeframe, version,
    size, created (ISO time)."""
    rows = []
    for info in await io.infos(store):
        if (parsed := parse_bundle_key(info.name)) is not None:
            strategy, line, version = parsed
            symbols, timeframe = split_line(line)
            rows.append({"key": info.name, "strategy": strategy, "line": line, "symbols": symbols,
                         "timeframe": timeframe, "version": version, "size": info.size or 0,
                         "created": info.mtime or ""})
    return sorted(rows, key=lambda r: (r["strategy"], r["line"], r["version"]))


async def resolve_model(store: ObjectStore, ref: str) -> str:
    """The versioned key named by `strategy`, `strategy@3`, `strategy/1h` (its latest), `strategy/1h_v3`, or
    the same with a multi-symbol line (`strategy/EURUSD+GBPUSD_1h`); `strategy/1h` also finds the one line of 1h."""
    if parse_bundle_key(ref) is not None:
        return ref
    strategy, slash, line = ref.partition("/")
    if slash:
        return await _latest(store, strategy, await _line_of(store, strategy, line, ref), ref)
    strategy, at, wanted = ref.partition("@")
    models = [m for m in await list_models(store) if m["strategy"] == strategy]
    if at:
        if not wanted.isdigit():
            raise ModelRefError(f"model reference {ref!r}: version {wanted!r} is not a number", ref=ref,
                                hint="write strategy@3")
        models = [m for m in models if m["version"] == int(wanted)]
    lines = sorted({m["line"] for m in models})
    if not models:
        stored = sorted({m["strategy"] for m in await list_models(store)})
        raise ObjectNotFound(io.bucket_of(store), ref, hint=f"stored strategies: {stored or 'none'}")
    if len(lines) > 1:
        raise ModelRefError(f"model reference {ref!r} matches lines {lines}", ref=ref,
                            hint=f"name one, e.g. {strategy}/{lines[0]}")
    return models[-1]["key"] if at else await _latest(store, strategy, lines[0], ref)


async def _line_of(store: ObjectStore, strategy: str, line: str, ref: str) -> str:
    """`line` itself when stored; else the one stored line of `strategy` whose timeframe is `line`."""
    models = [m for m in await list_models(store) if m["strategy"] == strategy]
    if not models or any(m["line"] == line for m in models):
        return line
    matches = sorted({m["line"] for m in models if m["timeframe"] == line})
    if len(matches) > 1:
        raise ModelRefError(f"model reference {ref!r} matches lines {matches}", ref=ref,
                            hint=f"name one, e.g. {strategy}/{matches[0]}")
    return matches[0] if matches else line


async def _latest(store: ObjectStore, strategy: str, line: str, ref: str) -> str:
    pointer = await io.live_info(store, latest_key(strategy, line))
    target = io.decode_headers(pointer.headers).get("target", "") if pointer else ""
    if target and await io.live_info(store, target) is not None:
        return target
    # No pointer (a trainer died between claiming a version and moving it) or a deleted target: newest wins.
    versions = [m for m in await list_models(store) if (m["strategy"], m["line"]) == (strategy, line)]
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

    def save(self, strategy: str, line: str, data: bytes) -> str:
        """Store the next version; returns its key."""
        return self._run(save_bundle(self.store, strategy, line, data))

    def load(self, ref: str) -> bytes:
        """The bundle a reference names."""
        return self._run(load_bundle(self.store, ref))

    def resolve(self, ref: str) -> str:
        """The versioned key a reference names."""
        return self._run(resolve_model(self.store, ref))

    def list(self) -> list[dict[str, Any]]:
        """Every stored bundle version."""
        return self._run(list_models(self.store))
