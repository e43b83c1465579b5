"""Context series: non-tradable inputs (yields, spreads, positioning, other instruments) stored by name.

A strategy's `context_data` entries name series by the ids the original derives (`fred_DGS2`,
`yield_spread_DGS2_IRLTLT01DEM156N`, `cot_EUR_net_pct`, `GBPUSD`); here those series are imported once
(`ktrdr data import --context NAME FILE.csv`) into the data bucket under `context/NAME` and read from
there. Nothing is fetched from the internet. A CSV holds a time column and either a `value` (or `close`)
column or full OHLCV; a value becomes the close (and open/high/low), as the original's providers do.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ktrdr.data.csvio import csv_numbers, csv_times, read_table
from ktrdr.data.errors import CsvFormatError, DataError
from ktrdr.data.frames import OHLCV_COLUMNS, make_frame
from ktrdr.data.store import DataRepository

PREFIX = "context/"
KIND = "context"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
VALUE_COLUMNS = ("value", "close")


class MissingContextError(DataError, LookupError):
    """Context series a strategy names are not stored; `names` lists them."""

    def __init__(self, names: list[str], *, stored: list[str] | None = None) -> None:
        imports = "; ".join(f"ktrdr data import --context {n} {n}.csv" for n in names)
        known = f" (stored: {', '.join(stored)})" if stored else " (none stored)"
        super().__init__(f"context series not in the data store: {', '.join(names)}{known}",
                         hint=f"import them first, e.g. `{imports}`; nothing is fetched from the internet")
        self.names = names


def check_name(name: str) -> str:
    """A context series name as given (ids are case-sensitive), checked for use in object keys."""
    if not _NAME.match(name):
        raise DataError(f"invalid context series name {name!r}",
                        hint="use letters, digits, '.', '_' or '-', e.g. fred_DGS2 or yield_spread_DGS2_X")
    return name


def context_key(name: str) -> str:
    """Object key of a context series in the data bucket."""
    return PREFIX + check_name(name)


def read_context_csv(path: str | Path) -> pd.DataFrame:
    """A context CSV as an OHLCV frame (UTC, sorted, a duplicated timestamp keeps its last row)."""
    p = Path(path)
    table, names = read_table(p)
    stamps = csv_times(p, table)
    if all(c in names for c in OHLCV_COLUMNS):
        columns = {c: csv_numbers(p, table, names[c]) for c in OHLCV_COLUMNS}
    else:
        value = next((names[c] for c in VALUE_COLUMNS if c in names), None)
        if value is None:
            raise CsvFormatError("missing column", path=str(p), line=1, column="value",
                                 hint="a context CSV needs timestamp,value (or timestamp,close, or full OHLCV)")
        v = csv_numbers(p, table, value)
        columns = {"open": v, "high": v, "low": v, "close": v, "volume": np.zeros(len(v))}
    frame = make_frame(stamps, columns)
    return frame[~frame.index.duplicated(keep="last")].sort_index()


def save_context(repo: DataRepository, name: str, frame: pd.DataFrame, source: str = "csv") -> dict[str, str]:
    """Store (replace) a context series; returns its metadata."""
    return repo.put_frame(context_key(name), frame, {"kind": KIND, "name": name, "source": source})


def context_names(repo: DataRepository) -> list[str]:
    """Names of every stored context series."""
    return sorted(k[len(PREFIX):] for k in repo.store.keys() if k.startswith(PREFIX))


def context_infos(repo: DataRepository) -> list[dict[str, object]]:
    """Every stored context series: name, rows, first and last timestamp, source."""
    metas = ((n, repo.store.info(context_key(n)) or {}) for n in context_names(repo))
    return [{"name": n, "rows": int(m.get("rows", 0)), "first": m.get("first", ""), "last": m.get("last", ""),
             "source": m.get("source", "")} for n, m in metas]


def load_context(repo: DataRepository, names: list[str]) -> dict[str, pd.DataFrame]:
    """The named context series; MissingContextError names every one that is absent."""
    found = {n: repo.get_frame(context_key(n)) for n in names}
    missing = [n for n, f in found.items() if f is None]
    if missing:
        raise MissingContextError(missing, stored=context_names(repo))
    return {n: f[0] for n, f in found.items() if f is not None}
