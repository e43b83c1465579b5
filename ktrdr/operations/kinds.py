"""The operation-kind table: everything that makes an operation type, in one entry per type.

Pools, routing, the API's start endpoints and request types, the pipeline step check, the CLI's
worker commands, the stack's worker counts and the monitor's filters all derive from this table.
Adding a kind is one `OperationKind` here (or `register` from a plugin or a test) plus its handler.
The handler is named by its import path, so the backend and the monitor never load a worker module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ktrdr.errors import KtrdrError
from ktrdr.operations import params as p
from ktrdr.protocol.messages import Token


@dataclass(frozen=True)
class OperationKind:
    """One operation type; a kind without pools is a parent that the backend drives itself."""

    name: str
    params: type[msgspec.Struct]
    summary: str
    pools: tuple[str, ...] = ()
    default_pool: str = ""
    handler: str = ""  # "module:function", imported only by the worker that serves the kind
    check: Callable[[Any], None] | None = None  # cross-field rules, run by the API and the worker alike
    verb: str = "start"  # the API endpoint is <ns>.api.<name>.<verb>
    stack_option: str = ""  # the StackConfig field with this kind's worker count; "" = stack_workers
    stack_workers: int = 0  # workers `ktrdr up` starts when no option names the count
    stack_args: tuple[str, ...] = ()  # extra `ktrdr worker <name>` arguments in the local stack
    request: type[msgspec.Struct] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.parent and self.default_pool not in self.pools:
            raise ValueError(f"kind {self.name!r}: default pool {self.default_pool!r} is not one of {self.pools}")
        object.__setattr__(self, "request", _request_type(self))

    @property
    def parent(self) -> bool:
        """A parent runs children in order and never reaches a work queue."""
        return not self.pools

    @property
    def start_hint(self) -> str:
        """The command that starts a worker for this kind."""
        return f"ktrdr worker {self.name}"

    def parse(self, parameters: dict[str, Any]) -> Any:
        """Parameters as this kind's struct, cross-field rules checked; ConfigError names the bad field."""
        value = p.convert_params(parameters, self.params, self.name)
        if self.check is not None:
            self.check(value)
        return value


def _request_type(kind: OperationKind) -> type[msgspec.Struct]:
    """The API request: the parameters plus an optional client-made id; unknown fields are ignored on the wire."""
    name = "Start" + "".join(part.title() for part in kind.name.split("_"))
    return msgspec.defstruct(name, [("operation_id", Token | None, None)], bases=(kind.params,), kw_only=True,
                             frozen=True, forbid_unknown_fields=False, module=__name__)


class UnknownKind(KtrdrError, KeyError):
    """An operation type that is not in the table."""

    def __str__(self) -> str:
        return KtrdrError.__str__(self)


KINDS: dict[str, OperationKind] = {}


def register(kind: OperationKind) -> OperationKind:
    """Add (or replace) a kind in the table."""
    KINDS[kind.name] = kind
    return kind


@contextmanager
def registered(kind: OperationKind) -> Iterator[OperationKind]:
    """A kind in the table for the duration of a block (tests, plugins tried out)."""
    before = KINDS.get(kind.name)
    register(kind)
    try:
        yield kind
    finally:
        if before is None:
            KINDS.pop(kind.name, None)
        else:
            KINDS[kind.name] = before


def get(name: str) -> OperationKind:
    """The kind called `name`; UnknownKind lists the known ones."""
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(f"unknown operation type {name!r}", hint=f"use one of {', '.join(sorted(KINDS))}") from None


def names() -> tuple[str, ...]:
    """Every kind's name, parents included (the monitor's type filter)."""
    return tuple(KINDS)


def worker_kinds() -> list[OperationKind]:
    """The kinds a worker serves (every kind that is not a parent)."""
    return [k for k in KINDS.values() if not k.parent]


def work_pairs() -> list[tuple[str, str]]:
    """Every (operation type, pool) that has a work queue and a consumer."""
    return [(k.name, pool) for k in worker_kinds() for pool in k.pools]


def endpoints() -> dict[tuple[str, str], type]:
    """(area, verb) → request type of every start endpoint."""
    return {(k.name, k.verb): k.request for k in KINDS.values()}


def api_endpoints() -> dict[tuple[str, str], type]:
    """(area, verb) → request type of the whole API: the kinds' start endpoints, then the fixed ones."""
    from ktrdr.protocol.api import ENDPOINTS

    return {**endpoints(), **ENDPOINTS}


for _kind in (
    OperationKind(name="training", params=p.TrainingParams, pools=("gpu", "cpu"), default_pool="cpu",
                  summary="Train a strategy's model (GPU first: the gpu pool when a live GPU worker exists).",
                  check=p.check_training, handler="ktrdr.workers.training:run_training_op",
                  stack_option="training_workers"),
    OperationKind(name="backtest", params=p.BacktestParams, pools=("cpu",), default_pool="cpu",
                  summary="Backtest a model or a plain signal rule on stored data.", check=p.check_backtest,
                  handler="ktrdr.workers.backtest:run_backtest_op", stack_option="backtest_workers"),
    OperationKind(name="data", params=p.DataLoadParams, pools=("ib",), default_pool="ib", verb="load",
                  summary="Load market data from IB, the synthetic source or CSV files into the data store.",
                  check=p.check_data_load, handler="ktrdr.workers.data:run_data_load",
                  stack_option="data_worker", stack_args=("--allow-no-ib",)),
    OperationKind(name="dummy", params=p.DummyParams, pools=("cpu",), default_pool="cpu",
                  summary="Steps that sleep or burn CPU: for trying the system, tests and benchmarks.",
                  handler="ktrdr.workers.dummy:run_dummy", stack_option="dummy_workers"),
    OperationKind(name="research", params=p.ResearchParams, summary="Train, then backtest the trained model.",
                  check=p.check_research),
    OperationKind(name="pipeline", params=p.PipelineParams, summary="Run explicit steps in order."),
    OperationKind(name="sweep", params=p.SweepParams, check=p.check_sweep,
                  summary="Train (or research) every variant of a strategy over a parameter grid, ranked."),
):
    register(_kind)
