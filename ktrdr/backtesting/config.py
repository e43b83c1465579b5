"""BacktestConfig: capital, sizing, costs and the cadence of progress and checkpoints."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from ktrdr.errors import ConfigError

PositiveFloat = Annotated[float, Meta(gt=0)]
Fraction = Annotated[float, Meta(gt=0, le=1)]
Rate = Annotated[float, Meta(ge=0, lt=0.1)]
NonNegativeInt = Annotated[int, Meta(ge=0)]
PositiveInt = Annotated[int, Meta(gt=0)]


class BacktestConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a backtest trades: see docs/backtest-conventions.md for every rule."""

    initial_capital: PositiveFloat = 100_000.0
    # Fraction of the cash available when a position is opened (value + commission).
    position_size: Fraction = 0.25
    # Rates on the traded value, charged on every fill (entry and exit).
    commission: Rate = 0.0
    slippage: Rate = 0.0
    # Allow SELL while flat to open a short (the strategy's decisions.short_from_flat).
    short_from_flat: bool = False
    # Signals on bars before this index are ignored; metrics start here.
    warmup_bars: NonNegativeInt = 0
    # Round position sizes down to whole units (as brokers of shares do); default fractional.
    whole_units: bool = False
    progress_every_bars: PositiveInt = 10_000
    # 0 disables periodic checkpoints (a cancel still saves one when a checkpointer is given).
    checkpoint_every_bars: NonNegativeInt = 50_000


def backtest_config(**fields: object) -> BacktestConfig:
    """Build a BacktestConfig from plain values, raising ConfigError with the bad field's path."""
    try:
        return msgspec.convert(fields, BacktestConfig)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$")
        raise ConfigError(f"invalid backtest config: {message}", path="backtest" + where.rstrip("`"),
                          hint="see BacktestConfig for fields and ranges") from exc
