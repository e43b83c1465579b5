"""Run-time overrides of a strategy (symbols, timeframes, period, epochs), re-validated afterwards."""

from __future__ import annotations

from typing import Any

import msgspec

from ktrdr.strategy.config import DateRange, StrategyConfig, SymbolsConfig, TimeframesConfig
from ktrdr.strategy.validate import validate_strategy

replace = msgspec.structs.replace


def with_overrides(cfg: StrategyConfig, *, symbols: list[str] | None = None,
                   timeframes: list[str] | None = None, start: str | None = None, end: str | None = None,
                   epochs: int | None = None) -> StrategyConfig:
    """The strategy with the given parts replaced (None keeps the file's value), fully validated."""
    td = cfg.training_data
    changes: dict[str, Any] = {}
    if symbols:
        changes["symbols"] = (SymbolsConfig(mode="single", symbol=symbols[0]) if len(symbols) == 1
                              else SymbolsConfig(mode="multi_symbol", list_=list(symbols)))
    if timeframes:
        base = td.timeframes.base_timeframe if td.timeframes.base_timeframe in timeframes else None
        changes["timeframes"] = (TimeframesConfig(mode="single", timeframe=timeframes[0]) if len(timeframes) == 1
                                 else TimeframesConfig(mode="multi_timeframe", list_=list(timeframes),
                                                       base_timeframe=base))
    if start or end:
        changes |= {"date_range": DateRange(start=start or td.start, end=end or td.end),
                    "start_date": None, "end_date": None}
    out = replace(cfg, training_data=replace(td, **changes)) if changes else cfg
    if epochs is not None:
        out = replace(out, training=replace(out.training, epochs=epochs))
    return validate_strategy(out)
