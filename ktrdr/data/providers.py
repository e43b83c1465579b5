"""The provider interface and the segment loop every provider (and data load) shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import pandas as pd

from ktrdr.context import CancelToken, ProgressReporter
from ktrdr.data.errors import FetchCancelled, FetchError
from ktrdr.data.frames import empty_frame, merge_frames
from ktrdr.data.timeframes import Timeframe, to_utc
from ktrdr.errors import OperationCancelled

Segment = tuple[pd.Timestamp, pd.Timestamp]


class DataProvider(Protocol):
    """A source of OHLCV bars; `name` is recorded as the stored series' source."""

    name: str

    def fetch(self, symbol: str, timeframe: str | Timeframe, start: object, end: object, *,
              progress: ProgressReporter | None = None, cancel: CancelToken | None = None) -> pd.DataFrame:
        """Bars with start <= timestamp < end; raises FetchError/FetchCancelled carrying `.partial`."""
        ...

    def earliest(self, symbol: str, timeframe: str | Timeframe) -> pd.Timestamp | None:
        """Open time of the first bar the source can give, or None when unknown."""
        ...

    def segment_span(self, timeframe: str | Timeframe) -> pd.Timedelta:
        """How much time one request (one segment) covers."""
        ...


def split_range(start: object, end: object, span: pd.Timedelta, timeframe: Timeframe) -> list[Segment]:
    """Cut [start, end) into chronological segments of at most `span`, on the timeframe grid."""
    lo, hi = timeframe.ceil(start), to_utc(end)
    step = max(span // timeframe.duration, 1) * timeframe.duration
    out: list[Segment] = []
    while lo < hi:
        out.append((lo, min(lo + step, hi)))
        lo += step
    return out


def fetch_segments(segments: Sequence[Segment], fetch_one: Callable[[pd.Timestamp, pd.Timestamp], pd.DataFrame], *,
                   label: str, progress: ProgressReporter | None = None, cancel: CancelToken | None = None,
                   on_part: Callable[[pd.DataFrame], None] | None = None) -> pd.DataFrame:
    """Fetch segments in order with progress per segment and cancellation between them.

    A cancel raises FetchCancelled and a failure FetchError, both carrying every bar fetched so far.
    """
    parts: list[pd.DataFrame] = []
    rows, total = 0, len(segments)
    for i, (s, e) in enumerate(segments):
        if cancel is not None and cancel.cancelled:
            raise FetchCancelled(cancel.reason, partial=merge_frames(*parts))
        try:
            part = fetch_one(s, e)
        except OperationCancelled as exc:
            parts.append(getattr(exc, "partial", empty_frame()))
            raise FetchCancelled(exc.reason, partial=merge_frames(*parts)) from exc
        except Exception as exc:  # noqa: BLE001 — any failure must still hand back what was fetched
            parts.append(getattr(exc, "partial", empty_frame()))
            raise FetchError(f"{label}: segment {i + 1}/{total} [{s.isoformat()}, {e.isoformat()}) failed: {exc}",
                             partial=merge_frames(*parts), retryable=bool(getattr(exc, "retryable", False))) from exc
        parts.append(part)
        rows += len(part)
        if on_part is not None:
            on_part(part)
        if progress is not None:
            progress.update(percentage=100.0 * (i + 1) / total, current_step=label, steps_completed=i + 1,
                            steps_total=total, items_processed=rows, current_item=f"{s:%Y-%m-%d %H:%M} → {e:%Y-%m-%d %H:%M}")
    return merge_frames(*parts)
