"""A scripted stand-in for `ib_insync.IB`, installed inside a real `ktrdr worker data` process.

The one accepted stand-in of the test suite: it replaces `ib_insync.IB` (the boundary the data worker's
IbSession drives) and nothing of ours. It serves daily bars from `daily_bars`, answers the Nth historical
request with a pacing violation (error 162, as ib_insync raises it with RaiseRequestErrors), drops the
connection during the Mth (ConnectionError on the pending request, then disconnectedEvent, as ib_insync
does), and logs every call as a JSON line so the test can check the spacing of the requests.

Run as `python -c "from tests.integration.fake_ib import main; main()" worker data …` with FAKE_IB_SCRIPT
set to a JSON object: {"log": path, "pacing_at": N, "disconnect_at": M}.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from typing import Any

# at import, never inside a test's running loop: ib_insync's import looks the thread's event loop up (eventkit)
# and fails where a loop was set and then cleared, as pytest-asyncio does between tests
from ib_insync import BarData
from ib_insync.wrapper import RequestError

PACING_MESSAGE = "Historical Market Data Service error message:Historical data request pacing violation"


def daily_bars(start: dt.date, end: dt.date) -> list[Any]:
    """Weekday bars in [start, end): prices follow the day number, so any bar can be checked on its own."""
    out, day = [], start
    while day < end:
        if day.weekday() < 5:
            base = 100.0 + (day.toordinal() % 97) / 4
            out.append(BarData(date=day, open=base, high=base + 2.0, low=base - 1.0, close=base + 0.5,
                               volume=1000.0 + day.toordinal() % 13, average=base, barCount=10))
        day += dt.timedelta(days=1)
    return out


class ScriptedIB:
    """The IB surface IbSession uses: connect, disconnect, disconnectedEvent and the *Async requests."""

    def __init__(self) -> None:
        from eventkit import Event

        script = json.loads(os.environ["FAKE_IB_SCRIPT"])
        self.log_path, self.pacing_at, self.disconnect_at = script["log"], script["pacing_at"], script["disconnect_at"]
        self.disconnectedEvent = Event("disconnectedEvent")
        self.RaiseRequestErrors = False
        self.connected, self.historical = False, 0

    def _log(self, call: str, **fields: Any) -> None:
        with open(self.log_path, "a") as fh:
            fh.write(json.dumps({"t": time.time(), "call": call, **fields}) + "\n")

    async def connectAsync(self, host: str, port: int, clientId: int, timeout: float,  # noqa: N802
                           readonly: bool) -> None:
        self.connected = True
        self._log("connect")

    def isConnected(self) -> bool:  # noqa: N802
        return self.connected

    def disconnect(self) -> None:
        if self.connected:
            self.connected = False
            self.disconnectedEvent.emit()

    async def qualifyContractsAsync(self, *contracts: Any) -> list[Any]:  # noqa: N802
        for contract in contracts:
            contract.conId = 265598
        return list(contracts)

    async def reqHeadTimeStampAsync(self, contract: Any, **kw: Any) -> dt.datetime:  # noqa: N802
        self._log("head")
        return dt.datetime(2000, 1, 3, tzinfo=dt.timezone.utc)

    async def reqHistoricalDataAsync(self, contract: Any, endDateTime: dt.datetime, durationStr: str,  # noqa: N802
                                     **kw: Any) -> list[Any]:
        self.historical += 1
        end = endDateTime.date()
        if self.historical == self.pacing_at:
            self._log("historical", end=end.isoformat(), outcome="pacing")
            raise RequestError(self.historical, 162, PACING_MESSAGE)
        if self.historical == self.disconnect_at:
            self._log("historical", end=end.isoformat(), outcome="disconnect")
            self.disconnect()
            raise ConnectionError("Socket disconnect")
        self._log("historical", end=end.isoformat(), outcome="ok")
        assert durationStr == "1 Y", durationStr
        return daily_bars(end - dt.timedelta(days=365), end)


def main() -> None:
    """Install ScriptedIB as ib_insync.IB, then run the ktrdr command line."""
    import ib_insync

    ib_insync.IB = ScriptedIB  # type: ignore[misc, assignment]
    from ktrdr.cli.main import main as cli

    cli()
