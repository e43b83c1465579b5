"""data_load: bring a stored series up to date from a provider (modes tail, backfill, full).

Segments are fetched one by one (progress per segment, cancellation between segments) and saved
every `save_every` segments, so a cancelled or failed load keeps everything it fetched.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec
import pandas as pd

from ktrdr.context import CancelToken, ProgressReporter
from ktrdr.data.errors import DataError, DataLoadCancelled, DataLoadError, FetchCancelled, FetchError
from ktrdr.data.frames import merge_frames
from ktrdr.data.providers import DataProvider, Segment, fetch_segments, split_range
from ktrdr.data.store import DataRepository
from ktrdr.data.symbols import normalize_symbol
from ktrdr.data.timeframes import Timeframe, to_utc

LoadMode = Literal["tail", "backfill", "full"]
LOAD_MODES: tuple[str, ...] = ("tail", "backfill", "full")


class LoadResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a data load did; `first`/`last`/`stored_rows` describe the stored series afterwards."""

    symbol: str
    timeframe: str
    mode: str
    source: str
    status: str  # completed | up_to_date | cancelled | failed
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    fetched_rows: int = 0
    stored_rows: int = 0
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    segments_done: int = 0
    segments_total: int = 0
    message: str = ""


def plan_range(mode: str, stored: tuple[pd.Timestamp, pd.Timestamp] | None, tf: Timeframe, start: object,
               end: object, earliest: pd.Timestamp | None, now: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[lo, hi) to fetch: tail after the stored last bar, backfill before the stored first, full all."""
    if mode not in LOAD_MODES:
        raise DataError(f"unknown load mode {mode!r}", hint=f"use one of {', '.join(LOAD_MODES)}")
    hi = to_utc(end) if end is not None else tf.floor(now)  # the bar still forming is not loaded
    lo = to_utc(start) if start is not None else earliest
    if mode == "tail" and stored is not None:
        lo = stored[1] + tf.duration
    if mode == "backfill" and stored is not None:
        hi = min(hi, stored[0]) if end is not None else stored[0]
    if lo is None:
        raise DataError("no start for this load: nothing stored and the source has no earliest bar",
                        hint="give a start date")
    return lo, hi


class _Saver:
    """Collects fetched parts, merges them into the repository every `every` parts, and reports."""

    def __init__(self, repo: DataRepository, symbol: str, tf: Timeframe, source: str, every: int) -> None:
        self.repo, self.symbol, self.tf, self.source, self.every = repo, symbol, tf, source, max(every, 1)
        self.pending: list[pd.DataFrame] = []
        self.parts = self.rows = 0
        self.plan: tuple[str, pd.Timestamp, pd.Timestamp, int] = ("", pd.NaT, pd.NaT, 0)

    def add(self, part: pd.DataFrame) -> None:
        self.pending.append(part)
        self.parts += 1
        self.rows += len(part)
        if len(self.pending) >= self.every:
            self.flush()

    def flush(self, extra: pd.DataFrame | None = None) -> None:
        frames = self.pending + ([extra] if extra is not None else [])
        self.pending = []
        merged = merge_frames(*frames)
        if len(merged):
            self.repo.merge_save(self.symbol, self.tf, merged, self.source)

    def result(self, status: str, message: str = "", rows: int | None = None) -> LoadResult:
        """The LoadResult of this load, with the stored series as it is now."""
        info = self.repo.info(self.symbol, self.tf)
        mode, lo, hi, total = self.plan
        has = info is not None and info.rows > 0
        return LoadResult(
            symbol=self.symbol, timeframe=str(self.tf), mode=mode, source=self.source, status=status,
            start=lo.to_pydatetime(), end=hi.to_pydatetime(), fetched_rows=self.rows if rows is None else rows,
            stored_rows=info.rows if info else 0, first=to_utc(info.first).to_pydatetime() if has else None,
            last=to_utc(info.last).to_pydatetime() if has else None, segments_done=self.parts,
            segments_total=total, message=message)


def load_data(provider: DataProvider, repository: DataRepository, symbol: str, timeframe: str | Timeframe,
              mode: LoadMode = "tail", start: object = None, end: object = None, *,
              progress: ProgressReporter | None = None, cancel: CancelToken | None = None,
              now: object = None, save_every: int = 10) -> LoadResult:
    """Fetch the planned range segment by segment into the repository; see the module docstring.

    Raises DataLoadCancelled / DataLoadError (with `.result`) after saving what was fetched.
    """
    tf, sym = Timeframe.parse(timeframe), normalize_symbol(symbol)
    stored = repository.range(sym, tf)
    earliest = provider.earliest(sym, tf) if start is None and (stored is None or mode != "tail") else None
    lo, hi = plan_range(mode, stored, tf, start, end, earliest, to_utc(now) if now is not None else pd.Timestamp.now("UTC"))
    segments: list[Segment] = split_range(lo, hi, provider.segment_span(tf), tf) if lo < hi else []
    if mode == "backfill":
        segments.reverse()  # newest first, so a partial backfill stays contiguous with what is stored
    saver = _Saver(repository, sym, tf, provider.name, save_every)
    saver.plan = (mode, lo, hi, len(segments))

    if not segments:
        return saver.result("up_to_date", "nothing to fetch")

    def fetch(s: pd.Timestamp, e: pd.Timestamp) -> pd.DataFrame:
        return provider.fetch(sym, tf, s, e, cancel=cancel)

    try:
        fetch_segments(segments, fetch, label=f"load {sym} {tf} ({mode})", progress=progress, cancel=cancel,
                       on_part=saver.add)
    except FetchCancelled as exc:
        saver.flush(exc.partial)
        raise DataLoadCancelled(exc.reason, result=saver.result("cancelled", exc.reason, len(exc.partial))) from exc
    except FetchError as exc:
        saver.flush(exc.partial)
        res = saver.result("failed", str(exc), len(exc.partial))
        raise DataLoadError(f"data load {sym} {tf} failed after {saver.parts}/{len(segments)} segment(s): {exc}",
                            result=res, retryable=exc.retryable) from exc
    saver.flush()
    return saver.result("completed")
