"""Bars from a directory of `{SYMBOL}_{timeframe}.csv` files (a finer file is resampled if needed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ktrdr.context import CancelToken, ProgressReporter
from ktrdr.data.csvio import csv_filename, read_csv
from ktrdr.data.errors import DataNotFoundError
from ktrdr.data.frames import resample, slice_frame
from ktrdr.data.symbols import normalize_symbol
from ktrdr.data.timeframes import Timeframe

_WHOLE_FILE = pd.Timedelta(days=365 * 200)  # one segment: a file is read at once


class CsvProvider:
    """DataProvider over CSV files; frames are cached per file and modification time."""

    name = "csv"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._cache: dict[Path, tuple[float, pd.DataFrame]] = {}

    def segment_span(self, timeframe: str | Timeframe) -> pd.Timedelta:
        """A whole file is one segment."""
        return _WHOLE_FILE

    def earliest(self, symbol: str, timeframe: str | Timeframe) -> pd.Timestamp | None:
        """First bar in the file, or None when it is empty."""
        df = self._series(symbol, Timeframe.parse(timeframe))
        return df.index[0] if len(df) else None

    def fetch(self, symbol: str, timeframe: str | Timeframe, start: object, end: object, *,
              progress: ProgressReporter | None = None, cancel: CancelToken | None = None) -> pd.DataFrame:
        """Bars with start <= open < end from the symbol's file."""
        if cancel is not None:
            cancel.check()
        out = slice_frame(self._series(symbol, Timeframe.parse(timeframe)), start, end)
        if progress is not None:
            progress.update(percentage=100.0, current_step=f"csv {symbol} {timeframe}", items_processed=len(out))
        return out

    def _series(self, symbol: str, tf: Timeframe) -> pd.DataFrame:
        sym = normalize_symbol(symbol)
        for src in sorted((t for t in Timeframe if t.minutes <= tf.minutes and tf.minutes % t.minutes == 0),
                          key=lambda t: -t.minutes):
            path = self.directory / csv_filename(sym, src)
            if path.exists():
                df = self._read(path)
                return df if src is tf else resample(df, tf, src)
        raise DataNotFoundError(sym, str(tf), where=str(self.directory),
                                hint=f"expected a file named {csv_filename(sym, tf)} (or a finer timeframe)")

    def _read(self, path: Path) -> pd.DataFrame:
        mtime = path.stat().st_mtime
        hit = self._cache.get(path)
        if hit is None or hit[0] != mtime:
            hit = (mtime, read_csv(path))
            self._cache[path] = hit
        return hit[1]
