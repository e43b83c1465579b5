"""The `data` operation (data_load): bring a stored series up to date from IB, the synthetic source or CSV files.

Runs on the data worker (pool `ib`). Bars go into the `<ns>_data` object store through DataRepository;
`load_data` saves as it goes, so a cancelled or failed load keeps what it fetched, and its LoadResult
(the result summary when it completes) is logged when it does not.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import msgspec

from ktrdr.errors import KtrdrError, RetryableError
from ktrdr.operations import kinds
from ktrdr.operations.params import DataLoadParams
from ktrdr.workers.context import OperationContext

log = logging.getLogger("ktrdr.workers.data")
RETRY_DELAY_S = 30.0  # a retryable failure (IB down, pacing) is tried again after this, unless the worker sets
#                       services["retry_delay_s"] (`ktrdr worker data --retry-delay`)


class NoIbConnection(KtrdrError, RuntimeError):
    """An IB load reached a data worker that runs without IB (started with --allow-no-ib)."""


def parse_params(parameters: dict[str, Any]) -> DataLoadParams:
    """Validate data-load parameters; the error names the bad field."""
    return kinds.get("data").parse(parameters)


def build_provider(p: DataLoadParams, services: dict[str, Any]) -> Any:
    """The DataProvider for `p.source`: IB needs the worker's IB session (`services["ib"]`).

    `services["ib_pacing"]` (PacingRules) replaces IB's documented limits, e.g. for an account that shares them.
    """
    from ktrdr.data import CsvProvider, IbProvider, PacingLimiter, SyntheticProvider

    if p.source == "synthetic":
        return SyntheticProvider(seed=p.seed)
    if p.source == "csv":
        return CsvProvider(p.csv_dir or ".")
    session = services.get("ib")
    if session is None:
        raise NoIbConnection("this data worker runs without IB (--allow-no-ib) and cannot run an IB load",
                             hint="start a data worker connected to IB Gateway, or use source synthetic or csv")
    if not session.connected:
        raise RetryableError(f"IB connection to {session.host}:{session.port} is down; retrying later",
                             delay_s=services.get("retry_delay_s", RETRY_DELAY_S))
    # One provider per worker: IB's pacing budget and the contract cache belong to the connection.
    if "ib_provider" not in services:
        services["ib_provider"] = IbProvider(session, PacingLimiter(services.get("ib_pacing")))
    return services["ib_provider"]


def repository(ctx: OperationContext) -> Any:
    """The DataRepository over the namespace's data bucket, for this handler thread."""
    from ktrdr.bus.objects import ObjectFrameStore
    from ktrdr.data import DataRepository

    stores = ctx.services["objects"]
    return DataRepository(ObjectFrameStore(stores.data, ctx.loop))  # no disk cache: this worker writes


def run_data_load(ctx: OperationContext) -> dict[str, Any]:
    """The `data` handler: parse, build the provider, load into the object store."""
    p = parse_params(ctx.parameters)
    return load_into_store(ctx, p, build_provider(p, ctx.services))


def load_into_store(ctx: OperationContext, p: DataLoadParams, provider: Any) -> dict[str, Any]:
    """Run load_data into the data bucket; returns the LoadResult as a dict (see the module docstring)."""
    from ktrdr.data import DataLoadCancelled, DataLoadError, load_data, series_key

    start, end, mode = _resume_plan(ctx, p, provider)
    ctx.artifacts["data"] = series_key(p.symbol, p.timeframe)
    ctx.progress.update(percentage=0.0, current_step=f"planning {p.mode} load of {p.symbol} {p.timeframe}")
    try:
        result = load_data(provider, repository(ctx), p.symbol, p.timeframe, mode, start, end,
                           progress=ctx.progress, cancel=ctx.cancel)
    except DataLoadCancelled as exc:
        _report(ctx, "cancelled", exc.result)
        ctx.checkpointer.save(msgspec.json.encode(exc.result))  # a requeued attempt resumes a full load
        raise
    except DataLoadError as exc:
        _report(ctx, "failed", exc.result)
        if exc.retryable:
            raise RetryableError(f"{exc.message} (kept what was fetched; retrying)",
                                 delay_s=ctx.services.get("retry_delay_s", RETRY_DELAY_S)) from exc
        raise
    return msgspec.to_builtins(result)


def _report(ctx: OperationContext, outcome: str, result: Any) -> None:
    """Log what a load that did not complete kept, as a line and as a `data_load` metric record."""
    values = msgspec.to_builtins(result)
    ctx.progress.log(f"data load {outcome}: kept {values.get('fetched_rows', 0)} fetched bars "
                     f"({values.get('segments_done', 0)}/{values.get('segments_total', 0)} segments); "
                     f"stored series now {values.get('stored_rows', 0)} rows, "
                     f"{values.get('first')} .. {values.get('last')}")
    ctx.progress.metric(values, name="data_load")


def _resume_plan(ctx: OperationContext, p: DataLoadParams, provider: Any) -> tuple[Any, Any, str]:
    """(start, end, mode) for this attempt: a resumed `full` load skips the segments already saved.

    `tail` and `backfill` resume by themselves (they start from what is stored); `full` would
    re-fetch everything, so it restarts at the first segment the cancelled attempt did not finish.
    """
    if not ctx.resume or p.mode != "full":
        return p.start, p.end, p.mode
    saved = ctx.checkpointer.load()
    if not saved:
        return p.start, p.end, p.mode
    from ktrdr.data import Timeframe
    from ktrdr.data.providers import split_range

    prev = json.loads(saved)
    tf = Timeframe.parse(p.timeframe)
    if not prev.get("start") or not prev.get("end"):
        return p.start, p.end, p.mode
    segments = split_range(prev["start"], prev["end"], provider.segment_span(tf), tf)
    done = int(prev.get("segments_done", 0))
    if done >= len(segments):
        return prev["end"], prev["end"], p.mode
    ctx.progress.log(f"resuming full load at segment {done + 1}/{len(segments)} ({segments[done][0].isoformat()})")
    return segments[done][0].isoformat(), prev["end"], p.mode
