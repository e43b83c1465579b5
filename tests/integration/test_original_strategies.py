"""Every strategy file of the original KTRDR trains (`--epochs 1`) and backtests through real training and backtest
workers on synthetic data: one stack (server namespace, workers, stored series) is shared by all files. The
context-data file reads context series imported with `ktrdr data import --context`; the multi-symbol file trains one
model on three symbols, is listed with its symbol set and is backtested on a symbol other than its first."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import pytest_asyncio
import torch
from typer.testing import CliRunner

from ktrdr.bus.handle import Bus
from ktrdr.bus.objects import ObjectFrameStore, object_stores
from ktrdr.cli.main import app
from ktrdr.config import Settings
from ktrdr.data import DataRepository, SyntheticProvider
from ktrdr.operations.aggregator import Aggregator
from ktrdr.operations.record import OperationRecord
from ktrdr.operations.submit import submit
from ktrdr.strategy import StrategyConfig, load_strategy
from ktrdr.strategy.features import context_source_ids
from ktrdr.workers.backtest import run_backtest_op
from ktrdr.workers.training import run_training_op
from tests.helpers import wait_record
from tests.integration.conftest import WorkerPool

STRATEGIES = Path(__file__).parents[2] / ".." / "shared" / "ktrdr-v3-strategies"
FILES = sorted(STRATEGIES.glob("*.yaml")) if STRATEGIES.is_dir() else []
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not FILES, reason=f"{STRATEGIES} is absent")]
torch.set_num_threads(1)
# Short synthetic ranges: about 1,500 hourly bars to train on, a month of later bars to backtest.
START, TRAIN_END, END = "2024-01-01", "2024-04-01", "2024-05-01"


@dataclass
class Stack:
    """The shared stack: settings of its namespace and a bus with the aggregator running behind it."""

    settings: Settings
    bus: Bus


def _context_csv(folder: Path, name: str, index: pd.DatetimeIndex, values: np.ndarray) -> Path:
    """A context series file in the `timestamp,value` layout the import reads."""
    path = folder / f"{name}.csv"
    pd.DataFrame({"timestamp": index.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": values}).to_csv(path, index=False)
    return path


def _import_context(settings: Settings, folder: Path, cfg: StrategyConfig) -> None:
    """Import a synthetic series for every context id that is not an instrument (those are market series)."""
    instruments = {e.symbol for e in cfg.context_data or [] if e.symbol}
    rng = np.random.default_rng(7)
    days = pd.date_range(START, END, freq="D", tz="UTC")
    for name in context_source_ids(cfg):
        if name in instruments:
            continue
        # A daily random walk that crosses zero (a yield spread can), or a weekly percentile in [0, 100].
        values = np.cumsum(rng.normal(0, 0.05, len(days))) if "spread" in name else rng.uniform(0, 100, len(days))
        path = _context_csv(folder, name, days, values)
        result = cli(settings, "data", "import", "--context", name, str(path))
        assert result.exit_code == 0 and f"context series {name}" in result.output, result.output


def _needed_series(configs: list[StrategyConfig]) -> set[tuple[str, str]]:
    """(symbol, timeframe) of every file's training data and of every instrument named as context."""
    series = {(s, tf) for c in configs for s in c.training_data.symbol_list for tf in c.training_data.timeframe_list}
    series |= {(e.symbol, e.timeframe or c.training_data.base)
               for c in configs for e in c.context_data or [] if e.symbol}
    return series


@pytest_asyncio.fixture(scope="module")
async def stack(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """One namespace with a training and a backtest worker, the synthetic series every file needs, and the
    context series imported through the CLI."""
    home = tmp_path_factory.mktemp("original-files")
    settings = Settings(nats_url=nats_url, namespace=f"t{secrets.token_hex(4)}", home=str(home / "home"),
                        ack_wait_s=30.0, heartbeat_s=0.5, max_deliver=3, events_max_age_days=1.0)
    bus = await Bus.open(settings, setup=True)
    aggregator, workers = Aggregator(bus), WorkerPool(settings)
    await aggregator.start()
    await workers.start(run_training_op, op_type="training", pool="cpu", checkpoints=None)
    await workers.start(run_backtest_op, op_type="backtest", pool="cpu", checkpoints=None)
    objects = await object_stores(bus.js, bus.names)
    repo = DataRepository(ObjectFrameStore(objects.data, asyncio.get_running_loop()))
    configs = [load_strategy(f.read_text()) for f in FILES]
    provider = SyntheticProvider(seed=11)
    for symbol, tf in sorted(_needed_series(configs)):
        frame = provider.fetch(symbol, tf, START, END)
        await asyncio.to_thread(repo.save, symbol, tf, frame, "synthetic")
    for cfg in configs:
        await asyncio.to_thread(_import_context, settings, home, cfg)
    yield Stack(settings, bus)
    await workers.close()
    await aggregator.stop()
    await bus.close()


def cli(settings: Settings, *args: str) -> Any:
    """Run the ktrdr CLI against the stack's server and namespace."""
    env = {"KTRDR_NATS_URL": settings.nats_url or "", "KTRDR_NAMESPACE": settings.namespace}
    return CliRunner().invoke(app, list(args), env=env)


async def _run(bus: Bus, op_type: str, params: dict[str, Any]) -> OperationRecord:
    op = await submit(bus, op_type, "cpu", params)
    return await wait_record(bus, op.id, lambda r: r.terminal, timeout=60)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
async def test_original_file_trains_and_backtests_through_the_workers(stack: Stack, path: Path) -> None:
    text = path.read_text()
    cfg = load_strategy(text)
    td = cfg.training_data
    trained = await _run(stack.bus, "training", {"strategy_yaml": text, "device": "cpu", "epochs": 1,
                                                  "start": START, "end": TRAIN_END})
    assert trained.status == "completed", trained.error
    result = trained.result
    expected_weighting = "uniqueness" if getattr(cfg.training.labels, "compute_weights", False) else "uniform"
    assert (result["labels"]["source"], result["labels"]["sample_weighting"]) == (
        cfg.training.labels.source, expected_weighting)
    assert result["training"]["epochs_run"] == 1 and result["symbols"] == td.symbol_list
    assert result["data"]["context"] == context_source_ids(cfg)
    key = trained.artifacts["model"]
    # A multi-symbol model is backtested on its last symbol: any one of its symbols will do.
    symbol = td.symbol_list[-1]
    tested = await _run(stack.bus, "backtest", {"model": key, "symbol": symbol, "start": TRAIN_END})
    assert tested.status == "completed", tested.error
    summary = tested.result
    assert (summary["model"], summary["symbol"], summary["timeframe"]) == (key, symbol, td.base)
    assert summary["bars"] > 0 and summary["start"] >= pd.Timestamp(TRAIN_END, tz="UTC").isoformat()
    assert summary["metrics"]["total_trades"] >= 0 and "sharpe_ratio" in summary["metrics"]
    if cfg.training.labels.source in ("regime", "context"):
        assert summary["signal_bars"] == 0 and summary["signals"].startswith("hold")


async def test_the_multi_symbol_model_carries_its_symbol_set(stack: Stack) -> None:
    path = STRATEGIES / "v3_multi_symbol.yaml"
    if not path.exists():
        pytest.skip("the multi-symbol file is absent")
    text = path.read_text()
    cfg = load_strategy(text)
    symbols, base = cfg.training_data.symbol_list, cfg.training_data.base
    trained = await _run(stack.bus, "training", {"strategy_yaml": text, "device": "cpu", "epochs": 1,
                                                  "start": START, "end": TRAIN_END, "model_name": "fx_basket"})
    assert trained.status == "completed", trained.error
    key = trained.artifacts["model"]
    assert key == f"fx_basket/{'+'.join(symbols)}_{base}_v1"
    per_symbol = trained.result["data"]["per_symbol"]
    assert list(per_symbol) == symbols
    total = trained.result["data"]["samples"]
    assert {part: sum(s["samples"][part] for s in per_symbol.values()) for part in total} == total
    assert all(s["samples"]["test"] > 0 for s in per_symbol.values())  # every symbol is tested, not only the last
    listed = await asyncio.to_thread(cli, stack.settings, "models", "list", "--json", "--strategy", "fx_basket")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["key"], r["symbols"], r["timeframe"], r["latest"]) for r in rows] == [(key, symbols, base, True)]
    human = await asyncio.to_thread(cli, stack.settings, "models", "list", "--strategy", "fx_basket")
    assert human.exit_code == 0 and "symbols" in human.output, human.output
    # `fx_basket/1h` finds the one line of that timeframe; the backtest runs on the middle symbol.
    tested = await _run(stack.bus, "backtest", {"model": f"fx_basket/{base}", "symbol": symbols[1],
                                                 "start": TRAIN_END})
    assert tested.status == "completed", tested.error
    assert (tested.result["model"], tested.result["symbol"]) == (key, symbols[1])


async def test_a_missing_context_series_fails_naming_it(stack: Stack) -> None:
    path = STRATEGIES / "eurusd_carry_momentum_v1.yaml"
    if not path.exists():
        pytest.skip("the context-data file is absent")
    # The same strategy on a FRED series that was never imported.
    text = path.read_text().replace("DGS2", "DGS10")
    failed = await _run(stack.bus, "training", {"strategy_yaml": text, "device": "cpu", "epochs": 1,
                                                 "start": START, "end": TRAIN_END})
    assert failed.status == "failed" and failed.error.code == "MissingContextError"
    assert "yield_spread_DGS10_IRLTLT01DEM156N" in failed.error.message
    assert "ktrdr data import --context yield_spread_DGS10_IRLTLT01DEM156N" in failed.error.message


async def test_imported_context_series_are_listed_apart_from_market_series(stack: Stack) -> None:
    configs = [load_strategy(f.read_text()) for f in FILES]
    expected = sorted({name for cfg in configs for name in context_source_ids(cfg)
                       if name not in {e.symbol for e in cfg.context_data or []}})
    listed = await asyncio.to_thread(cli, stack.settings, "--json", "data", "list", "--context")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    days = len(pd.date_range(START, END, freq="D"))
    assert [(r["name"], r["rows"], r["source"]) for r in rows] == [(n, days, "csv") for n in expected]
    market = json.loads((await asyncio.to_thread(cli, stack.settings, "--json", "data", "list")).output)
    assert {m["symbol"] for m in market} == {symbol for symbol, _ in _needed_series(configs)}
