"""The parameter struct of every operation kind: the API request and the worker read the same one.

Only msgspec here (and our error type): the backend, the client and the monitor import it without
loading the domain. A struct's defaults are the operation's defaults, wherever it is started from.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta

from ktrdr.errors import ConfigError
from ktrdr.operations.period import check_period

NonNegInt = Annotated[int, Meta(ge=0)]
NonNegFloat = Annotated[float, Meta(ge=0)]
PositiveInt = Annotated[int, Meta(gt=0)]
NonEmpty = Annotated[str, Meta(min_length=1)]
# An ISO date/time is ~30 characters; the bound keeps a hostile megabyte away from the (slow) date parser.
When = Annotated[str, Meta(max_length=64)]
Name = Annotated[str, Meta(min_length=1, max_length=64)]
Device = Literal["auto", "gpu", "cpu"]
Source = Literal["ib", "synthetic", "csv"]
Mode = Literal["tail", "backfill", "full"]


class Params(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Base of every parameter struct: a typo in a field name fails loudly with its path."""


class DummyParams(Params, kw_only=True, frozen=True):
    """Parameters of a dummy operation: steps that sleep or burn CPU, an optional failure."""

    steps: NonNegInt = 10
    step_seconds: NonNegFloat = 0.1
    fail_at: NonNegInt | None = None
    ignore_cancel: bool = False
    cpu_burn: bool = False


class TrainingParams(Params, kw_only=True, frozen=True):
    """Parameters of a training operation (the strategy YAML travels inline)."""

    strategy_yaml: NonEmpty
    symbols: list[NonEmpty] | None = None
    timeframes: list[str] | None = None
    start: str | None = None
    end: str | None = None
    device: Device = "auto"
    model_name: str | None = None
    epochs: PositiveInt | None = None  # overrides training.epochs (smoke runs)


class SignalRule(Params, kw_only=True, frozen=True):
    """A plain, model-free signal rule: a simple-moving-average crossover."""

    type: Literal["ma_cross"] = "ma_cross"
    fast: PositiveInt = 10
    slow: PositiveInt = 30


class BacktestParams(Params, kw_only=True, frozen=True):
    """Parameters of a backtest: a model reference (or a plain `signals` rule), data and costs."""

    strategy_yaml: str | None = None  # inline; its decisions override the bundle's (default: the bundle's own)
    model: str | None = None  # registry reference: name, name@3, name/1h, name/1h_v3
    signals: SignalRule | None = None
    symbol: str | None = None  # default: the strategy's first symbol
    timeframe: str | None = None  # default: the strategy's base timeframe
    start: str | None = None
    end: str | None = None
    capital: Annotated[float, Meta(gt=0)] = 100_000.0
    # Rates per fill; None: the original KTRDR's defaults (ktrdr.backtesting.costs).
    commission: Annotated[float, Meta(ge=0, lt=0.1)] | None = None
    slippage: Annotated[float, Meta(ge=0, lt=0.1)] | None = None
    position_size: Annotated[float, Meta(gt=0, le=1)] = 0.25
    short_from_flat: bool | None = None  # default: the strategy's decisions.short_from_flat
    progress_every_bars: PositiveInt = 10_000
    checkpoint_every_bars: NonNegInt = 50_000
    # Pause after every progress chunk (cancellable): slows a run down on purpose for demos and failover drills.
    pace_s: NonNegFloat = 0.0


class DataLoadParams(Params, kw_only=True, frozen=True):
    """Parameters of a data load; without `source` it loads from IB, never silently from synthetic bars."""

    symbol: Name
    timeframe: Name
    source: Source = "ib"
    mode: Mode = "tail"
    start: When | None = None  # ISO date/time (UTC unless it says otherwise)
    end: When | None = None
    seed: int = 0  # synthetic only
    csv_dir: str | None = None  # csv only: a directory on the data worker holding {SYMBOL}_{tf}.csv


class Step(msgspec.Struct, kw_only=True, frozen=True):
    """One child of a parent operation; `inputs` copies earlier children's artifacts into parameters."""

    type: str
    parameters: dict[str, Any] = {}
    pool: str | None = None
    device: Device = "auto"
    weight: float = 1.0
    inputs: dict[str, str] = {}


class PipelineParams(msgspec.Struct, kw_only=True, frozen=True):
    """A parent operation running its steps in order."""

    steps: list[Step]
    name: str = "pipeline"


class ResearchParams(Params, kw_only=True, frozen=True):
    """Train, then backtest the trained model, as one parent operation."""

    strategy_yaml: str
    symbols: list[str] | None = None
    timeframes: list[str] | None = None
    start: str | None = None
    end: str | None = None
    backtest_start: str | None = None
    backtest_end: str | None = None
    device: Device = "auto"
    capital: float | None = None
    epochs: PositiveInt | None = None  # overrides training.epochs (smoke runs)


class SweepAxis(Params, kw_only=True, frozen=True):
    """One swept YAML path of the strategy and the values it takes."""

    path: NonEmpty
    values: Annotated[list[Any], Meta(min_length=1)]


# metric → (better when, what it reads): validation metrics of the training, the backtest's with --backtest.
SWEEP_METRICS: dict[str, tuple[str, str]] = {
    "val_loss": ("min", "training"), "val_accuracy": ("max", "training"), "test_accuracy": ("max", "training"),
    "sharpe": ("max", "backtest"), "return": ("max", "backtest"), "drawdown": ("min", "backtest"),
}


class SweepParams(ResearchParams, kw_only=True, frozen=True):
    """A parent running one training (or, with `backtest`, research) child per variant of a strategy.

    The research fields are the children's: the backtest ones are used with `backtest` only.
    """

    sets: Annotated[list[SweepAxis], Meta(min_length=1)]
    samples: PositiveInt | None = None  # draw this many variants from the grid (seeded) instead of all
    seed: int = 0
    metric: str | None = None  # default: val_loss, or sharpe with backtest
    backtest: bool = False
    max_parallel: PositiveInt = 4  # children in flight at once


def check_sweep(p: SweepParams) -> None:
    """The metric exists and fits the children: backtest metrics need `backtest`."""
    if p.metric is None:
        return
    if p.metric not in SWEEP_METRICS:
        raise ConfigError(f"unknown sweep metric {p.metric!r}", path="metric",
                          hint=f"use one of {', '.join(SWEEP_METRICS)}")
    if SWEEP_METRICS[p.metric][1] == "backtest" and not p.backtest:
        raise ConfigError(f"metric {p.metric!r} needs a backtest of every variant", path="metric",
                          hint="add --backtest, or rank by val_loss, val_accuracy or test_accuracy")


def sweep_metric(p: SweepParams) -> str:
    """The metric that ranks the variants."""
    return p.metric or ("sharpe" if p.backtest else "val_loss")


P = TypeVar("P")


def convert_params(parameters: dict[str, Any], cls: type[P], what: str) -> P:
    """Operation parameters as `cls`; a bad or unknown field is a ConfigError naming `parameters.<field>`."""
    try:
        return msgspec.convert(parameters, cls)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$")
        raise ConfigError(f"invalid {what} parameters: {exc}", path="parameters" + where.rstrip("`"),
                          hint=f"see {cls.__module__}.{cls.__name__} for the fields and their ranges") from None


def check_backtest(p: BacktestParams) -> None:
    """Exactly one of `model` and `signals`; a plain rule needs a symbol and timeframe from somewhere."""
    if (p.model is None) == (p.signals is None):
        raise ConfigError("give exactly one of `model` and `signals`", path="parameters.model",
                          hint="model: a registry reference such as my_strategy/1h; signals: {type: ma_cross}")
    if p.signals is not None and p.signals.fast >= p.signals.slow:
        raise ConfigError(f"signals.fast ({p.signals.fast}) must be below signals.slow ({p.signals.slow})",
                          path="parameters.signals.fast")
    if p.model is None and p.strategy_yaml is None and (p.symbol is None or p.timeframe is None):
        raise ConfigError("without a strategy, `symbol` and `timeframe` are required", path="parameters.symbol")
    check_period(p.start, p.end)


def check_training(p: TrainingParams) -> None:
    """The period parses as ISO 8601 and ends after it starts (nothing is queued otherwise)."""
    check_period(p.start, p.end)


def check_research(p: ResearchParams) -> None:
    """Both periods (training, backtest) parse and end after they start."""
    check_period(p.start, p.end)
    check_period(p.backtest_start, p.backtest_end, "backtest_")


def check_data_load(p: DataLoadParams) -> None:
    """Symbol, timeframe and dates parse; a csv load names its folder."""
    from ktrdr.data import Timeframe, normalize_symbol, to_utc  # pandas, not torch: loaded on first check

    for name, parse in (("symbol", normalize_symbol), ("timeframe", Timeframe.parse),
                        ("start", to_utc), ("end", to_utc)):
        value = getattr(p, name)
        if value is None:
            continue
        try:
            parse(value)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"`{name}` is invalid: {value!r} ({str(exc)[:200]})", path=name) from None
    check_period(p.start, p.end)  # strict ISO: pandas alone would take "yesterday"
    if p.source == "csv" and not p.csv_dir:
        raise ConfigError("a csv load needs `csv_dir`, the folder of {SYMBOL}_{timeframe}.csv files on the "
                          "data worker", path="csv_dir")
