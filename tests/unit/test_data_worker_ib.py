"""The data worker's IB session: every ib_insync call on the session's own loop thread, reconnects, clear refusal.

`FakeIB` stands in for `ib_insync.IB` at the async boundary the session drives: connectAsync,
isConnected, disconnect, disconnectedEvent (an eventkit Event, as in ib_insync) and the *Async
request methods.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from eventkit import Event

from ktrdr.data import IbProvider, PacingLimiter, PacingRules
from ktrdr.workers import ib_session
from ktrdr.workers.ib_session import IbDisconnected, IbSession, IbUnavailable


class FakeIB:
    """Records the thread of every call; `refuse` makes connecting fail like a closed port."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse, self.connected, self.connects = refuse, False, 0
        self.disconnectedEvent = Event("disconnectedEvent")
        self.threads: set[str] = set()
        self.reconnected = threading.Event()
        self.RaiseRequestErrors = False

    def _seen(self) -> None:
        self.threads.add(threading.current_thread().name)

    async def connectAsync(self, host: str, port: int, clientId: int, timeout: float, readonly: bool) -> None:
        self._seen()
        if self.refuse:
            raise ConnectionRefusedError(111, f"Connect call failed ('{host}', {port})")
        self.connected, self.connects = True, self.connects + 1
        if self.connects > 1:
            self.reconnected.set()

    def isConnected(self) -> bool:
        return self.connected

    def disconnect(self) -> None:
        self._seen()
        if self.connected:
            self.connected = False
            self.disconnectedEvent.emit()

    async def qualifyContractsAsync(self, *contracts: Any) -> list[Any]:
        self._seen()
        for c in contracts:
            c.conId = 42
        return list(contracts)

    async def reqHeadTimeStampAsync(self, contract: Any, **kw: Any) -> Any:
        self._seen()
        return None

    async def reqHistoricalDataAsync(self, contract: Any, **kw: Any) -> list[Any]:
        self._seen()
        return []


def session(fake: FakeIB) -> IbSession:
    return IbSession("127.0.0.1", 4002, 7, connect_timeout_s=1.0, ib_factory=lambda: fake)


def test_unreachable_gateway_is_refused_with_host_port_and_what_to_do() -> None:
    s = session(FakeIB(refuse=True))
    with pytest.raises(IbUnavailable, match=r"127\.0\.0\.1:4002 \(client id 7\).*Connect call failed") as info:
        s.start()
    assert "--allow-no-ib" in (info.value.hint or "")
    assert not s._thread.is_alive(), "a refused session leaves no thread behind"


def test_provider_calls_from_a_handler_thread_run_on_the_session_loop() -> None:
    fake = FakeIB()
    s = session(fake).start()
    try:
        provider = IbProvider(s, PacingLimiter(PacingRules(min_interval_s=0.0), sleep=lambda _: None))
        assert fake.RaiseRequestErrors, "the provider's switch reaches the real IB object"
        out: dict[str, Any] = {}
        worker = threading.Thread(target=lambda: out.update(df=provider.fetch("AAPL", "1d", "2024-01-01",
                                                                              "2024-02-01")), name="op-thread")
        worker.start()
        worker.join(10)
        assert out["df"].empty
        assert fake.threads == {"ib-loop"}, "ib_insync must only ever run on the thread that connected it"
    finally:
        s.close()
    assert not s._thread.is_alive() and not fake.connected


def test_a_dropped_connection_is_retryable_and_reconnected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ib_session, "RECONNECT_BACKOFF_S", (0.05,))
    fake = FakeIB()
    s = session(fake).start()
    try:
        fake.connected = False  # the gateway went away: the next call must not hang on a dead socket
        with pytest.raises(IbDisconnected) as info:
            s.reqHistoricalData(object())
        assert getattr(info.value, "retryable", False)
        s._loop.call_soon_threadsafe(lambda: fake.disconnectedEvent.emit())
        assert fake.reconnected.wait(5), "the session reconnects after ib_insync reports the loss"
        assert s.reqHistoricalData(object()) == []  # a round trip on the loop: the reconnect has finished
        assert s.connected and s.reconnects == 1
    finally:
        s.close()
