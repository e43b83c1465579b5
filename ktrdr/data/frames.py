"""The OHLCV frame convention: UTC `timestamp` index (ns), float64 open/high/low/close/volume."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ktrdr.data.errors import FrameError, TimeframeError
from ktrdr.data.timeframes import Timeframe, to_utc

OHLCV_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
INDEX_DTYPE = "datetime64[ns, UTC]"
_AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def utc_index(values: Any) -> pd.DatetimeIndex:
    """A `timestamp`-named UTC DatetimeIndex in nanoseconds; naive values are taken as UTC."""
    idx = pd.DatetimeIndex(values)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    return idx.as_unit("ns").rename("timestamp")


def make_frame(index: Any, columns: Mapping[str, Any]) -> pd.DataFrame:
    """Build a conventional OHLCV frame from an index and the five column arrays."""
    data = {c: np.asarray(columns[c], dtype=np.float64) for c in OHLCV_COLUMNS}
    return pd.DataFrame(data, index=utc_index(index))


def empty_frame() -> pd.DataFrame:
    """An OHLCV frame with no rows."""
    return make_frame([], {c: [] for c in OHLCV_COLUMNS})


def check_frame(df: pd.DataFrame, *, where: str = "frame") -> None:
    """Raise FrameError unless `df` follows the convention (sorted unique UTC index, float64 columns)."""
    if not isinstance(df, pd.DataFrame):
        raise FrameError(f"expected a pandas DataFrame, got {type(df).__name__}", where=where)
    missing = [c for c in OHLCV_COLUMNS if c not in df.columns]
    if missing:
        raise FrameError(f"missing column(s) {missing}", where=where, hint=f"columns must be {list(OHLCV_COLUMNS)}")
    if not isinstance(df.index, pd.DatetimeIndex) or str(df.index.tz) != "UTC":
        raise FrameError("index must be a UTC DatetimeIndex", where=where, hint="use ktrdr.data.validate(df)")
    if not df.index.is_monotonic_increasing or df.index.has_duplicates:
        raise FrameError("index must be sorted and unique", where=where, hint="use ktrdr.data.validate(df)")
    bad = [c for c in OHLCV_COLUMNS if df[c].dtype != np.float64]
    if bad:
        raise FrameError(f"column(s) {bad} are not float64", where=where)


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """The five columns in order, float64, index in UTC nanoseconds named `timestamp`."""
    out = df.loc[:, list(OHLCV_COLUMNS)].astype(np.float64)
    out.index = utc_index(out.index)
    return out


def slice_frame(df: pd.DataFrame, start: object = None, end: object = None) -> pd.DataFrame:
    """Rows with start <= timestamp < end (either bound optional)."""
    mask = np.ones(len(df), dtype=bool)
    if start is not None:
        mask &= df.index >= to_utc(start)
    if end is not None:
        mask &= df.index < to_utc(end)
    return df.loc[mask]


def merge_frames(*frames: pd.DataFrame) -> pd.DataFrame:
    """Union of frames, sorted; where several have a timestamp the row of the later frame wins."""
    parts = [conform(f) for f in frames if len(f)]
    if not parts:
        return empty_frame()
    both = pd.concat(parts) if len(parts) > 1 else parts[0]
    both = both[~both.index.duplicated(keep="last")]
    return both.sort_index(kind="stable")  # stable: equal stamps cannot remain, order of the rest is kept


def infer_timeframe(df: pd.DataFrame) -> Timeframe:
    """The timeframe whose duration equals the smallest step of the index."""
    if len(df) < 2:
        raise TimeframeError("cannot infer the timeframe of fewer than two bars", hint="pass source_tf explicitly")
    step = pd.Timedelta(int(np.diff(df.index.asi8).min()), unit="ns")
    for tf in Timeframe:
        if tf.duration == step:
            return tf
    raise TimeframeError(f"bar spacing {step} matches no timeframe", hint="pass source_tf explicitly")


def resample(df: pd.DataFrame, target: str | Timeframe, source: str | Timeframe | None = None) -> pd.DataFrame:
    """Aggregate bars into a larger timeframe; bars are labelled by their open time, empty bins dropped."""
    tgt = Timeframe.parse(target)
    if df.empty:
        return empty_frame()
    src = Timeframe.parse(source) if source is not None else infer_timeframe(df)
    if tgt.minutes < src.minutes:
        raise TimeframeError(f"cannot resample {src} bars to the smaller timeframe {tgt}",
                             value=str(tgt), hint=f"load {tgt} data from the source instead")
    if tgt.minutes % src.minutes:
        raise TimeframeError(f"{tgt} is not a whole multiple of {src}", value=str(tgt))
    if tgt is src:
        return conform(df)
    bins = conform(df).resample(tgt.rule, origin=tgt.origin, closed="left", label="left")
    out = bins.agg(_AGG)
    out = out[bins["close"].count() > 0]
    return conform(out)
