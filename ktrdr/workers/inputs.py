"""What training and backtest operations read from the data bucket: each symbol's bars per timeframe, and the
context series a strategy's `data_source` indicators name (never fetched from anywhere else)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ktrdr.errors import KtrdrError
from ktrdr.workers.context import OperationContext

if TYPE_CHECKING:  # the heavy domain (pandas) loads inside the handlers, not at import
    import pandas as pd

    from ktrdr.data import DataRepository
    from ktrdr.strategy.config import StrategyConfig


class MissingDataError(KtrdrError, LookupError):
    """Series the strategy needs are not in the data store; `missing` lists (symbol, timeframe) pairs."""

    def __init__(self, missing: list[tuple[str, str]]) -> None:
        names = ", ".join(f"{s} {tf}" for s, tf in missing)
        loads = "; ".join(f"ktrdr data load {s} {tf} --source synthetic" for s, tf in missing)
        super().__init__(f"no stored data for {names}",
                         hint=f"load it first, e.g. `{loads}` (or --source ib / a CSV import)")
        self.missing = missing


def data_repository(ctx: OperationContext) -> DataRepository:
    """The data bucket as a repository, for the operation's thread."""
    from ktrdr.bus.objects import ObjectFrameStore
    from ktrdr.data import DataRepository

    return DataRepository(ObjectFrameStore(ctx.services["objects"].data, ctx.loop))


def load_market(ctx: OperationContext, repo: DataRepository, symbols: list[str], timeframes: list[str],
                start: str | None, end: str | None) -> dict[str, dict[str, pd.DataFrame]]:
    """{symbol: {timeframe: bars in [start, end)}}; MissingDataError names every absent series first."""
    missing = [(s, tf) for s in symbols for tf in timeframes if repo.info(s, tf) is None]
    if missing:
        raise MissingDataError(missing)
    out: dict[str, dict[str, pd.DataFrame]] = {}
    total = len(symbols) * len(timeframes)
    for s in symbols:
        out[s] = {}
        for tf in timeframes:
            ctx.cancel.check()
            ctx.progress.update(current_step="loading data", current_item=f"{s} {tf}", steps_completed=0,
                                items_processed=sum(map(len, out.values())), items_total=total)
            out[s][tf] = repo.load(s, tf, start, end)
    return out


def load_context(repo: DataRepository, cfg: StrategyConfig) -> dict[str, pd.DataFrame]:
    """The context series the strategy's indicators read, by source id.

    A series imported under the id wins; an `ib` entry's instrument (source id = its symbol) may also be an
    ordinary stored market series at the entry's timeframe. MissingContextError names what is absent.
    """
    from ktrdr.data.context_series import MissingContextError, context_names, context_key
    from ktrdr.strategy.features import context_source_ids

    instruments = {e.symbol: e.timeframe or cfg.training_data.base for e in cfg.context_data or [] if e.symbol}
    out: dict[str, pd.DataFrame] = {}
    missing = []
    for sid in context_source_ids(cfg):
        stored = repo.get_frame(context_key(sid))
        if stored is not None:
            out[sid] = stored[0]
        elif sid in instruments and repo.info(sid, instruments[sid]) is not None:
            out[sid] = repo.load(sid, instruments[sid])
        else:
            missing.append(sid)
    if missing:
        raise MissingContextError(missing, stored=context_names(repo))
    return out
