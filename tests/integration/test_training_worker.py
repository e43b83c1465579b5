"""Training operations through real workers: the example strategy trains on planted-signal data from the object
store, the bundle lands in the registry and loads; cancel stops within one batch; a SIGKILLed worker's operation
resumes from its checkpoint elsewhere; missing data and bad parameters fail clearly."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import pytest_asyncio
import torch
import yaml
from typer.testing import CliRunner

from ktrdr.bus.handle import Bus
from ktrdr.bus.objects import ObjectFrameStore, ObjectStores, object_stores
from ktrdr.bus.objects_models import ModelRegistry
from ktrdr.cli.main import app
from ktrdr.config import Settings
from ktrdr.data import DataRepository
from ktrdr.operations.submit import cancel, submit
from ktrdr.protocol.codec import decode
from ktrdr.protocol.messages import GpuInfo, WorkerHeartbeat
from ktrdr.strategy import load_strategy
from ktrdr.strategy.features import build_features
from ktrdr.strategy.normalize import Normalizer
from ktrdr.training.bundle import ModelBundle
from ktrdr.training.models import MLP
from ktrdr.training.synthetic import planted_ohlcv
from ktrdr.workers.training import parse_params, run_training_op, strategy_from_params
from tests.helpers import spawn_worker_process, wait_record
from tests.integration.conftest import WorkerPool

torch.set_num_threads(1)
EXAMPLE = Path(__file__).parents[2] / "strategies" / "rsi_mean_reversion.yaml"
BARS = 2500


def example_yaml(**training: Any) -> str:
    """The example strategy with labels that fit the planted cycle and the given training overrides
    (no inverse-frequency class weights: zigzag segment labels make HOLD rare, and accuracy is the check)."""
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["training"].update(learning_rate=0.01,
                           labels={"source": "zigzag", "zigzag_threshold": 0.02, "label_lookahead": 10},
                           class_weights="none", **training)
    return yaml.safe_dump(raw)


@pytest_asyncio.fixture
async def stores(fast: tuple[Bus, Settings]) -> AsyncIterator[tuple[Bus, ObjectStores]]:
    """The fast bus with its object stores, and EURUSD 1h planted-signal bars stored."""
    bus, _ = fast
    objects = await object_stores(bus.js, bus.names)
    repo = DataRepository(ObjectFrameStore(objects.data, asyncio.get_running_loop()))
    await asyncio.to_thread(repo.save, "EURUSD", "1h", planted_ohlcv(BARS, seed=1), "synthetic")
    yield bus, objects


async def test_example_strategy_trains_stores_a_loadable_bundle_and_beats_the_baseline(
        stores: tuple[Bus, ObjectStores], workers: WorkerPool) -> None:
    bus, objects = stores
    strategy = example_yaml(epochs=10, batch_size=64)
    await workers.start(run_training_op, op_type="training", pool="cpu", checkpoints=None)
    t0 = time.monotonic()
    ops = [await submit(bus, "training", "cpu", {"strategy_yaml": strategy, "device": "cpu"}) for _ in range(2)]
    done = [await wait_record(bus, op.id, lambda r: r.terminal, timeout=60) for op in ops]
    print(f"\ntwo training operations end to end: {time.monotonic() - t0:.2f}s "
          f"(training {[round(r.result['training']['duration_s'], 2) for r in done]}s)")
    first, second = done
    assert [r.status for r in done] == ["completed", "completed"], [r.error for r in done]
    assert first.artifacts == {"model": "rsi_mean_reversion/1h_v1"}
    assert second.artifacts == {"model": "rsi_mean_reversion/1h_v2"}
    test = first.result["test"]
    assert test["samples"] > 200 and test["accuracy"] > test["baseline_accuracy"] + 0.1
    assert len(first.result["training"]["history"]["val_loss"]) == first.result["training"]["epochs_run"]
    assert first.result["device"] == "cpu" and first.result["data"]["rows"] == {"1h": BARS}
    registry = ModelRegistry(objects.models, asyncio.get_running_loop())
    assert await asyncio.to_thread(registry.resolve, "rsi_mean_reversion") == "rsi_mean_reversion/1h_v2"
    bundle = ModelBundle.from_bytes(await asyncio.to_thread(registry.load, "rsi_mean_reversion@1"))
    cfg = load_strategy(bundle.strategy_yaml)
    x = Normalizer.from_dict(bundle.normalization).transform(build_features(cfg, {"1h": planted_ohlcv(BARS, seed=1)}))
    assert bundle.predict(x.to_numpy()).shape == (BARS, 3)
    assert bundle.metrics["test"]["accuracy"] == test["accuracy"]


def cli(settings: Settings, *args: str) -> Any:
    """Run the ktrdr CLI against this test's server and namespace."""
    env = {"KTRDR_NATS_URL": settings.nats_url or "", "KTRDR_NAMESPACE": settings.namespace}
    return CliRunner().invoke(app, list(args), env=env)


async def test_models_cli_on_an_empty_registry(settings: Settings, stores: tuple[Bus, ObjectStores]) -> None:
    empty = await asyncio.to_thread(cli, settings, "models", "list")
    assert empty.exit_code == 0 and "no models stored" in empty.output
    missing = await asyncio.to_thread(cli, settings, "models", "show", "nope")
    assert missing.exit_code == 1 and "nope" in missing.output


async def test_models_cli_after_training(settings: Settings, stores: tuple[Bus, ObjectStores],
                                         workers: WorkerPool) -> None:
    bus, _ = stores
    await workers.start(run_training_op, op_type="training", pool="cpu", checkpoints=None)
    params = {"strategy_yaml": example_yaml(epochs=2, batch_size=256), "model_name": "mr"}
    op = await submit(bus, "training", "cpu", params)
    assert (await wait_record(bus, op.id, lambda r: r.terminal, timeout=60)).status == "completed"
    listed = await asyncio.to_thread(cli, settings, "models", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["key"], r["latest"]) for r in rows] == [("mr/1h_v1", True)]
    shown = await asyncio.to_thread(cli, settings, "--json", "models", "show", "mr@1")
    info = json.loads(shown.output)
    assert info["key"] == "mr/1h_v1" and info["strategy"] == "rsi_mean_reversion" and info["parameters"] > 0
    assert len(info["feature_names"]) == 7 and info["metrics"]["training"]["epochs_run"] == 2
    human = await asyncio.to_thread(cli, settings, "models", "show", "mr/1h")
    assert human.exit_code == 0 and "majority baseline" in human.output
    assert info["data_summary"]["labels"]["source"] == "zigzag" and re.search(r"weighting\s*│\s*uniform", human.output)


class BatchCounter:
    """Counts MLP forward passes (one per batch) in this process, and where the count stood at cancel."""

    def __init__(self) -> None:
        self.count, self.at_fire, self.fired_at = 0, -1, 0.0
        self.handle = torch.nn.modules.module.register_module_forward_hook(self._hook)

    def _hook(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if isinstance(module, MLP):
            self.count += 1

    def fired(self) -> None:
        """Called at the moment the worker's cancellation token fires."""
        self.at_fire, self.fired_at = self.count, time.monotonic()


async def test_cancel_mid_epoch_stops_within_one_batch(stores: tuple[Bus, ObjectStores],
                                                       workers: WorkerPool) -> None:
    bus, _ = stores
    worker = await workers.start(run_training_op, op_type="training", pool="cpu", checkpoints=None)
    params = {"strategy_yaml": example_yaml(epochs=500, batch_size=8, early_stopping=None)}
    op = await submit(bus, "training", "cpu", params)
    await wait_record(bus, op.id, lambda r: r.metrics_count >= 1 and r.progress.context.get("batch", 0) > 0)
    token = worker.running[op.id].token
    counter, fire = BatchCounter(), token.cancel

    def spy(reason: str = "cancelled") -> None:
        counter.fired()
        fire(reason)

    token.cancel = spy  # type: ignore[method-assign]
    try:
        requested_at, count_at_request = time.monotonic(), counter.count
        await cancel(bus, op.id, "enough")
        record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=20)
        settled_ms = (time.monotonic() - requested_at) * 1000
    finally:
        counter.handle.remove()
    after_fire, after_request = counter.count - counter.at_fire, counter.count - count_at_request
    print(f"\ncancel: {after_fire} batch(es) after the token fired, {after_request} after the request; "
          f"token fired {(counter.fired_at - requested_at) * 1000:.1f} ms after the request, "
          f"record cancelled after {settled_ms:.0f} ms")
    assert record.status == "cancelled" and record.error is None
    assert counter.at_fire >= 0 and after_fire <= 1


async def test_missing_data_fails_with_the_load_hint(stores: tuple[Bus, ObjectStores], workers: WorkerPool) -> None:
    bus, _ = stores
    await workers.start(run_training_op, op_type="training", pool="cpu", checkpoints=None)
    params = {"strategy_yaml": example_yaml(epochs=1), "symbols": ["GBPUSD"], "timeframes": ["1h", "4h"]}
    op = await submit(bus, "training", "cpu", params)
    bad = await submit(bus, "training", "cpu", {"strategy_yaml": example_yaml(), "epochz": 3})
    record = await wait_record(bus, op.id, lambda r: r.terminal)
    assert record.status == "failed" and record.error.code == "MissingDataError"
    assert "GBPUSD 1h, GBPUSD 4h" in record.error.message
    assert "ktrdr data load GBPUSD 4h --source synthetic" in record.error.message
    rejected = await wait_record(bus, bad.id, lambda r: r.terminal)
    assert rejected.status == "failed" and "epochz" in rejected.error.message


def test_params_override_the_strategy_and_reject_paths() -> None:
    p = parse_params({"strategy_yaml": example_yaml(), "timeframes": ["4h"], "start": "2024-01-01"})
    cfg = strategy_from_params(p)
    assert cfg.training_data.timeframe_list == ["4h"] and cfg.training_data.base == "4h"
    assert cfg.training_data.start == "2024-01-01" and cfg.training_data.symbol_list == ["EURUSD"]
    assert cfg.training.epochs == 30
    smoke = strategy_from_params(parse_params({"strategy_yaml": example_yaml(), "epochs": 1}))
    assert smoke.training.epochs == 1
    with pytest.raises(ValueError, match="device"):
        parse_params({"strategy_yaml": "x", "device": "tpu"})
    with pytest.raises(ValueError, match="not a file name"):
        strategy_from_params(parse_params({"strategy_yaml": "strategies/rsi_mean_reversion.yaml"}))


def test_gpu_pool_without_a_gpu_refuses_to_start() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = CliRunner().invoke(app, ["worker", "training", "--pool", "gpu"])
    assert result.exit_code == 1 and "no usable GPU" in result.output and "--pool cpu" in result.output


async def test_heartbeat_carries_the_gpu(stores: tuple[Bus, ObjectStores], workers: WorkerPool) -> None:
    bus, _ = stores
    beats: asyncio.Queue[WorkerHeartbeat] = asyncio.Queue()

    async def on_beat(msg: Any) -> None:
        await beats.put(decode(msg.data, WorkerHeartbeat))

    await bus.nc.subscribe(bus.names.heartbeat("training", "g1"), cb=on_beat)
    gpu = GpuInfo(name="Test GPU", memory_mb=1024)
    await workers.start(run_training_op, op_type="training", pool="gpu", worker_id="g1", gpu=gpu)
    beat = await asyncio.wait_for(beats.get(), 10)
    assert beat.pool == "gpu" and beat.capabilities.gpu == gpu


async def test_graceful_stop_checkpoints_and_another_worker_finishes_the_epochs(
        stores: tuple[Bus, ObjectStores], workers: WorkerPool) -> None:
    bus, _ = stores
    epochs = 12
    strategy = example_yaml(epochs=epochs, batch_size=8, early_stopping=None,
                            checkpoint={"every_epochs": 5})
    op = await submit(bus, "training", "cpu", {"strategy_yaml": strategy, "device": "cpu"})
    leaving = await workers.start(run_training_op, op_type="training", pool="cpu", checkpoints=None)
    await wait_record(bus, op.id, lambda r: r.metrics_count >= 2)
    leaving.stop()  # what SIGTERM does: the token fires with "worker shutting down"
    requeued = await wait_record(bus, op.id, lambda r: r.status == "pending")
    await workers.start(run_training_op, op_type="training", pool="cpu", checkpoints=None, worker_id="next")
    record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=60)
    assert requeued.attempt == 1 and record.status == "completed" and record.attempt == 2
    training = record.result["training"]
    # the cancel-time checkpoint holds the last finished epoch, not the last every-5-epochs one
    assert training["epochs_run"] == epochs and training["resumed_from_epoch"] >= 1
    assert training["history"]["epoch"] == list(range(1, epochs + 1))


async def test_sigkilled_worker_resumes_elsewhere_with_the_full_epoch_count(
        settings: Settings, stores: tuple[Bus, ObjectStores], tmp_path: Path) -> None:
    bus, _ = stores
    epochs = 16
    strategy = example_yaml(epochs=epochs, batch_size=8, early_stopping=None,
                            checkpoint={"every_epochs": 1})
    op = await submit(bus, "training", "cpu", {"strategy_yaml": strategy, "device": "cpu"})
    quick = msgspec.structs.replace(settings, ack_wait_s=2.0)
    victim = spawn_worker_process(quick, "training", "victim", tmp_path, "--pool", "cpu")
    pool = WorkerPool(quick)
    try:
        # the third epoch's metric is published after the second epoch's checkpoint was written
        await wait_record(bus, op.id, lambda r: r.worker_id == "victim" and r.metrics_count >= 3, timeout=60)
        victim.kill()
        victim.wait(10)
        killed_at = time.monotonic()
        await pool.start(run_training_op, op_type="training", pool="cpu", checkpoints=None, worker_id="survivor")
        record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=60)
        print(f"\nSIGKILL failover: finished {time.monotonic() - killed_at:.1f}s after the kill")
    finally:
        victim.kill()
        await pool.close()
    assert record.status == "completed", (record.error, victim.stderr.read().decode()[-2000:])
    assert record.worker_id == "survivor" and record.attempt == 2
    training = record.result["training"]
    assert training["epochs_run"] == epochs and training["resumed_from_epoch"] >= 2
    assert len(training["history"]["epoch"]) == epochs
