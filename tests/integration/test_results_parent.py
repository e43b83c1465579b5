"""`ktrdr results show` on a research (parent) operation: the child backtest's trades and metrics, the training
summary, and a word when the bars were synthetic."""

from __future__ import annotations

import asyncio
import json

import msgspec
import numpy as np
import pandas as pd

from ktrdr.backtesting import BacktestConfig, run_backtest
from ktrdr.bus.handle import Bus
from ktrdr.bus.objects import BACKTEST_RESULT, save_result
from ktrdr.config import Settings
from ktrdr.operations.record import new_record
from tests.integration.test_cli_operations import ktrdr


def a_backtest() -> object:
    """A small real backtest result."""
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 800)))
    index = pd.date_range("2024-01-01", periods=800, freq="h", tz="UTC", name="timestamp")
    data = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=index)
    return run_backtest(data, rng.choice([-1, 0, 0, 0, 1], 800), BacktestConfig(short_from_flat=True))


async def stored_research(bus: Bus) -> tuple[str, object]:
    """A completed research parent with a training and a backtest child, as the backend leaves them."""
    result = a_backtest()
    train = new_record("training", "cpu", {})
    test = new_record("backtest", "cpu", {})
    store = await bus.js.object_store(bus.names.bucket("results"))
    name = await save_result(store, test.id, BACKTEST_RESULT, result.to_bytes())
    summaries = {"training": {"test": {"accuracy": 0.61, "baseline_accuracy": 0.5}, "model": {"epochs_run": 3}},
                 "backtest": {"metrics": result.metrics, "symbol": "EURUSD", "timeframe": "1h",
                              "data_source": "synthetic"}}
    parent = new_record("research", "", {})
    done = {"status": "completed"}
    await bus.ops.create(msgspec.structs.replace(train, parent_id=parent.id, result=summaries["training"], **done))
    await bus.ops.create(msgspec.structs.replace(test, parent_id=parent.id, result=summaries["backtest"],
                                                 artifacts={"result": name}, **done))
    await bus.ops.create(msgspec.structs.replace(parent, children=[train.id, test.id], result=summaries,
                                                 artifacts={"result": name}, **done))
    return parent.id, result


async def test_results_of_a_research_operation(bus: Bus, settings: Settings) -> None:
    parent_id, result = await stored_research(bus)
    shown = await ktrdr(settings, "results", "show", parent_id, "--trades", "--json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    data = json.loads(shown.stdout)
    assert data["trades_total"] == len(result.trades) and [c["type"] for c in data["children"]] == [
        "training", "backtest"]
    assert data["summary"]["training"]["test"]["accuracy"] == 0.61
    human = await ktrdr(settings, "results", "show", parent_id)
    assert human.returncode == 0, human.stderr
    assert "synthetic" in human.stdout and "training" in human.stdout and "bucket" not in human.stdout + human.stderr
