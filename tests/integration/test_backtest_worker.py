"""Backtests through a real backtest worker: a trained model end to end, results read back (also by the CLI),
cancel mid-run, SIGKILL failover resuming from the checkpoint, and failures that say what to do."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import pytest_asyncio
import torch

from ktrdr.backtesting import BacktestResult, backtest_config, run_backtest
from ktrdr.backtesting.costs import DEFAULT_SLIPPAGE
from ktrdr.backtesting.model_signals import history_bars, history_window, model_signals
from ktrdr.bus.handle import Bus
from ktrdr.bus.objects import ObjectFrameStore, ObjectStores, load_checkpoint, load_result, object_stores
from ktrdr.bus.objects_models import save_bundle
from ktrdr.config import Settings
from ktrdr.data import DataRepository
from ktrdr.operations.submit import cancel, submit
from ktrdr.strategy import load_strategy
from ktrdr.training.bundle import ModelBundle
from ktrdr.training.pipeline import run_training
from ktrdr.training.synthetic import planted_ohlcv
from ktrdr.bus.objects import BACKTEST_RESULT as RESULT_NAME
from ktrdr.workers.backtest import run_backtest_op
from tests.helpers import spawn_worker_process, wait_record
from tests.integration.conftest import WorkerPool
from tests.unit.test_backtest_model_signals import STRATEGY

pytestmark = pytest.mark.slow
torch.set_num_threads(1)

# Plain-signal runs on 1m bars: long enough for many progress chunks, paced so that a cancel or a kill
# deterministically lands mid-run (the pause never changes what is traded).
LONG = {"signals": {"type": "ma_cross", "fast": 10, "slow": 30}, "symbol": "LONG", "timeframe": "1m",
        "commission": 0.0005, "slippage": 0.0002, "progress_every_bars": 5_000, "checkpoint_every_bars": 20_000}
LONG_BARS = 200_000


@pytest_asyncio.fixture
async def fast(fast: tuple[Bus, Settings]) -> tuple[Bus, Settings, ObjectStores]:
    """The shared fast bus (2 s redelivery, aggregator running) and its object stores."""
    bus, quick = fast
    return bus, quick, await object_stores(bus.js, bus.names)


async def put_frame(stores: ObjectStores, symbol: str, timeframe: str, frame: pd.DataFrame) -> None:
    """Store a series in the data bucket as a data load would."""
    repo = DataRepository(ObjectFrameStore(stores.data, asyncio.get_running_loop()))
    await asyncio.to_thread(repo.save, symbol, timeframe, frame, "synthetic")


async def stored_result(stores: ObjectStores, op_id: str) -> BacktestResult:
    return BacktestResult.from_bytes(await load_result(stores.results, op_id, RESULT_NAME))


async def test_model_backtest_end_to_end_and_results_cli(fast: tuple[Bus, Settings, ObjectStores],
                                                         workers: WorkerPool, tmp_path: Path) -> None:
    bus, s, stores = fast
    frame = planted_ohlcv(1600, seed=5)
    trained, _ = await asyncio.to_thread(run_training, load_strategy(STRATEGY), {"1h": frame.iloc[:1000]})
    key = await save_bundle(stores.models, "tiny_rsi", "1h", trained.to_bytes())
    await put_frame(stores, "SYNTH", "1h", frame)
    await workers.start(run_backtest_op, op_type="backtest", pool="cpu", checkpoints=None)
    start = frame.index[1100]
    # The inline strategy's decisions override the bundle's: act on every top class, however unsure.
    eager = STRATEGY.replace("confidence_threshold: 0.4", "confidence_threshold: 0.0")
    op = await submit(bus, "backtest", "cpu", {"model": "tiny_rsi", "strategy_yaml": eager, "start": start.isoformat(),
                                               "capital": 10_000, "commission": 0.001, "progress_every_bars": 100})
    record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=60)
    assert record.status == "completed", record.error
    summary = record.result
    assert summary["model"] == key == record.artifacts["model"]
    assert summary["bars"] == 500 and summary["start"] == start.isoformat() and summary["warmup_bars"] == 60
    result = await stored_result(stores, op.id)
    assert summary["metrics"] == pytest.approx(result.metrics) and result.metrics["bars"] == 500
    # No slippage given: the original's default applies; each metric carries its unit.
    assert summary["costs"] == {"commission": 0.001, "slippage": DEFAULT_SLIPPAGE}
    assert summary["metric_units"]["sharpe_ratio_sqrt252"] == "ratio" and set(summary["metric_units"]) == set(
        result.metrics)
    assert len(result.trades) == summary["metrics"]["trades"] > 0
    # The worker's figures equal a local run of the same bundle on the same window.
    bundle = ModelBundle.from_bytes(trained.to_bytes())
    frames, warmup = history_window({"1h": frame}, "1h", start, history_bars(load_strategy(STRATEGY), bundle))
    signals = model_signals(bundle, frames, load_strategy(eager).decisions, first_bar=warmup)
    local = run_backtest(frames["1h"], signals,
                         backtest_config(initial_capital=10_000, commission=0.001, slippage=DEFAULT_SLIPPAGE,
                                         warmup_bars=warmup))
    assert local.metrics["final_equity"] == pytest.approx(summary["metrics"]["final_equity"], rel=1e-9)
    # equity snapshots every 100 bars, folded by the aggregator (it may land after the worker's own end write)
    await wait_record(bus, record.id, lambda r: r.metrics_count >= 5)
    shown = await asyncio.to_thread(ktrdr_cli, s, tmp_path, "--json", "results", "show", op.id, "--trades",
                                    "--equity", "--limit", "0", "--points", "10")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["status"] == "completed" and data["trades_total"] == len(data["trades"]) == len(result.trades)
    assert len(data["equity"]) == 10 and data["equity"][-1]["equity"] == pytest.approx(result.equity.iloc[-1])
    human = await asyncio.to_thread(ktrdr_cli, s, tmp_path, "results", "show", op.id, "--trades", "--equity")
    assert human.returncode == 0, human.stderr
    n = len(result.trades)  # the default lists 20 trades, says how many exist, and draws the equity curve
    assert op.id in human.stdout and "sharpe" in human.stdout and f"trades ({min(20, n)} of {n})" in human.stdout
    assert re.search(r"equity \S+ +[\d,.]+ → [\d,.]+ \(min", human.stdout), human.stdout[-1500:]


def ktrdr_cli(s: Settings, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, against the test's server and namespace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")}
    env.update(KTRDR_NATS_URL=s.nats_url or "", KTRDR_NAMESPACE=s.namespace, KTRDR_HOME=str(home),
               COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "ktrdr", *args], env=env, capture_output=True, text=True,
                          timeout=60)


async def test_cancel_mid_run_checkpoints_and_reports_cancelled(fast: tuple[Bus, Settings, ObjectStores],
                                                                workers: WorkerPool) -> None:
    bus, _, stores = fast
    await put_frame(stores, "LONG", "1m", planted_ohlcv(LONG_BARS, freq="1min", seed=7))
    await workers.start(run_backtest_op, op_type="backtest", pool="cpu", checkpoints=None)
    op = await submit(bus, "backtest", "cpu", LONG | {"pace_s": 0.05})
    await wait_record(bus, op.id, lambda r: r.progress.items_processed >= 20_000, timeout=60)
    asked = time.monotonic()
    await cancel(bus, op.id, "enough")
    record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=30)
    latency = time.monotonic() - asked
    assert record.status == "cancelled" and record.progress.items_processed < LONG_BARS
    assert await load_checkpoint(stores.checkpoints, op.id) is not None
    print(f"cancel latency {latency * 1000:.0f} ms")


async def test_sigkill_mid_run_resumes_from_checkpoint_with_identical_metrics(
        fast: tuple[Bus, Settings, ObjectStores], workers: WorkerPool, tmp_path: Path) -> None:
    bus, s, stores = fast
    await put_frame(stores, "LONG", "1m", planted_ohlcv(LONG_BARS, freq="1min", seed=7))
    op = await submit(bus, "backtest", "cpu", LONG | {"pace_s": 0.05})
    victim = spawn_worker_process(s, "backtest", "victim", tmp_path)
    try:
        await wait_record(bus, op.id, lambda r: r.worker_id == "victim" and r.progress.items_processed >= 45_000,
                          timeout=60)
        victim.kill()
        victim.wait(10)
        await workers.start(run_backtest_op, op_type="backtest", pool="cpu", checkpoints=None, worker_id="survivor")
        record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=60)
    finally:
        victim.kill()
    assert record.status == "completed" and record.attempt == 2 and record.worker_id == "survivor"
    assert record.result["resumed_from_bar"] >= 40_000, "the survivor did not resume from the checkpoint"
    again = await submit(bus, "backtest", "cpu", LONG)
    clean = await wait_record(bus, again.id, lambda r: r.terminal, timeout=60)
    assert clean.status == "completed" and clean.result["resumed_from_bar"] == 0
    assert record.result["metrics"] == clean.result["metrics"]
    resumed, uninterrupted = await stored_result(stores, op.id), await stored_result(stores, again.id)
    pd.testing.assert_frame_equal(resumed.trades, uninterrupted.trades)
    np.testing.assert_array_equal(resumed.equity.to_numpy(), uninterrupted.equity.to_numpy())
    print(f"worker throughput {clean.result['bars_per_s']:,.0f} bars/s over {clean.result['bars']} bars")


async def test_missing_data_and_unknown_model_fail_with_hints(fast: tuple[Bus, Settings, ObjectStores],
                                                              workers: WorkerPool) -> None:
    bus, _, stores = fast
    await workers.start(run_backtest_op, op_type="backtest", pool="cpu", checkpoints=None)
    no_data = await submit(bus, "backtest", "cpu", {"signals": {}, "symbol": "NOPE", "timeframe": "1h"})
    no_model = await submit(bus, "backtest", "cpu", {"model": "ghost/1h"})
    typo = await submit(bus, "backtest", "cpu", {"signals": {}, "symbol": "X", "timeframe": "1h", "capitl": 5})
    failed = {op.id: await wait_record(bus, op.id, lambda r: r.terminal) for op in (no_data, no_model, typo)}
    assert all(r.status == "failed" for r in failed.values())
    assert "NOPE 1h" in failed[no_data.id].error.message and "ktrdr data load" in failed[no_data.id].error.message
    assert "ghost" in failed[no_model.id].error.message and "models" in failed[no_model.id].error.message
    assert "capitl" in failed[typo.id].error.message
