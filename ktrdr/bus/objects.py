"""Object Store adapters: the domain's FrameStore and Checkpointer, and result blobs, over NATS buckets.

Threading model: the nats client lives on an asyncio loop (main thread) while operations run in a worker
thread. The async functions are for code on the loop; the classes are for the worker thread and hop onto
the loop with run_coroutine_threadsafe. Calling a class from the loop thread itself would deadlock, so it
raises LoopThreadError instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from nats.js import JetStreamContext
from nats.js.object_store import ObjectStore

from ktrdr.bus import objects_io as io
from ktrdr.errors import BusError, KtrdrError
from ktrdr.protocol.subjects import Names, check_token

if TYPE_CHECKING:
    from ktrdr.backtesting import BacktestResult
    from ktrdr.operations.record import OperationRecord

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 60.0


class LoopThreadError(KtrdrError, RuntimeError):
    """A sync adapter was called on the event loop's own thread, where waiting for the loop would deadlock."""


class BusTimeout(BusError, TimeoutError):
    """An object-store call did not finish within the adapter's timeout."""


class ObjectNotFound(KtrdrError, LookupError):
    """The object asked for does not exist; `bucket` and `name` say which."""

    def __init__(self, bucket: str, name: str, *, hint: str | None = None) -> None:
        super().__init__(f"no object {name!r} in bucket {bucket}", hint=hint)
        self.bucket, self.name = bucket, name


@dataclass(frozen=True)
class ObjectStores:
    """The namespace's four object-store buckets."""

    data: ObjectStore
    models: ObjectStore
    checkpoints: ObjectStore
    results: ObjectStore


async def object_stores(js: JetStreamContext, names: Names) -> ObjectStores:
    """Bind the data, models, checkpoints and results buckets (they must exist: see ensure_topology)."""
    return ObjectStores(*[await js.object_store(names.bucket(b)) for b in ("data", "models", "checkpoints",
                                                                              "results")])


def run_sync(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T],
             timeout: float = DEFAULT_TIMEOUT_S) -> T:
    """Run `coro` on `loop` from another thread and wait for its result (BusTimeout after `timeout`)."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop or not loop.is_running():
        coro.close()
        what = "on the event loop's own thread" if running is loop else "while its event loop is not running"
        raise LoopThreadError(f"sync object-store adapter called {what}",
                              hint="call it from a worker thread (asyncio.to_thread), or await the async function")
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    done, _ = concurrent.futures.wait([future], timeout)
    if not done:
        future.cancel()
        raise BusTimeout(f"object-store call did not finish within {timeout:g}s",
                         hint="check the NATS connection, or raise the adapter's timeout for large objects")
    return future.result()


class ThreadBridge:
    """A bucket plus the loop that owns its connection, for use from worker threads."""

    def __init__(self, store: ObjectStore, loop: asyncio.AbstractEventLoop, *,
                 timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.store, self.loop, self.timeout = store, loop, timeout

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return run_sync(self.loop, coro, self.timeout)


# -- data ---------------------------------------------------------------------------------------------------

async def frame_meta(store: ObjectStore, key: str) -> dict[str, str] | None:
    """The metadata given when `key` was stored, or None when absent."""
    info = await io.live_info(store, key)
    return None if info is None else io.decode_headers(info.headers)


async def object_keys(store: ObjectStore) -> list[str]:
    """Names of every live object in the bucket, sorted ([] when empty)."""
    return [i.name for i in await io.infos(store)]


class ObjectFrameStore(ThreadBridge):
    """The data FrameStore over the `<ns>_data` bucket: key `SYMBOL/tf` is the object name, meta its headers."""

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None if absent."""
        return self._run(io.get(self.store, key))

    def put(self, key: str, data: bytes, meta: dict[str, str]) -> None:
        """Store (replace) an object with its metadata."""
        self._run(io.put(self.store, key, data, meta))

    def info(self, key: str) -> dict[str, str] | None:
        """The metadata given to put, or None if absent."""
        return self._run(frame_meta(self.store, key))

    def keys(self) -> list[str]:
        """All object keys, sorted."""
        return self._run(object_keys(self.store))


# -- checkpoints --------------------------------------------------------------------------------------------

async def load_checkpoint(store: ObjectStore, operation_id: str) -> bytes | None:
    """The operation's last checkpoint, or None."""
    return await io.get(store, check_token(operation_id, "operation id"))


async def save_checkpoint(store: ObjectStore, operation_id: str, state: bytes) -> None:
    """Replace the operation's checkpoint."""
    await io.put(store, check_token(operation_id, "operation id"), state, {"operation_id": operation_id})


async def delete_checkpoint(store: ObjectStore, operation_id: str) -> bool:
    """Drop the operation's checkpoint; False when it had none."""
    return await io.delete(store, check_token(operation_id, "operation id"))


class ObjectCheckpointer(ThreadBridge):
    """The Checkpointer protocol over `<ns>_checkpoints`: one object per operation id."""

    def __init__(self, store: ObjectStore, loop: asyncio.AbstractEventLoop, operation_id: str, *,
                 timeout: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__(store, loop, timeout=timeout)
        self.operation_id = check_token(operation_id, "operation id")

    def load(self) -> bytes | None:
        """The last saved state, or None for a fresh start."""
        return self._run(load_checkpoint(self.store, self.operation_id))

    def save(self, state: bytes) -> None:
        """Persist a state (blocks the calling thread until the server has it)."""
        self._run(save_checkpoint(self.store, self.operation_id, state))


# -- results ------------------------------------------------------------------------------------------------

def result_name(operation_id: str, name: str) -> str:
    """Object name of one result blob: `<operation_id>/<name>`."""
    if not name or name.startswith("/"):
        raise ValueError(f"result name {name!r} must be non-empty and not start with '/'")
    return f"{check_token(operation_id, 'operation id')}/{name}"


async def save_result(store: ObjectStore, operation_id: str, name: str, data: bytes) -> str:
    """Store one result blob of an operation; returns its object name."""
    key = result_name(operation_id, name)
    await io.put(store, key, data, {"operation_id": operation_id, "name": name})
    return key


async def load_result(store: ObjectStore, operation_id: str, name: str) -> bytes:
    """One result blob; ObjectNotFound when the operation stored none under `name`."""
    key = result_name(operation_id, name)
    data = await io.get(store, key)
    if data is None:
        stored = await list_results(store, operation_id)
        raise ObjectNotFound(io.bucket_of(store), key, hint=f"this operation stored: {stored or 'nothing'}")
    return data


async def list_results(store: ObjectStore, operation_id: str) -> list[str]:
    """Names (without the operation prefix) of every result blob of an operation."""
    prefix = check_token(operation_id, "operation id") + "/"
    return [k[len(prefix):] for k in await object_keys(store) if k.startswith(prefix)]


BACKTEST_RESULT = "backtest"  # a backtest's BacktestResult blob: `<op_id>/backtest` in the results bucket


async def backtest_result(js: JetStreamContext, names: Names, record: OperationRecord) -> BacktestResult | None:
    """The backtest result an operation stored (its `result` artifact), None when it stored none."""
    if "result" not in record.artifacts:
        return None
    from ktrdr.backtesting import BacktestResult  # pandas: only once a result is asked for

    store = await js.object_store(names.bucket("results"))
    return BacktestResult.from_bytes(await load_result(store, record.id, BACKTEST_RESULT))


class ResultStore(ThreadBridge):
    """Result blobs over `<ns>_results`, for worker threads."""

    def save(self, operation_id: str, name: str, data: bytes) -> str:
        """Store one result blob; returns its object name."""
        return self._run(save_result(self.store, operation_id, name, data))

    def load(self, operation_id: str, name: str) -> bytes:
        """One result blob; ObjectNotFound when absent."""
        return self._run(load_result(self.store, operation_id, name))

    def list(self, operation_id: str) -> list[str]:
        """Names of an operation's result blobs."""
        return self._run(list_results(self.store, operation_id))
