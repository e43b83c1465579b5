"""`ktrdr data import|list|show|range|gaps|export`: market data in the object store, read and written directly.

These need NATS and the data bucket only (no backend). Loads from IB or the synthetic source are
operations run by the data worker (`ktrdr worker data`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional, TypeVar

import typer

from ktrdr.cli import checks
from ktrdr.cli.common import emit, fail, run, state
from ktrdr.cli.start_cmd import data_load

T = TypeVar("T")
app = typer.Typer(no_args_is_help=True, help="Market data in the object store: import, inspect, export.")
SYMBOL = typer.Argument(..., help="Symbol, e.g. EURUSD or AAPL.", callback=checks.symbol)
TIMEFRAME = typer.Argument(..., help="Timeframe: 1m 5m 15m 30m 1h 4h 1d 1w.", callback=checks.timeframe)


async def _with_repo(settings: Any, fn: Callable[[Any], T]) -> T:
    """Run `fn(repository)` in a thread, the repository bound to the namespace's data bucket."""
    import asyncio

    from nats.js.errors import BucketNotFoundError

    from ktrdr.bus.handle import Bus
    from ktrdr.bus.objects import ObjectFrameStore
    from ktrdr.bus.resolve import resolve_url
    from ktrdr.data import DataRepository
    from ktrdr.errors import BusError

    bus = await Bus.open(settings, resolve_url(settings), name="ktrdr-data")
    try:
        try:
            store = await bus.js.object_store(bus.names.bucket("data"))
        except BucketNotFoundError:
            raise BusError(f"nothing is set up for namespace {bus.names.ns!r} on this server yet",
                           hint="`ktrdr up` starts the stack and sets it up") from None
        repo = DataRepository(ObjectFrameStore(store, asyncio.get_running_loop()))
        return await asyncio.to_thread(fn, repo)  # the repository is sync: it must not run on the loop
    finally:
        await bus.close()


def _repo(ctx: typer.Context, fn: Callable[[Any], T]) -> T:
    return run(lambda: _with_repo(state(ctx).settings, fn))


def _info_dict(info: Any) -> dict[str, Any]:
    import msgspec

    return msgspec.to_builtins(info)


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from ktrdr.cli.render import table

    table(title, columns, rows)


# -- import -------------------------------------------------------------------------------------------------

def _csv_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(p.glob("*.csv")))
        elif p.is_file():
            files.append(p)
        else:
            fail(f"{p}: no such file or folder")
    if not files:
        fail("no CSV files to import", hint="name files SYMBOL_timeframe.csv, e.g. EURUSD_1h.csv")
    return files


def _parse_all(files: list[Path], strict: bool) -> list[tuple[Path, str, Any, Any, Any]]:
    """(file, symbol, timeframe, frame, report) for every file; every bad file is reported, then exit 1."""
    from ktrdr.data import read_csv_with_report, symbol_timeframe_from_filename
    from ktrdr.errors import KtrdrError

    parsed, bad = [], 0
    for f in files:
        try:
            symbol, tf = symbol_timeframe_from_filename(f)
            frame, report = read_csv_with_report(f, strict=strict)
        except KtrdrError as exc:
            bad += 1
            typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
            if exc.hint:
                typer.echo(f"hint: {exc.hint}", err=True)
            continue
        parsed.append((f, symbol, tf, frame, report))
    if bad:
        fail(f"{bad} of {len(files)} file(s) rejected; nothing was imported")
    return parsed


@app.command("import")
def import_(ctx: typer.Context,
            paths: list[Path] = typer.Argument(..., help="CSV files named SYMBOL_timeframe.csv, or folders of them."),
            replace: bool = typer.Option(False, "--replace", help="Replace stored series instead of merging into them."),
            strict: bool = typer.Option(False, "--strict", help="Refuse files that need any repair (duplicates, "
                                        "unsorted rows, bad prices) instead of repairing them."),
            context: Optional[str] = typer.Option(None, "--context", metavar="NAME",
                                                  help="Store one CSV (timestamp,value or OHLCV) as the context "
                                                       "series NAME that strategies' context_data read, e.g. "
                                                       "fred_DGS2 or cot_EUR_net_pct."),
            ) -> None:
    """Validate CSV files (all of them first) and store each as a series; prints what validation repaired."""
    import msgspec

    if context is not None:
        _import_context(ctx, context, paths)
        return
    parsed = _parse_all(_csv_files(paths), strict)

    def store(repo: Any) -> list[dict[str, Any]]:
        out = []
        for f, symbol, tf, frame, report in parsed:
            save = repo.save if replace else repo.merge_save
            save(symbol, tf, frame, "csv")
            out.append({"file": str(f), "series": _info_dict(repo.info(symbol, tf)),
                        "report": msgspec.to_builtins(report), "summary": report.summary()})
        return out

    done = _repo(ctx, store)
    emit(state(ctx), {"imported": done}, lambda: _render_imports(done))


def _import_context(ctx: typer.Context, name: str, paths: list[Path]) -> None:
    """Store one CSV as a named context series (replacing any earlier one)."""
    from ktrdr.data.context_series import check_name, read_context_csv, save_context
    from ktrdr.errors import KtrdrError

    if len(paths) != 1 or not paths[0].is_file():
        fail(f"--context {name} takes exactly one CSV file, got {[str(p) for p in paths]}",
             hint="ktrdr data import --context fred_DGS2 DGS2.csv")
    try:  # checked before connecting: a bad file or name needs no server to be reported
        check_name(name)
        frame = read_context_csv(paths[0])
    except KtrdrError as exc:
        fail(exc.message, exc.hint)
    meta = _repo(ctx, lambda repo: save_context(repo, name, frame))
    done = {"file": str(paths[0]), "context": name, "rows": int(meta["rows"]), "first": meta["first"],
            "last": meta["last"]}
    emit(state(ctx), {"imported": [done]},
         lambda: typer.echo(f"{paths[0]} → context series {name}: stored {done['rows']} rows "
                            f"{done['first']} .. {done['last']}"))


def _render_imports(done: list[dict[str, Any]]) -> None:
    for item in done:
        s, report = item["series"], item["report"]
        typer.echo(f"{item['file']} → {s['symbol']} {s['timeframe']}: {item['summary']}; "
                   f"stored {s['rows']} rows {s['first']} .. {s['last']}")
        for issue in report["issues"][:20]:
            typer.echo(f"  {issue['timestamp']}: {issue['reason']} ({issue['action']})")
        hidden = sum(report["counts"].values()) - min(len(report["issues"]), 20)
        if hidden > 0:
            typer.echo(f"  … and {hidden} more (see --json)")


# -- read-only views ----------------------------------------------------------------------------------------

@app.command("list")
def list_(ctx: typer.Context,
          context: bool = typer.Option(False, "--context", help="List the context series instead "
                                       "(imported with `ktrdr data import --context`)."),
          ) -> None:
    """Every stored series with rows, first and last bar, and source."""
    if context:
        from ktrdr.data.context_series import context_infos

        rows = _repo(ctx, context_infos)
        cols = ["name", "rows", "first", "last", "source"]
        emit(state(ctx), rows, lambda: _table("context series", cols, [[r[c] for c in cols] for r in rows]))
        return
    infos = [_info_dict(i) for i in _repo(ctx, lambda repo: repo.list())]
    cols = ["symbol", "timeframe", "rows", "first", "last", "source"]
    emit(state(ctx), infos, lambda: _table("stored series", cols, [[i[c] for c in cols] for i in infos]))


def _require_info(repo: Any, symbol: str, timeframe: str) -> Any:
    from ktrdr.data import DataNotFoundError

    info = repo.info(symbol, timeframe)
    if info is None:
        raise DataNotFoundError(symbol.upper(), timeframe, hint="see `ktrdr data list`, or import a CSV first")
    return info


@app.command("range")
def range_(ctx: typer.Context, symbol: str = SYMBOL, timeframe: str = TIMEFRAME) -> None:
    """First and last bar and row count of one series (from metadata; nothing is downloaded)."""
    info = _info_dict(_repo(ctx, lambda repo: _require_info(repo, symbol, timeframe)))
    emit(state(ctx), info, lambda: typer.echo(f"{info['symbol']} {info['timeframe']}: {info['first']} .. "
                                              f"{info['last']} ({info['rows']} rows, source {info['source']})"))


@app.command()
def show(ctx: typer.Context, symbol: str = SYMBOL, timeframe: str = TIMEFRAME,
         rows: int = typer.Option(10, "--rows", "-n", min=0, help="How many bars to show."),
         head: bool = typer.Option(False, "--head", help="Show the first bars instead of the last."),
         ) -> None:
    """The series' metadata and its last (or first) bars."""

    def read(repo: Any) -> tuple[Any, Any]:
        info = _require_info(repo, symbol, timeframe)
        df = repo.load(symbol, timeframe)
        return info, (df.head(rows) if head else df.tail(rows))

    info, df = _repo(ctx, read)
    bars = [{"timestamp": ts.isoformat(), **{c: float(v) for c, v in row.items()}} for ts, row in df.iterrows()]
    data = {"series": _info_dict(info), "bars": bars}
    cols = ["timestamp", "open", "high", "low", "close", "volume"]
    emit(state(ctx), data, lambda: _table(f"{info.symbol} {info.timeframe} ({info.rows} rows, {info.source})",
                                          cols, [[b[c] for c in cols] for b in bars]))


@app.command()
def gaps(ctx: typer.Context, symbol: str = SYMBOL, timeframe: str = TIMEFRAME,
         calendar: Optional[str] = typer.Option(None, "--calendar", help="us_stock, fx or crypto "
                                                "(default: fx for currency pairs, else us_stock).",
                                                callback=checks.one_of("us_stock", "fx", "crypto")),
         show_all: bool = typer.Option(False, "--all", help="List expected gaps (weekends, holidays) too."),
         ) -> None:
    """Missing bars of a series, expected (market closed) or not, and the coverage of trading time."""
    import msgspec

    from ktrdr.data import analyze_gaps, is_fx_pair

    cal = calendar or ("fx" if is_fx_pair(symbol) else "us_stock")
    report = _repo(ctx, lambda repo: analyze_gaps(repo.load(symbol, timeframe), timeframe, cal))
    data = {**msgspec.to_builtins(report), "coverage": report.coverage, "unexpected": len(report.unexpected),
            "missing_unexpected_bars": report.missing_unexpected_bars}
    emit(state(ctx), data, lambda: _render_gaps(symbol, report, show_all))


def _render_gaps(symbol: str, report: Any, show_all: bool) -> None:
    typer.echo(f"{symbol.upper()} {report.timeframe} ({report.calendar}): {report.bars} bars "
               f"{report.first} .. {report.last}; {len(report.gaps)} gaps, {len(report.unexpected)} unexpected "
               f"({report.missing_unexpected_bars} bars missing in trading time, coverage {report.coverage:.2%})")
    shown = report.gaps if show_all else report.unexpected
    if shown:
        _table("gaps" if show_all else "unexpected gaps", ["start", "end", "missing bars", "expected", "reason"],
               [[g.start, g.end, g.missing_bars, g.expected, g.reason] for g in shown])


@app.command()
def export(ctx: typer.Context, symbol: str = SYMBOL, timeframe: str = TIMEFRAME,
           path: Path = typer.Argument(..., help="A file, or a folder to write SYMBOL_timeframe.csv into."),
           ) -> None:
    """Write a stored series as CSV (timestamp,open,high,low,close,volume; ISO UTC)."""
    from ktrdr.data import csv_filename, write_csv

    target = path / csv_filename(symbol, timeframe) if path.is_dir() else path

    def write(repo: Any) -> int:
        df = repo.load(symbol, timeframe)
        write_csv(df, target)
        return len(df)

    rows = _repo(ctx, write)
    emit(state(ctx), {"file": str(target), "rows": rows}, lambda: typer.echo(f"wrote {rows} rows to {target}"))


# `data load` starts an operation through the backend like the other start commands, so its body lives with them.
app.command("load")(data_load)
