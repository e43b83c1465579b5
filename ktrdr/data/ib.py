"""Interactive Brokers historical bars through ib_insync (`ib` is an `ib_insync.IB` or a look-alike).

Only the data worker talks to IB. Requests are segmented by IB's longest allowed duration per bar
size, paced by a PacingLimiter, retried after pacing violations (error 162), merged and
de-duplicated. Set `ib.RaiseRequestErrors` (done here when the attribute exists): without it
ib_insync turns request errors into empty results and pacing violations go unnoticed.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from ktrdr.context import CancelToken, ProgressReporter
from ktrdr.data.errors import ContractNotFound, ProviderError
from ktrdr.data.frames import empty_frame, make_frame, slice_frame
from ktrdr.data.pacing import PacingLimiter
from ktrdr.data.providers import fetch_segments, split_range
from ktrdr.data.symbols import is_fx_pair, normalize_symbol
from ktrdr.data.timeframes import Timeframe, to_utc
from ktrdr.data.validation import validate

log = logging.getLogger(__name__)
PACING_ERROR = 162
# bar size -> (IB barSizeSetting, longest durationStr IB accepts for it, the time that duration covers).
# IB "Historical Data Limitations": 1 D for 1 min, 1 W for 3 mins–1 hr..., 1 M for 30 mins+, 1 Y for 1 day+.
# A month is taken as 28 days so that a segment never exceeds what "1 M" returns.
IB_BAR_SIZES: dict[Timeframe, tuple[str, str, pd.Timedelta]] = {
    Timeframe.M1: ("1 min", "1 D", pd.Timedelta(days=1)),
    Timeframe.M5: ("5 mins", "1 W", pd.Timedelta(days=7)),
    Timeframe.M15: ("15 mins", "1 W", pd.Timedelta(days=7)),
    Timeframe.M30: ("30 mins", "1 M", pd.Timedelta(days=28)),
    Timeframe.H1: ("1 hour", "1 M", pd.Timedelta(days=28)),
    Timeframe.H4: ("4 hours", "1 M", pd.Timedelta(days=28)),
    Timeframe.D1: ("1 day", "1 Y", pd.Timedelta(days=365)),
    Timeframe.W1: ("1 week", "1 Y", pd.Timedelta(days=364)),
}


def make_contract(symbol: str) -> Any:
    """An unqualified ib_insync contract: FX pairs (EURUSD) → Forex, anything else → Stock on SMART in USD."""
    from ib_insync import Forex, Stock  # deferred: only the data worker needs ib_insync loaded

    sym = normalize_symbol(symbol)
    if is_fx_pair(sym):
        return Forex(sym.replace(".", "").replace("/", ""))
    return Stock(sym, "SMART", "USD")


def ib_error_kind(exc: BaseException) -> str:
    """'pacing', 'no_data' or 'other' for an exception from an ib_insync request."""
    code = getattr(exc, "code", None) or getattr(exc, "errorCode", None)
    text = str(exc).lower()
    if code == PACING_ERROR and "no data" in text:
        return "no_data"
    if code == PACING_ERROR or "pacing violation" in text:
        return "pacing"
    return "other"


def bars_to_frame(bars: Any) -> pd.DataFrame:
    """OHLCV frame from ib_insync BarData-like objects (date, open, high, low, close, volume).

    IB reports volume -1 where there is none (MIDPOINT, FX): it becomes 0.
    """
    if not bars:
        return empty_frame()
    stamps = [to_utc(b.date) for b in bars]  # daily bars carry a date, intraday an aware datetime
    cols = {c: [float(getattr(b, c)) for b in bars] for c in ("open", "high", "low", "close")}
    cols["volume"] = [max(float(b.volume), 0.0) for b in bars]
    frame, report = validate(make_frame(stamps, cols))
    if not report.clean:
        log.warning("IB bars repaired: %s", report.summary())
    return frame


class IbProvider:
    """Historical bars from IB with segmenting, pacing, retries and partial results."""

    name = "ib"

    def __init__(self, ib: Any, pacing: PacingLimiter | None = None, *, use_rth: bool = False,
                 max_retries: int = 5) -> None:
        self.ib, self.pacing = ib, pacing or PacingLimiter()
        self.use_rth, self.max_retries = use_rth, max_retries
        if hasattr(ib, "RaiseRequestErrors"):
            ib.RaiseRequestErrors = True
        self._contracts: dict[str, Any] = {}
        self._heads: dict[tuple[str, bool], pd.Timestamp | None] = {}

    def contract(self, symbol: str) -> Any:
        """The qualified contract of a symbol (cached); ContractNotFound when IB does not know it."""
        sym = normalize_symbol(symbol)
        if sym not in self._contracts:
            qualified = self.ib.qualifyContracts(make_contract(sym))
            if not qualified or not getattr(qualified[0], "conId", 0):
                raise ContractNotFound(sym, hint="check the symbol; stocks resolve on SMART in USD, FX as EURUSD")
            self._contracts[sym] = qualified[0]
        return self._contracts[sym]

    def what_to_show(self, symbol: str) -> str:
        """TRADES for stocks, MIDPOINT for FX (IB has no FX trades)."""
        return "MIDPOINT" if is_fx_pair(symbol) else "TRADES"

    def segment_span(self, timeframe: str | Timeframe) -> pd.Timedelta:
        """Time covered by one request of this bar size."""
        return IB_BAR_SIZES[Timeframe.parse(timeframe)][2]

    def earliest(self, symbol: str, timeframe: str | Timeframe) -> pd.Timestamp | None:
        """IB's head timestamp for the symbol (cached), or None when IB gives none."""
        sym = normalize_symbol(symbol)
        if (sym, self.use_rth) not in self._heads:
            contract, wts = self.contract(sym), self.what_to_show(sym)
            self.pacing.acquire(sym, f"head|{sym}|{wts}|{self.use_rth}")
            head = self.ib.reqHeadTimeStamp(contract, whatToShow=wts, useRTH=self.use_rth, formatDate=2)
            self._heads[(sym, self.use_rth)] = to_utc(head) if head else None
        return self._heads[(sym, self.use_rth)]

    def fetch(self, symbol: str, timeframe: str | Timeframe, start: object, end: object, *,
              progress: ProgressReporter | None = None, cancel: CancelToken | None = None) -> pd.DataFrame:
        """Bars with start <= open < end, one paced request per segment (never before the head timestamp)."""
        tf, sym = Timeframe.parse(timeframe), normalize_symbol(symbol)
        lo = to_utc(start)
        head = self.earliest(sym, tf)
        if head is not None:
            lo = max(lo, tf.floor(head))
        segments = split_range(lo, end, self.segment_span(tf), tf)
        return fetch_segments(segments, lambda s, e: self._segment(sym, tf, s, e, cancel), label=f"ib {sym} {tf}",
                              progress=progress, cancel=cancel)

    def _segment(self, sym: str, tf: Timeframe, start: pd.Timestamp, end: pd.Timestamp,
                 cancel: CancelToken | None) -> pd.DataFrame:
        bar_size, duration, _ = IB_BAR_SIZES[tf]
        wts, contract = self.what_to_show(sym), self.contract(sym)
        request = f"{sym}|{end.isoformat()}|{duration}|{bar_size}|{wts}|{self.use_rth}"
        for attempt in range(self.max_retries + 1):
            self.pacing.acquire(sym, request, cancel=cancel)
            try:
                bars = self.ib.reqHistoricalData(contract, endDateTime=end.to_pydatetime(), durationStr=duration,
                                                 barSizeSetting=bar_size, whatToShow=wts, useRTH=self.use_rth,
                                                 formatDate=2)
            except Exception as exc:  # noqa: BLE001 — classified below, re-raised unless retryable
                kind = ib_error_kind(exc)
                if kind == "no_data":
                    return empty_frame()
                if kind != "pacing":
                    raise
                backoff = self.pacing.record_violation()
                log.warning("IB pacing violation on %s (attempt %d), backing off %.0f s", sym, attempt + 1, backoff)
                continue
            self.pacing.record_success()
            return slice_frame(bars_to_frame(bars), start, end)
        raise ProviderError(f"IB kept reporting pacing violations for {sym} {tf} after {self.max_retries} retries",
                            retryable=True, hint="another client may share this IB account's pacing budget")
