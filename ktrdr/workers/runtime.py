"""The worker runtime every kind uses: heartbeats, one message per free slot, claims, graceful stop, burst mode."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
from collections.abc import Callable
from typing import Any

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import NotFoundError

from ktrdr.bus.handle import Bus
from ktrdr.bus.pull import BatchPuller
from ktrdr.context import Checkpointer, MemoryCheckpointer
from ktrdr.errors import BusError, ProtocolError
from ktrdr.operations import transitions as tr
from ktrdr.operations.cancel import CancelIntents, CancelRouter
from ktrdr.operations.store import OperationNotFound
from ktrdr.operations.submit import claim_hint
from ktrdr.protocol.codec import decode
from ktrdr.protocol.messages import GpuInfo, WorkOrder
from ktrdr.workers.chain import Chain
from ktrdr.workers.context import Handler
from ktrdr.workers.execution import Execution, ExecutionEnv
from ktrdr.workers.heartbeat import Heartbeater, WorkerIdentity
from ktrdr.workers.takeover import settle_from_log
from ktrdr.workers.threads import OperationThreads

log = logging.getLogger("ktrdr.workers")
CheckpointFactory = Callable[[str, asyncio.AbstractEventLoop], Checkpointer]


class Worker:
    """Serves one (operation type, pool) work queue with `capacity` concurrent operations."""

    def __init__(self, bus: Bus, *, kind: str, op_type: str, pool: str, handler: Handler, capacity: int = 1,
                 worker_id: str | None = None, grace_s: float = 10.0,
                 checkpoints: CheckpointFactory | None = None, services: dict[str, Any] | None = None,
                 gpu: GpuInfo | None = None) -> None:
        self.bus, self.kind, self.op_type, self.pool = bus, kind, op_type, pool
        self.handler, self.capacity, self.grace_s = handler, capacity, grace_s
        self.worker_id = worker_id or f"{kind}-{socket.gethostname().split('.')[0]}-{secrets.token_hex(3)}"
        self.services = services or {}
        self._checkpoints = checkpoints
        self.counters = {"fetched": 0, "acked": 0, "failed": 0, "cancelled": 0}
        self.running: dict[str, Execution] = {}
        self.restart_required = False
        self._slots = asyncio.Semaphore(capacity)
        # one spare thread so an abandoned operation does not starve the next one before the restart
        self.threads = OperationThreads(capacity + 1, f"{kind}-op")
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._settling: set[asyncio.Task] = set()  # finished operations whose records are being written
        self._stop_waiter: asyncio.Task | None = None
        self.router = CancelRouter(bus)
        self.chain = Chain(bus.nc, capacity, bus.names.work_stream, bus.names.work_consumer(op_type, pool))
        self._pull_s = 1.0  # how long a pull waits for an order (shorter in burst mode)
        self.env = ExecutionEnv(bus=bus, cancels=self.router, worker_id=self.worker_id, threads=self.threads,
                                grace_s=grace_s, services=self.services, counters=self.counters,
                                checkpointer_for=self.checkpointer_for)
        self.heartbeat = Heartbeater(bus, WorkerIdentity(self.worker_id, kind, pool, capacity), self.counters,
                                     self._state, gpu=gpu)
        self.heartbeat.notes = self._notes
        self.cancels = CancelIntents(bus)  # a bare `nats pub ktrdr.cancel.<id>` is stored even without a backend

    @property
    def status(self) -> str:
        """idle, busy or draining (as heartbeats report it)."""
        if self._stopping.is_set():
            return "draining"
        return "busy" if len(self.running) >= self.capacity else "idle"

    def _notes(self) -> dict[str, str]:
        """The state of every service that can tell it (an IB session: connected or not), for the heartbeat."""
        return {name: svc.state for name, svc in list(self.services.items()) if isinstance(getattr(svc, "state", None), str)}

    def _state(self) -> tuple[str, list[str]]:
        """(status, running operation ids), as the heartbeat reports them."""
        return self.status, list(self.running)

    def checkpointer_for(self, op_id: str, loop: asyncio.AbstractEventLoop) -> Checkpointer:
        """Where this operation's checkpoints live (the object store unless a factory was given)."""
        assert self._checkpoints is not None, "run() binds the checkpoint store"
        return self._checkpoints(op_id, loop)

    async def _bind_checkpoints(self) -> None:
        """Bind the object stores (handlers find them in `ctx.services["objects"]`) and the checkpoints."""
        from ktrdr.bus.objects import ObjectCheckpointer, object_stores

        stores = await object_stores(self.bus.js, self.bus.names)
        self.services.setdefault("objects", stores)
        if self._checkpoints is None:
            self._checkpoints = lambda op_id, loop: ObjectCheckpointer(stores.checkpoints, loop, op_id)

    async def run(self, *, burst: bool = False) -> None:
        """Heartbeat and serve until stop() — or, in burst mode, until the queue is empty."""
        puller = await self._bind()
        await self._bind_checkpoints()
        await self.cancels.start()
        await self.router.start()
        await self.chain.start()
        self._pull_s = 0.25 if burst else 1.0
        self.heartbeat.start()
        try:
            await self._serve(puller, burst)
        finally:
            await self._drain()
            await self.chain.close()
            if self._stop_waiter is not None:
                self._stop_waiter.cancel()
            self.threads.shutdown()
            await self.heartbeat.stop()
            await self.cancels.stop()
            await self.router.stop()
            await puller.stop()  # an order that came after the last fetch went goes back to the queue now

    async def _bind(self) -> BatchPuller:
        names = self.bus.names
        consumer = names.work_consumer(self.op_type, self.pool)
        try:
            await self.bus.js.consumer_info(names.work_stream, consumer)
        except NotFoundError:
            raise BusError(f"no work consumer for {self.op_type}/{self.pool} in namespace {names.ns}",
                           hint="run `ktrdr nats up` or start a backend to create the topology") from None
        puller = BatchPuller(self.bus.nc, names.work_stream, consumer)
        await puller.start()
        return puller

    async def _serve(self, puller: BatchPuller, burst: bool) -> None:
        """Fetch exactly one message per free slot, and only when a slot is free (free slots share one pull)."""
        while not self._stopping.is_set():
            await self._slots.acquire()
            free = 1
            while not self._slots.locked():  # claim every other free slot too, without waiting
                await self._slots.acquire()
                free += 1
            # the first message starts as soon as it arrives; the other free slots take only what is queued
            got = self._start_all(await self._fetch(puller, free))
            for _ in range(free - got):
                self._slots.release()
            if not got and burst and not self.running and await self._queue_empty():
                break

    def _start_all(self, msgs: list[Msg]) -> int:
        """Start each fetched message in its slot; how many."""
        for msg in msgs:
            self.counters["fetched"] += 1
            task = asyncio.create_task(self._slot(msg))
            self._tasks.add(task)
            task.add_done_callback(self._done)
        return len(msgs)

    async def _fetch(self, puller: BatchPuller, batch: int) -> list[Msg]:
        """Up to `batch` orders (one waited for, the rest already queued); none once stopping."""
        if self._stopping.is_set():
            return []
        fetch = asyncio.create_task(puller.fetch_ready(batch, self._pull_s))
        if self._stop_waiter is None:
            self._stop_waiter = asyncio.create_task(self._stopping.wait())
        done, _ = await asyncio.wait({fetch, self._stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
        if fetch not in done:
            fetch.cancel()
            return []
        try:
            return fetch.result()
        except (NatsTimeoutError, asyncio.TimeoutError):
            return []
        except Exception as exc:  # a leader election or reconnect: pause, then try again
            log.warning("fetch failed (%s); retrying in 0.5s", type(exc).__name__)
            await asyncio.sleep(0.5)
            return []

    async def _queue_empty(self) -> bool:
        names = self.bus.names
        info = await self.bus.js.consumer_info(names.work_stream, names.work_consumer(self.op_type, self.pool))
        return info.num_pending == 0 and info.num_ack_pending == 0

    def _settled(self, task: asyncio.Task) -> None:
        self._settling.discard(task)
        _log_failure(task, "settling an operation failed")

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._slots.release()
        _log_failure(task, "operation task crashed")

    async def _slot(self, msg: Msg) -> None:
        """Run `msg`, then every order the slot pulls as a handler returns, in the slot it took."""
        while True:
            next_order = await self._handle(msg)
            order = await next_order if next_order is not None else None
            if order is None:
                return
            if self._stopping.is_set():  # asked for before the stop: another worker takes it
                await order.nak()
                return
            self.counters["fetched"] += 1
            msg = order

    async def _handle(self, msg: Msg) -> asyncio.Future[Msg | None] | None:
        """Decode, claim (fencing stale and duplicate deliveries), run; the next order the slot asked for, if any."""
        try:
            order = decode(msg.data, WorkOrder, subject=msg.subject)
        except ProtocolError as exc:
            await self._reject(msg, _loose_id(msg.data), "bad_order", f"malformed work order: {exc}")
            return
        if order.type != self.op_type:
            await self._reject(msg, order.operation_id, "unknown_type",
                               f"a {self.op_type} worker cannot run a {order.type!r} operation")
            return
        if msg.metadata.num_delivered > 1 and await settle_from_log(self.bus, order.operation_id):
            await msg.ack()  # the last attempt finished; only its record and ack were lost
            return
        execution = Execution(self.env, msg, order.operation_id, self.handler)
        execution.listen()
        try:
            claim = tr.claim(order.dispatch, msg.metadata.num_delivered, self.worker_id, msg.reply)
            record, revision = await tr.apply_rev(self.bus.ops, order.operation_id, claim, claim_hint(order))
        except OperationNotFound:
            execution.close()
            await self._reject(msg, None, "unknown_operation", f"no record for {order.operation_id}")
            return
        if record is None or record.status != "running" or record.worker_id != self.worker_id:
            execution.close()
            if not await self._stale_copy(order, msg):
                await msg.ack()  # cancelled, finished or rerouted: drop this order
            return
        return await self._execute(execution, record, revision)

    async def _execute(self, execution: Execution, record: Any, revision: int) -> asyncio.Future[Msg | None] | None:
        execution.bind(record, revision)
        self.running[record.id] = execution
        try:  # records first: a crash can then cost at most the operations that are running
            outcome = await execution.run(after=set(self._settling))
        finally:
            self.running.pop(record.id, None)
            if execution.abandoned:
                self.restart_required = True
                self._stopping.set()
        settling = asyncio.create_task(execution.settle(outcome), name=f"settle-{record.id}")
        self._settling.add(settling)
        settling.add_done_callback(self._settled)
        await asyncio.sleep(0)  # the settle sends its writes first: the pull leaves with them, in one write
        # the slot is free once the handler returns: its next order comes while this one's record is written
        return None if self._stopping.is_set() else await self.chain.pull(self._pull_s)

    async def _stale_copy(self, order: WorkOrder, msg: Msg) -> bool:
        """True when a later delivery of this very message runs it: acking ours would remove theirs."""
        record = await self.bus.ops.find(order.operation_id)
        return record is not None and record.runs_later_delivery(order.dispatch, msg.metadata.num_delivered)

    async def _reject(self, msg: Msg, op_id: str | None, code: str, message: str) -> None:
        """Fail the operation if we can identify it, terminate the message, keep serving."""
        log.warning("rejecting message on %s: %s", msg.subject, message)
        self.counters["failed"] += 1
        if op_id:
            try:
                await tr.apply(self.bus.ops, op_id, tr.fail_now(code, message))
            except (OperationNotFound, ProtocolError):
                pass
        await msg.term()

    def stop(self) -> None:
        """Graceful stop: no more fetching; running operations checkpoint and are requeued."""
        self._stopping.set()
        self.chain.give_up()
        for execution in list(self.running.values()):
            execution.request_shutdown()

    async def _drain(self) -> None:
        self.stop()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.grace_s + 5)
        if self._settling:
            await asyncio.wait(set(self._settling), timeout=self.grace_s + 5)


def _log_failure(task: asyncio.Task, what: str) -> None:
    """Log the exception a finished task ended with, if it ended with one."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("%s: %r", what, exc)


def _loose_id(data: bytes) -> str | None:
    """Best-effort operation id from a body that failed strict decoding."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting is garbage too, not a crash
        return None
    op_id = value.get("operation_id") if isinstance(value, dict) else None
    return op_id if isinstance(op_id, str) and op_id else None


__all__ = ["MemoryCheckpointer", "Worker"]
