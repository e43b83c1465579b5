"""`--json` of the commands that start work: `data load`, `train`, `backtest`, `research` print one JSON
document on stdout (the start reply, or with --follow the final record), which a script can parse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ktrdr.bus.handle import Bus
from ktrdr.config import Settings
from ktrdr.workers.backtest import run_backtest_op
from ktrdr.workers.data import run_data_load
from ktrdr.workers.training import run_training_op
from tests.helpers import wait_record
from tests.integration.conftest import BackendPool, WorkerPool
from tests.integration.test_cli_operations import ktrdr
from tests.integration.test_training_worker import example_yaml

pytestmark = pytest.mark.slow
LOAD = ("EURUSD", "1h", "--source", "synthetic", "--mode", "full", "--start", "2024-01-01", "--end", "2024-03-01")


@pytest.fixture
async def stack(settings: Settings, backends: BackendPool, workers: WorkerPool, tmp_path: Path) -> Path:
    """A backend, data, training and backtest workers; returns a one-epoch strategy file."""
    await backends.start()
    await workers.start(run_data_load, op_type="data", pool="ib", services={"ib": None}, checkpoints=None)
    await workers.start(run_training_op, op_type="training", pool="cpu", checkpoints=None)
    await workers.start(run_backtest_op, op_type="backtest", pool="cpu", checkpoints=None)
    strategy = tmp_path / "one_epoch.yaml"
    strategy.write_text(example_yaml(epochs=1, batch_size=256))
    return strategy


async def json_of(settings: Settings, *args: str) -> dict[str, Any]:
    """Run `ktrdr --json ARGS`; its whole stdout must be one JSON object."""
    done = await ktrdr(settings, "--json", *args)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


async def test_json_of_data_load_train_backtest_and_research(settings: Settings, bus: Bus, stack: Path) -> None:
    started = await json_of(settings, "data", "load", *LOAD)
    assert set(started) >= {"operation_id", "type", "pool", "warnings"}
    assert (started["type"], started["pool"], started["warnings"]) == ("data", "ib", [])
    loaded = await wait_record(bus, started["operation_id"], lambda r: r.terminal, timeout=60)

    again = await json_of(settings, "data", "load", *LOAD, "--follow")
    assert again["type"] == "data" and again["status"] == "completed" and again["id"] != started["operation_id"]
    assert again["result"]["stored_rows"] == loaded.result["stored_rows"] > 0
    assert again["artifacts"]["data"] == loaded.artifacts["data"]

    trained = await json_of(settings, "train", str(stack), "--device", "cpu", "--follow")
    assert trained["type"] == "training" and trained["status"] == "completed" and trained["pool"] == "cpu"
    assert trained["artifacts"] == {"model": "rsi_mean_reversion/1h_v1"}
    assert trained["result"]["training"]["epochs_run"] == 1 and trained["progress"]["percentage"] == 100.0

    tested = await json_of(settings, "backtest", str(stack), "--follow")
    assert tested["type"] == "backtest" and tested["status"] == "completed"
    assert tested["result"]["model"] == "rsi_mean_reversion/1h_v1" and tested["result"]["bars"] > 0
    assert {"trades", "total_return"} <= set(tested["result"]["metrics"])

    research = await json_of(settings, "research", str(stack), "--device", "cpu")
    assert research["type"] == "research" and research["status"] == "completed"
    children = [await bus.ops.get(child) for child in research["children"]]
    assert [(r.type, r.status) for r, _ in children] == [("training", "completed"), ("backtest", "completed")]
