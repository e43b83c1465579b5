"""CSV import/export in the `{SYMBOL}_{timeframe}.csv` layout with ISO UTC timestamps.

Bad input raises CsvFormatError naming the file, the line (the header is line 1) and the column.
Documented repairs (never silent): rows are sorted by time, a duplicated timestamp keeps its
last row, and the other validate() repairs apply; read_csv_with_report returns what was done.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ktrdr.data.symbols import normalize_symbol
from ktrdr.data.errors import CsvFormatError, DataError
from ktrdr.data.frames import OHLCV_COLUMNS, check_frame
from ktrdr.data.timeframes import Timeframe
from ktrdr.data.validation import (NAN_PRICE, NAN_VOLUME, NEGATIVE_VOLUME, NON_POSITIVE, OHLC_RELATION,
                                   ValidationReport, validate)

log = logging.getLogger(__name__)
_TIME_ALIASES = ("timestamp", "date", "datetime", "time")


def csv_filename(symbol: str, timeframe: str | Timeframe) -> str:
    """`EURUSD_1h.csv` for ("eurusd", "1h")."""
    return f"{normalize_symbol(symbol)}_{Timeframe.parse(timeframe)}.csv"


def symbol_timeframe_from_filename(path: str | Path) -> tuple[str, Timeframe]:
    """(symbol, timeframe) from a file named `{SYMBOL}_{timeframe}.csv`."""
    stem = Path(path).stem
    symbol, sep, tf = stem.rpartition("_")
    if not sep or not symbol:
        raise DataError(f"{path}: file name must look like SYMBOL_timeframe.csv (e.g. EURUSD_1h.csv)")
    return normalize_symbol(symbol), Timeframe.parse(tf)


def _bad_rows(path: Path, column: str, bad: np.ndarray, raw: pd.Series, problem: str) -> CsvFormatError:
    rows = np.flatnonzero(bad)
    first = int(rows[0])
    more = f" ({len(rows) - 1} more bad value(s) in this column)" if len(rows) > 1 else ""
    return CsvFormatError(f"{problem}: {raw.iloc[first]!r}{more}", path=str(path), line=first + 2, column=column,
                          hint="fix or remove the row(s) and import again")


def _read_table(path: Path) -> pd.DataFrame:
    try:
        # Strings and no blank-line skipping: line numbers in errors must match the file.
        return pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except FileNotFoundError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CsvFormatError(f"unreadable CSV: {exc}", path=str(path), line=1, column="*") from exc


def _time_column(path: Path, table: pd.DataFrame) -> str:
    names = {c.strip().lower(): c for c in table.columns}
    for alias in _TIME_ALIASES:
        if alias in names:
            return names[alias]
    raise CsvFormatError("missing column", path=str(path), line=1, column="timestamp",
                         hint=f"the header must name timestamp,{','.join(OHLCV_COLUMNS)}")


def read_table(path: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """The CSV as strings, and its columns by lower-cased, stripped name (line numbers match the file)."""
    table = _read_table(path)
    return table, {c.strip().lower(): c for c in table.columns}


def csv_times(path: Path, table: pd.DataFrame) -> pd.DatetimeIndex:
    """The time column (any accepted alias) as UTC timestamps; CsvFormatError at the first bad one."""
    tcol = _time_column(path, table)
    raw_time = table[tcol].str.strip()
    stamps = pd.to_datetime(raw_time, utc=True, format="ISO8601", errors="coerce")
    if stamps.isna().any():
        raise _bad_rows(path, tcol, stamps.isna().to_numpy(), raw_time, "unparseable date")
    return pd.DatetimeIndex(stamps)


def csv_numbers(path: Path, table: pd.DataFrame, column: str) -> np.ndarray:
    """One column as float64; CsvFormatError at the first value that is not a number."""
    raw = table[column].str.strip()
    values = pd.to_numeric(raw, errors="coerce")
    if values.isna().any():
        raise _bad_rows(path, column, values.isna().to_numpy(), raw, "not a number")
    return values.to_numpy(dtype=np.float64)


def _parse(path: Path, table: pd.DataFrame) -> pd.DataFrame:
    names = {c.strip().lower(): c for c in table.columns}
    stamps = csv_times(path, table)
    data = {}
    for col in OHLCV_COLUMNS:
        if col not in names:
            raise CsvFormatError("missing column", path=str(path), line=1, column=col,
                                 hint=f"the header must name timestamp,{','.join(OHLCV_COLUMNS)}")
        data[col] = csv_numbers(path, table, names[col])
    return pd.DataFrame(data, index=stamps)


def read_csv_with_report(path: str | Path, *, strict: bool = False) -> tuple[pd.DataFrame, ValidationReport]:
    """Read and validate a CSV; returns the clean frame and the report of every repair.

    `strict` refuses any repair instead: CsvFormatError at the first row that would need one.
    """
    p = Path(path)
    table = _read_table(p)
    parsed = _parse(p, table)
    frame, report = validate(parsed)
    if strict and not report.clean:
        raise _strict_error(p, _time_column(p, table), parsed.index, report)
    if not report.clean:
        log.warning("%s: %s", p, report.summary())
    return frame, report


_REASON_COLUMNS = {NAN_PRICE: "open/high/low/close", NON_POSITIVE: "open/high/low/close", NAN_VOLUME: "volume",
                   NEGATIVE_VOLUME: "volume", OHLC_RELATION: "high/low"}


def _strict_error(path: Path, tcol: str, stamps: pd.DatetimeIndex, report: ValidationReport) -> CsvFormatError:
    """The error for the first row (in file order) that validate() had to repair, drop or reorder."""
    hint = "fix the file, or import without --strict to apply the documented repairs"
    dup = np.flatnonzero(stamps.duplicated(keep="first"))
    if len(dup):
        row = int(dup[0])
        first = int(np.flatnonzero(stamps == stamps[row])[0])
        return CsvFormatError(f"duplicate timestamp {stamps[row].isoformat()} (first on line {first + 2})",
                              path=str(path), line=row + 2, column=tcol, hint=hint)
    if report.issues:
        issue = report.issues[0]
        row = int(np.flatnonzero(stamps == pd.Timestamp(issue.timestamp))[0])
        return CsvFormatError(issue.reason, path=str(path), line=row + 2,
                              column=_REASON_COLUMNS.get(issue.reason, "*"), hint=hint)
    row = int(np.flatnonzero(np.diff(stamps.asi8) < 0)[0]) + 1
    return CsvFormatError("row earlier than the row before it (not sorted by time)", path=str(path), line=row + 2,
                          column=tcol, hint=hint)


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV into a conventional OHLCV frame (repairs are logged; see read_csv_with_report)."""
    return read_csv_with_report(path)[0]


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame as `timestamp,open,high,low,close,volume` with ISO UTC (`Z`) timestamps."""
    check_frame(df, where=f"write_csv {path}")
    p = Path(path)
    out = df.loc[:, list(OHLCV_COLUMNS)].copy()
    out.index = out.index.strftime("%Y-%m-%dT%H:%M:%SZ").rename("timestamp")
    out.to_csv(p)  # default float format is the shortest exact repr: CSV round trips keep every digit
    return p
