"""The data worker's IB Gateway connection: one ib_insync client on its own thread and event loop.

Why a dedicated thread: ib_insync binds its socket to the event loop that connected it, and its
sync API (`ib.reqHistoricalData`) runs `loop.run_until_complete` on the caller's loop. Our handler
threads have no loop, and the worker's main loop belongs to NATS, where a nested run would block
heartbeats and keep-alives (`util.patchAsyncio` would make that legal but not harmless, and it
patches asyncio for the whole process). So the IB client lives on a loop of its own, created in a
thread started here, and `IbSession` offers the few sync methods IbProvider calls; each hops onto
that loop with run_coroutine_threadsafe and blocks the calling (handler) thread only. Every IB call
therefore runs on one thread, in order, however many operations the worker runs.

Reconnects: when IB drops the connection (`disconnectedEvent`) the session reconnects with
back-off until closed; calls made meanwhile raise IbDisconnected (retryable).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ktrdr.errors import KtrdrError

log = logging.getLogger("ktrdr.workers.ib")
T = TypeVar("T")
RECONNECT_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)


class IbUnavailable(KtrdrError, ConnectionError):
    """IB Gateway / TWS could not be reached at `host`:`port`."""

    def __init__(self, host: str, port: int, client_id: int, cause: str) -> None:
        super().__init__(
            f"IB Gateway unreachable at {host}:{port} (client id {client_id}): {cause}",
            hint="start IB Gateway or TWS with the API enabled on that port, check --ib-host/--ib-port and that the "
                 "client id is not in use, or pass --allow-no-ib to serve synthetic and csv loads only")
        self.host, self.port, self.client_id = host, port, client_id


class IbDisconnected(KtrdrError, ConnectionError):
    """The IB connection is down (a reconnect is under way) or did not answer; trying later may succeed."""

    retryable = True  # read by the provider's segment loop: the load fails as retryable


class IbSession:
    """One ib_insync `IB` driven on a private event-loop thread, with the sync methods IbProvider uses."""

    def __init__(self, host: str, port: int, client_id: int, *, connect_timeout_s: float = 5.0,
                 request_timeout_s: float = 300.0, ib_factory: Callable[[], Any] | None = None) -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self.connect_timeout_s, self.request_timeout_s = connect_timeout_s, request_timeout_s
        self._factory = ib_factory or _default_ib
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="ib-loop", daemon=True)
        self._closing = False
        self._reconnecting: asyncio.Task | None = None
        self.ib: Any = None
        self.reconnects = 0

    # -- lifecycle ------------------------------------------------------------------------------------------

    def _run_loop(self) -> None:
        # ib_insync looks its loop up through the policy (util.getLoop), not the running loop.
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def start(self, *, keep_trying: bool = False) -> IbSession:
        """Start the loop thread and connect; when IB is unreachable, IbUnavailable (and nothing left running),
        or with `keep_trying` a warning and connection attempts in the background until it answers."""
        self._thread.start()
        try:
            self._submit(self._connect_first(), self.connect_timeout_s + 5.0)
        except BaseException as exc:
            error = exc if isinstance(exc, IbUnavailable) else IbUnavailable(self.host, self.port, self.client_id,
                                                                              _describe(exc))
            if not keep_trying or self.ib is None:
                self.close()
                raise error from exc
            log.warning("%s; retrying in the background", error.message)
            self._loop.call_soon_threadsafe(self._start_reconnect)
        return self

    async def _connect_first(self) -> None:
        self.ib = self._factory()  # built on the IB loop, which then owns its socket
        self.ib.disconnectedEvent += self._on_disconnected
        try:
            await self._connect()
        except BaseException as exc:
            raise IbUnavailable(self.host, self.port, self.client_id, _describe(exc)) from exc
        log.info("connected to IB at %s:%d (client id %d)", self.host, self.port, self.client_id)

    async def _connect(self) -> None:
        # readonly: this process never trades, and it skips the open-orders sync at connect.
        await self.ib.connectAsync(self.host, self.port, clientId=self.client_id, timeout=self.connect_timeout_s,
                                   readonly=True)

    def _on_disconnected(self) -> None:
        """Runs on the IB loop whenever ib_insync reports the connection gone."""
        if self._closing or (self._reconnecting is not None and not self._reconnecting.done()):
            return
        log.warning("IB connection to %s:%d lost; reconnecting", self.host, self.port)
        self._start_reconnect()

    def _start_reconnect(self) -> None:
        """Keep trying to connect in the background (on the IB loop)."""
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = self._loop.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        attempt = 0
        while not self._closing and not self.ib.isConnected():
            await asyncio.sleep(RECONNECT_BACKOFF_S[min(attempt, len(RECONNECT_BACKOFF_S) - 1)])
            attempt += 1
            try:
                await self._connect()
            except Exception as exc:  # noqa: BLE001 — keep trying until closed
                log.warning("IB reconnect attempt %d failed: %s", attempt, _describe(exc))
                continue
            self.reconnects += 1
            log.info("IB reconnected after %d attempt(s)", attempt)

    @property
    def state(self) -> str:
        """`connected` or `disconnected` (then retrying): what the worker's heartbeat reports as `ib`."""
        return "connected" if self.connected else "disconnected"

    @property
    def connected(self) -> bool:
        """True while the API connection is up."""
        return self.ib is not None and bool(self.ib.isConnected())

    def close(self) -> None:
        """Disconnect and stop the loop thread (idempotent)."""
        self._closing = True
        if self._thread.is_alive():
            if self.ib is not None:
                try:
                    self._submit(self._disconnect(), 5.0)
                except Exception as exc:  # noqa: BLE001 — closing anyway
                    log.debug("IB disconnect failed: %s", exc)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5.0)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()

    async def _disconnect(self) -> None:
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        self.ib.disconnect()

    # -- the IB-shaped sync surface IbProvider calls --------------------------------------------------------

    @property
    def RaiseRequestErrors(self) -> bool:  # noqa: N802 — ib_insync's attribute name
        """ib_insync's switch that turns request errors into exceptions (IbProvider sets it)."""
        return bool(getattr(self.ib, "RaiseRequestErrors", False))

    @RaiseRequestErrors.setter
    def RaiseRequestErrors(self, value: bool) -> None:  # noqa: N802
        self.ib.RaiseRequestErrors = value

    def qualifyContracts(self, *contracts: Any) -> list[Any]:  # noqa: N802
        """`IB.qualifyContracts`, run on the IB loop."""
        return self._request(lambda: self.ib.qualifyContractsAsync(*contracts))

    def reqHeadTimeStamp(self, contract: Any, **kw: Any) -> Any:  # noqa: N802
        """`IB.reqHeadTimeStamp`, run on the IB loop."""
        return self._request(lambda: self.ib.reqHeadTimeStampAsync(contract, **kw))

    def reqHistoricalData(self, contract: Any, **kw: Any) -> Any:  # noqa: N802
        """`IB.reqHistoricalData`, run on the IB loop."""
        return self._request(lambda: self.ib.reqHistoricalDataAsync(contract, **kw))

    def _request(self, make: Callable[[], Any]) -> Any:
        if not self.connected:
            raise IbDisconnected(f"IB connection to {self.host}:{self.port} is down; reconnecting")

        async def call() -> Any:  # the request is built and sent on the IB loop, never on this thread
            try:
                return await make()
            except ConnectionError as exc:  # ib_insync fails pending requests so when the socket drops
                raise IbDisconnected(f"IB connection to {self.host}:{self.port} lost during a request "
                                     f"({_describe(exc)}); reconnecting") from exc

        return self._submit(call(), self.request_timeout_s)

    def _submit(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("IbSession's sync methods must not be called on its own loop thread")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise IbDisconnected(f"IB did not answer within {timeout:g}s") from None


def _default_ib() -> Any:
    from ib_insync import IB  # deferred: only the data worker loads ib_insync

    return IB()


def _describe(exc: BaseException) -> str:
    """A short cause, also for exceptions whose str() is empty (asyncio timeouts)."""
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "connection timed out"
    return str(exc) or type(exc).__name__
