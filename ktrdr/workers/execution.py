"""One claimed work order from start to ack: events, keep-alive, cancellation, terminal state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from nats.aio.msg import Msg

from ktrdr.bus.handle import Bus
from ktrdr.bus.retry import TRANSIENT, persist
from ktrdr.context import Checkpointer, ProgressReporter
from ktrdr.errors import OperationCancelled, RetryableError
from ktrdr.operations import transitions as tr
from ktrdr.operations.cancel import SHUTDOWN_REASON, CancelKind, CancelRouter, CancelWatch
from ktrdr.operations.record import OperationRecord, Progress
from ktrdr.protocol.codec import encode
from ktrdr.protocol.messages import (
    ErrorInfo, OperationCancelledEvent, OperationCompleted, OperationFailed, OperationLog, OperationStarted,
    event_kind, now_ns,
)
from ktrdr.workers.context import Handler, OperationContext
from ktrdr.workers.pump import ProgressPump
from ktrdr.workers.threads import OperationThreads
from ktrdr.bus.tasks import stop_tasks

log = logging.getLogger("ktrdr.workers")
# `started` waits this long for the next event, so that a short operation's `started` and terminal event travel in
# one write to the server (one send instead of two); a longer one's `started` goes out when this runs out
STARTED_LINGER_S = 0.005
CANCEL_POLL_S = 0.25  # how often a running operation's cancel token is looked at, to start its grace period


@dataclass(frozen=True)
class ExecutionEnv:
    """What an execution needs from the worker that runs it, and nothing else of it."""

    bus: Bus
    worker_id: str
    # Threads, not processes: numpy and torch release the GIL, dispatch stays sub-millisecond, and the data/model
    # caches are shared. A thread cannot be killed, so one that ignores cancellation is abandoned and the worker
    # process restarts itself (see Worker.restart_required).
    threads: OperationThreads
    grace_s: float
    services: dict[str, Any]
    counters: dict[str, int]  # the worker's, counted here as operations end
    cancels: CancelRouter  # the worker's one cancel subscription
    checkpointer_for: Callable[[str, asyncio.AbstractEventLoop], Checkpointer]


class Execution:
    """Runs one operation on behalf of a worker."""

    def __init__(self, env: ExecutionEnv, msg: Msg, op_id: str, handler: Handler) -> None:
        self.env, self.msg, self.op_id, self.handler = env, msg, op_id, handler
        self.record: OperationRecord | None = None
        self.attempt = self.revision = 0
        self.cancel = CancelWatch(env.cancels, op_id)
        self.token = self.cancel.token
        self.reporter = ProgressReporter()
        self._seq = 0
        self._done = asyncio.Event()
        self._keepalive_task: asyncio.Task | None = None
        self.progress: Progress | None = None  # the last published, for the terminal record
        self._started: OperationStarted | None = None  # held back for up to STARTED_LINGER_S
        self._started_timer: asyncio.TimerHandle | None = None
        self._started_task: asyncio.Task | None = None
        self._artifacts: dict[str, str] = {}  # what the handler produced, for the terminal record
        self._grace: asyncio.TimerHandle | None = None  # the next look at the cancel token while the handler runs
        self._reconnects = 0  # the connection's reconnect count at the claim

    def listen(self) -> None:
        """Hear this operation's cancels before claiming, so that no cancel slips between."""
        self.cancel.listen()

    def close(self) -> None:
        """Stop hearing them."""
        self.cancel.close()

    @property
    def abandoned(self) -> bool:
        """True when the operation ignored a cancel past the grace period (its thread is left behind)."""
        return self.cancel.kind is CancelKind.ABANDONED

    def bind(self, record: OperationRecord, revision: int) -> None:
        """Attach the claimed record (its attempt stamps every event) and its KV revision."""
        self.record, self.attempt, self.revision = record, record.attempt, revision
        self._reconnects = self.env.bus.nc.stats["reconnects"]  # a reconnect since can have lost our keep-alives

    def _hold_started(self, event: OperationStarted, loop: asyncio.AbstractEventLoop) -> None:
        """Keep `started` back until the next event or STARTED_LINGER_S, whichever comes first."""
        self._started = event
        self._started_timer = loop.call_later(STARTED_LINGER_S, self._started_timer_fired)

    def _started_timer_fired(self) -> None:
        self._started_task = asyncio.get_running_loop().create_task(self._started_due())  # kept: not collected early

    async def _started_due(self) -> None:
        """The linger ran out: publish `started` now (a failure is the operation's next publish's to report)."""
        try:
            await self._release_started()
        except Exception as exc:  # disconnected: the event is lost, as a plain publish's can be
            log.debug("started for %s not sent: %r", self.op_id, exc)

    async def _release_started(self) -> None:
        """Publish the held `started`, if it still is (first in line: it keeps the lowest seq)."""
        event, self._started = self._started, None
        if self._started_timer is not None:
            self._started_timer.cancel()
            self._started_timer = None
        if event is not None:
            await self.publish(event, durable=False)

    async def publish(self, event: Any, durable: bool = True) -> None:
        """Stamp and publish an event: durable ones wait for the JetStream ack, others are fire-and-forget.

        Non-durable events still land in their stream (progress in the latest-wins stream, `started` in the
        events stream) — only the confirmation round trip is skipped.
        """
        if self._started is not None:
            await self._release_started()
        self._seq += 1
        event = msgspec.structs.replace(event, attempt=self.attempt, seq=self._seq, ts=event.ts or now_ns(),
                                        worker_id=self.env.worker_id)
        subject = self.env.bus.names.event(self.op_id, event_kind(event))
        if durable:  # the msg id makes a retried publish (after a lost ack) a no-op on the server
            msg_id = f"{self.op_id}.{self.attempt}.{self._seq}"
            await persist(lambda: self.env.bus.mux.publish(subject, encode(event), headers={"Nats-Msg-Id": msg_id}),
                          f"publish {subject}")
        else:
            await self.env.bus.nc.publish(subject, encode(event))

    async def run(self, after: set[asyncio.Task] | None = None) -> Any:
        """Start the operation once the tasks `after` are done, and wait for it (or for its cancel grace): its outcome.

        The order is kept alive from the start, so a long wait for `after` does not bring it back to the queue.
        """
        loop = asyncio.get_running_loop()
        assert self.record is not None, "bind() the claimed record first"
        ctx = OperationContext(
            operation_id=self.op_id, type=self.record.type, attempt=self.attempt,
            parameters=self.record.parameters, progress=self.reporter, cancel=self.token,
            checkpointer=self.env.checkpointer_for(self.op_id, loop), resume=self.record.resume or self.attempt > 1,
            worker_id=self.env.worker_id, loop=loop, services=self.env.services)
        pump = ProgressPump(self.reporter, self.publish, loop, self.op_id)
        # `started` adds nothing the claim did not record, so it does not wait for its ack
        self._hold_started(OperationStarted(operation_id=self.op_id, pool=self.record.pool, resumed=ctx.resume,
                                            ts=now_ns()), loop)  # stamped now, whenever it is sent
        # the first keep-alive is due only after a period: no task at all for an operation that ends before
        first_keepalive = loop.call_later(self._keepalive_period(), self._start_keepalive)
        try:
            if after and not await self._records_written(after):
                outcome: Any = OperationCancelled(self.token.reason)  # never started: a newer attempt has it
            else:
                outcome = await self._wait(self.env.threads.submit(self.handler, ctx))
        finally:
            first_keepalive.cancel()
            pump.stop()
            self._done.set()
            await self._join([t for t in (pump.task, self._keepalive_task) if t is not None])
            self.close()
        await pump.flush()
        self.progress = Progress(**pump.latest) if pump.latest else None
        self._artifacts = ctx.artifacts
        return outcome

    async def _records_written(self, after: set[asyncio.Task]) -> bool:
        """Wait for the tasks writing earlier records; False when, meanwhile, the claim stopped holding.

        A wait of a keep-alive period or longer (the server was away) can have let the order come back to another
        worker: then keep it alive now and look at the record again before the handler starts.
        """
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.wait(after)
        if loop.time() - start < self._keepalive_period():
            return True
        await self._keep_alive_once()
        return not self.token.cancelled

    async def _join(self, tasks: list[asyncio.Task]) -> None:
        """Wait for the helper tasks to see their stop flags; cancel any that do not within a few seconds."""
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=5.0)
            await stop_tasks(late)

    async def _wait(self, fut: asyncio.Future[Any]) -> Any:
        """The handler's result or exception; after cancel, give it `grace_s` before abandoning it."""
        self._grace = asyncio.get_running_loop().call_later(CANCEL_POLL_S, self._poll_cancel, fut, None)
        try:
            return await fut
        finally:
            self._grace.cancel()

    def _poll_cancel(self, fut: asyncio.Future[Any], deadline: float | None) -> None:
        """Every CANCEL_POLL_S until the cancel is seen, then once the grace runs out: abandon if still running."""
        if fut.done():
            return
        loop = fut.get_loop()
        if deadline is None and self.token.cancelled:  # a cancel that arrived during a poll tick gets its full grace
            deadline = loop.time() + self.env.grace_s
        if deadline is not None and loop.time() >= deadline:
            self.cancel.abandon()
            fut.set_result(OperationCancelled(f"{self.token.reason} (did not stop within {self.env.grace_s:g}s; "
                                              "abandoned, worker will restart)"))
            return
        delay = CANCEL_POLL_S if deadline is None else max(0.0, deadline - loop.time())
        self._grace = loop.call_later(delay, self._poll_cancel, fut, deadline)

    def _keepalive_period(self) -> float:
        """A third of the ack wait (at least 0.2 s): JetStream hears from us well before it would redeliver."""
        return max(0.2, self.env.bus.settings.ack_wait_s / 3)

    def _start_keepalive(self) -> None:
        if not self._done.is_set():
            loop = asyncio.get_running_loop()
            self._keepalive_task = loop.create_task(self._keepalive(), name=f"keepalive-{self.op_id}")

    async def _keepalive(self) -> None:
        """Tell JetStream we are alive (AckWait stays short) and pick up cancel intent stored in KV, every period."""
        period = self._keepalive_period()
        while not self._done.is_set():
            await self._keep_alive_once()
            try:
                async with asyncio.timeout(period):
                    await self._done.wait()
                return
            except TimeoutError:
                pass

    async def _keep_alive_once(self) -> None:
        """Reset the order's ack wait and fire the token on a cancel or a newer attempt the record shows."""
        try:
            await self.msg.in_progress()
            record = await self.env.bus.ops.find(self.op_id)
        except Exception as exc:  # disconnected: keep trying, the reconnect will resume us
            log.debug("keepalive for %s failed: %s", self.op_id, exc)
        else:
            self.cancel.check_record(record, self.attempt)

    async def settle(self, outcome: Any) -> None:
        """Publish the terminal event, record it, then ack, nak or terminate the order.

        The ack is not confirmed: the record is terminal by then, so a lost ack only brings the order back after
        the ack wait, and that copy's claim finds a terminal record and drops it.
        """
        if isinstance(outcome, TRANSIENT):  # the bus, not the operation, failed: run it again from its checkpoint
            outcome = RetryableError(f"NATS was unavailable ({type(outcome).__name__}: {outcome})", delay_s=1.0)
        if isinstance(outcome, OperationCancelled) and self.cancel.kind is CancelKind.SHUTDOWN:
            await self._requeue("checkpointed and requeued at worker shutdown", "info", 0.0)
        elif isinstance(outcome, RetryableError):
            self.env.counters["failed"] += 1
            await self._requeue(f"retryable failure, requeued: {outcome.message}", "warning", outcome.delay_s,
                                ErrorInfo(code=type(outcome).__name__, message=outcome.message, retryable=True))
        elif isinstance(outcome, OperationCancelled):
            reason = outcome.reason if self.abandoned else (self.token.reason or outcome.reason)
            if await self._terminal(OperationCancelledEvent(operation_id=self.op_id, reason=reason,
                                                            checkpointed=not self.abandoned),
                                    tr.finish(self.attempt, "cancelled", reason=reason, progress=self.progress),
                                    "cancelled"):
                await self.msg.ack()
        elif isinstance(outcome, BaseException):
            error = ErrorInfo(code=type(outcome).__name__, message=str(outcome) or repr(outcome))
            if await self._terminal(OperationFailed(operation_id=self.op_id, error=error),
                                    tr.finish(self.attempt, "failed", error=error, progress=self.progress), "failed"):
                await self.msg.term()
        else:
            result = outcome if isinstance(outcome, dict) else {"value": outcome}
            if await self._terminal(OperationCompleted(operation_id=self.op_id, result=result,
                                                       artifacts=self._artifacts),
                                    tr.finish(self.attempt, "completed", result=result, artifacts=self._artifacts,
                                              progress=self.progress),
                                    "acked"):
                await self.msg.ack()

    async def _terminal(self, event: Any, mutation: tr.Mutation, counter: str) -> bool:
        """Durable terminal event and the record together; False when a newer attempt owns the order now.

        JetStream acks by stream sequence, so a superseded attempt must not ack or terminate: that would
        remove the order its successor is running (and a successor's death would then lose the operation).
        After a reconnect the order may have gone to another worker unnoticed: the record is read first, so a
        superseded attempt adds no second terminal event to the operation's log.
        """
        if self.env.bus.nc.stats["reconnects"] != self._reconnects and not await self._still_mine():
            log.info("%s: attempt %d was superseded while NATS was away; its end is not recorded",
                     self.op_id, self.attempt)
            return False
        self.env.counters[counter] += 1  # counted before the record says so, so readers never see less
        hint = (self.record, self.revision) if self.record is not None and self.revision else None
        # both in flight at once: the event goes out first on the connection, so the server has it before the
        # record; should this process die, the aggregator folds the durable event into the record all the same
        _, (new, _) = await asyncio.gather(
            self.publish(event),
            persist(lambda: tr.apply_rev(self.env.bus.ops, self.op_id, mutation, hint), f"record {self.op_id}"))
        return new is not None or await self._still_mine()

    async def _still_mine(self) -> bool:
        record = await persist(lambda: self.env.bus.ops.find(self.op_id), f"read {self.op_id}")
        return record is None or record.owned_by(self.attempt)

    async def _requeue(self, message: str, level: str, delay_s: float, error: ErrorInfo | None = None) -> None:
        """Back to pending and nak, so this or another worker claims it as a new attempt."""
        await self.publish(OperationLog(operation_id=self.op_id, level=level, message=message))
        requeued = await persist(lambda: tr.apply(self.env.bus.ops, self.op_id, tr.requeue(self.attempt, error)),
                                 f"requeue {self.op_id}")
        if requeued or await self._still_mine():
            await persist(lambda: self.msg.nak(delay=delay_s or None), f"nak {self.op_id}")

    def request_shutdown(self) -> None:
        """Ask the operation to checkpoint and stop so that another worker resumes it."""
        self.cancel.fire(CancelKind.SHUTDOWN, SHUTDOWN_REASON)

