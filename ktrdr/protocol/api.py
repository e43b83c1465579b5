"""Request and reply types of the backend API (`<ns>.api.<area>.<verb>`), JSON on the wire."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from ktrdr.protocol.messages import Token, Wire

Device = Literal["auto", "gpu", "cpu"]
NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
NonNegFloat = Annotated[float, msgspec.Meta(ge=0)]
OperationId = Token  # a KV key and subject token: an unchecked one (a dot, a megabyte) broke the connection


class StartDummy(Wire, frozen=True, kw_only=True):
    """Start a dummy operation."""

    steps: NonNegInt = 10
    step_seconds: NonNegFloat = 0.1
    fail_at: NonNegInt | None = None
    ignore_cancel: bool = False
    cpu_burn: bool = False
    operation_id: OperationId | None = None


class StartTraining(Wire, frozen=True, kw_only=True):
    """Train a strategy's model."""

    strategy_yaml: str
    symbols: list[str] | None = None
    timeframes: list[str] | None = None
    start: str | None = None
    end: str | None = None
    device: Device = "auto"
    model_name: str | None = None
    epochs: int | None = None  # overrides training.epochs (smoke runs)
    operation_id: OperationId | None = None


class StartBacktest(Wire, frozen=True, kw_only=True):
    """Backtest a strategy with a trained model."""

    strategy_yaml: str
    model: str | None = None
    symbol: str | None = None
    timeframe: str | None = None
    start: str | None = None
    end: str | None = None
    capital: float | None = None
    commission: float | None = None
    slippage: float | None = None
    position_size: float | None = None
    operation_id: OperationId | None = None


class StartDataLoad(Wire, frozen=True, kw_only=True):
    """Load market data into the data store."""

    symbol: str
    timeframe: str
    source: Literal["ib", "synthetic", "csv"] = "synthetic"
    mode: Literal["tail", "backfill", "full"] = "tail"
    start: str | None = None
    end: str | None = None
    seed: int | None = None
    operation_id: OperationId | None = None


class Step(Wire, frozen=True, kw_only=True):
    """One child of a parent operation; `inputs` copies earlier children's artifacts into parameters."""

    type: str
    parameters: dict[str, Any] = {}
    pool: str | None = None
    device: Device = "auto"
    weight: float = 1.0
    inputs: dict[str, str] = {}


class StartPipeline(Wire, frozen=True, kw_only=True):
    """A parent operation running its steps in order (research is one)."""

    steps: list[Step]
    name: str = "pipeline"
    operation_id: OperationId | None = None


class StartResearch(Wire, frozen=True, kw_only=True):
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
    epochs: int | None = None  # overrides training.epochs (smoke runs)
    operation_id: OperationId | None = None


class OperationRef(Wire, frozen=True, kw_only=True):
    """Names one operation."""

    operation_id: OperationId


class CancelOperation(Wire, frozen=True, kw_only=True):
    """Cancel an operation (and its children)."""

    operation_id: OperationId
    reason: str = "cancelled by user"


class ListOperations(Wire, frozen=True, kw_only=True):
    """Filters and paging for the operations list (newest first)."""

    status: list[str] | None = None
    type: list[str] | None = None
    active_only: bool = False
    limit: int = 100
    offset: int = 0


class GetMetrics(Wire, frozen=True, kw_only=True):
    """Read an operation's metric events from `cursor` (a stream sequence; 0 = from the start)."""

    operation_id: OperationId
    cursor: int = 0
    limit: int = 200


class ValidateStrategy(Wire, frozen=True, kw_only=True):
    """Check a strategy file's text."""

    strategy_yaml: str


class Empty(Wire, frozen=True, kw_only=True):
    """A request with no fields (an empty body is fine too)."""


class ApiError(Wire, frozen=True, kw_only=True):
    """The JSON body of an error reply (also in the Nats-Service-Error(-Code) headers)."""

    code: int
    error: str
    message: str
    field: str | None = None
    hint: str | None = None


#: (area, verb) → request type. subjects.md lists every one; a test keeps them in step.
ENDPOINTS: dict[tuple[str, str], type] = {
    ("dummy", "start"): StartDummy,
    ("training", "start"): StartTraining,
    ("backtest", "start"): StartBacktest,
    ("data", "load"): StartDataLoad,
    ("research", "start"): StartResearch,
    ("pipeline", "start"): StartPipeline,
    ("operations", "get"): OperationRef,
    ("operations", "list"): ListOperations,
    ("operations", "cancel"): CancelOperation,
    ("operations", "resume"): OperationRef,
    ("operations", "metrics"): GetMetrics,
    ("operations", "result"): OperationRef,
    ("workers", "list"): Empty,
    ("strategies", "validate"): ValidateStrategy,
    ("system", "health"): Empty,
    ("dead", "list"): Empty,
}
