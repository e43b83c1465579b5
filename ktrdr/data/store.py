"""Where series live: the FrameStore interface, an in-memory store, and the DataRepository on top."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

import msgspec
import pandas as pd

from ktrdr.data.codec import decode_frame, digest, encode_frame, frame_metadata
from ktrdr.data.symbols import parse_series_key, series_key
from ktrdr.data.errors import CorruptDataError, DataNotFoundError
from ktrdr.data.frames import check_frame, merge_frames, slice_frame
from ktrdr.data.timeframes import Timeframe, to_utc


class FrameStore(Protocol):
    """Blob store of encoded series (the NATS object store bucket `ktrdr_data` in production)."""

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None if absent."""
        ...

    def put(self, key: str, data: bytes, meta: dict[str, str]) -> None:
        """Store (replace) an object with its metadata."""
        ...

    def info(self, key: str) -> dict[str, str] | None:
        """The object's metadata (as given to put), or None if absent."""
        ...

    def keys(self) -> list[str]:
        """All object keys."""
        ...


class MemoryFrameStore:
    """FrameStore in a dict, for tests and local runs; counts `gets` so caching can be checked."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.gets = 0

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None."""
        self.gets += 1
        entry = self.objects.get(key)
        return entry[0] if entry else None

    def put(self, key: str, data: bytes, meta: dict[str, str]) -> None:
        """Store an object."""
        self.objects[key] = (bytes(data), dict(meta))

    def info(self, key: str) -> dict[str, str] | None:
        """The object's metadata, or None."""
        entry = self.objects.get(key)
        return dict(entry[1]) if entry else None

    def keys(self) -> list[str]:
        """All keys, sorted."""
        return sorted(self.objects)


class SeriesInfo(msgspec.Struct, frozen=True, kw_only=True):
    """What the store knows about one series, without downloading it."""

    symbol: str
    timeframe: str
    rows: int
    first: str
    last: str
    source: str
    digest: str


class DataRepository:
    """Load and save OHLCV series in a FrameStore, with a local read cache keyed by digest."""

    def __init__(self, store: FrameStore, cache_dir: str | Path | None = None) -> None:
        self.store = store
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)

    def info(self, symbol: str, timeframe: str | Timeframe) -> SeriesInfo | None:
        """Metadata of a stored series, or None."""
        meta = self.store.info(series_key(symbol, timeframe))
        return _series_info(meta) if meta else None

    def range(self, symbol: str, timeframe: str | Timeframe) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """(first, last) bar open times of a stored series, or None when absent or empty."""
        info = self.info(symbol, timeframe)
        if info is None or not info.rows:
            return None
        return to_utc(info.first), to_utc(info.last)

    def list(self) -> list[SeriesInfo]:
        """Every stored market series, sorted by key (context series have their own listing)."""
        metas = ((k, self.store.info(k)) for k in sorted(self.store.keys()))
        return [_series_info(m) for k, m in metas if m is not None and m.get("kind", "market") == "market"]

    def load(self, symbol: str, timeframe: str | Timeframe, start: object = None, end: object = None) -> pd.DataFrame:
        """The stored bars with start <= timestamp < end; DataNotFoundError if the series is absent."""
        key = series_key(symbol, timeframe)
        meta = self.store.info(key)
        if meta is None:
            raise DataNotFoundError(symbol, str(timeframe), hint="import a CSV or run a data load first")
        return slice_frame(decode_frame(self._bytes(key, meta), key=key), start, end)

    def save(self, symbol: str, timeframe: str | Timeframe, df: pd.DataFrame, source: str) -> dict[str, str]:
        """Replace the stored series with `df`; returns the metadata written."""
        key = series_key(symbol, timeframe)
        check_frame(df, where=f"save {key}")
        data = encode_frame(df)
        meta = frame_metadata(symbol, timeframe, df, data, source)
        self.store.put(key, data, meta)
        self._cache_write(meta["digest"], data)
        return meta

    def put_frame(self, key: str, df: pd.DataFrame, meta: dict[str, str]) -> dict[str, str]:
        """Store a frame under any key with `meta` plus rows/first/last/digest (series other than market bars)."""
        check_frame(df, where=f"save {key}")
        data = encode_frame(df)
        first, last = (df.index[0].isoformat(), df.index[-1].isoformat()) if len(df) else ("", "")
        full = meta | {"rows": str(len(df)), "first": first, "last": last, "digest": digest(data)}
        self.store.put(key, data, full)
        self._cache_write(full["digest"], data)
        return full

    def get_frame(self, key: str) -> tuple[pd.DataFrame, dict[str, str]] | None:
        """(frame, metadata) stored under any key, or None when absent."""
        meta = self.store.info(key)
        return None if meta is None else (decode_frame(self._bytes(key, meta), key=key), meta)

    def merge_save(self, symbol: str, timeframe: str | Timeframe, df: pd.DataFrame, source: str) -> dict[str, str]:
        """Merge `df` into the stored series (its rows win on equal timestamps) and save the union."""
        key = series_key(symbol, timeframe)
        check_frame(df, where=f"merge_save {key}")
        meta = self.store.info(key)
        old = decode_frame(self._bytes(key, meta), key=key) if meta else df.iloc[:0]
        return self.save(symbol, timeframe, merge_frames(old, df), source)

    def _bytes(self, key: str, meta: dict[str, str]) -> bytes:
        want = meta.get("digest", "")
        cached = self._cache_read(want)
        if cached is not None:
            return cached
        data = self.store.get(key)
        if data is None:
            raise DataNotFoundError(*key.split("/", 1), hint="the series was deleted while being read")
        if want and digest(data) != want:
            # A writer may have replaced the object between info() and get(): re-check once.
            fresh = self.store.info(key) or {}
            if digest(data) != fresh.get("digest"):
                raise CorruptDataError("stored bytes do not match their digest", key=key,
                                       hint="re-import or reload the series")
        self._cache_write(digest(data), data)
        return data

    def _cache_path(self, dig: str) -> Path | None:
        return self.cache_dir / f"{dig}.ktf" if self.cache_dir is not None and dig else None

    def _cache_read(self, dig: str) -> bytes | None:
        path = self._cache_path(dig)
        if path is None or not path.exists():
            return None
        data = path.read_bytes()
        if digest(data) != dig:  # a torn or tampered cache file is ignored and rewritten
            return None
        return data

    def _cache_write(self, dig: str, data: bytes) -> None:
        path = self._cache_path(dig)
        if path is None or path.exists():
            return
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)  # atomic: readers never see a half-written file


def _series_info(meta: dict[str, str]) -> SeriesInfo:
    symbol, tf = parse_series_key(f"{meta.get('symbol', '')}/{meta.get('timeframe', '')}")
    return SeriesInfo(symbol=symbol, timeframe=str(tf), rows=int(meta.get("rows", 0)), first=meta.get("first", ""),
                      last=meta.get("last", ""), source=meta.get("source", ""), digest=meta.get("digest", ""))
