"""Sweeps through a real backend and real training workers: a grid of variants runs side by side to a ranked
result; a SIGKILLed worker's variants finish elsewhere; cancel leaves no child running; a bad override path
is refused before anything is queued."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from ktrdr.bus.handle import Bus
from ktrdr.bus.objects import ObjectFrameStore, ObjectStores
from ktrdr.client import KtrdrClient
from ktrdr.config import Settings
from ktrdr.data import DataRepository
from ktrdr.errors import KtrdrError
from ktrdr.strategy import load_strategy
from ktrdr.training.synthetic import planted_ohlcv
from ktrdr.workers.backtest import run_backtest_op
from ktrdr.workers.training import run_training_op
from tests.helpers import spawn_worker_process, wait_record
from tests.integration.conftest import BackendPool, WorkerPool
from tests.integration.test_training_worker import BARS, cli, example_yaml, stores  # noqa: F401  (fixture)

LAYERS = "model.architecture.hidden_layers"
THRESHOLD = "training.labels.zigzag_threshold"


@pytest_asyncio.fixture
async def api(stores: tuple[Bus, ObjectStores], fast: tuple[Bus, Settings]) -> AsyncIterator[KtrdrClient]:  # noqa: F811
    """A backend on the fast (2 s redelivery) settings and a client of it."""
    bus, quick = fast
    pool = BackendPool(quick)
    await pool.start()
    yield KtrdrClient(bus)
    await pool.close()


def sweep(sets: dict[str, list[Any]], **kw: Any) -> dict[str, Any]:
    """A sweep request over the example strategy (tiny: 1 epoch unless told)."""
    body = {"strategy_yaml": example_yaml(batch_size=256), "device": "cpu", "epochs": 1,
            "sets": [{"path": p, "values": v} for p, v in sets.items()]}
    return body | kw


async def children_of(bus: Bus, parent_id: str) -> list[Any]:
    """The sweep's child records, in submission order."""
    parent, _ = await bus.ops.get(parent_id)
    return [(await bus.ops.get(c))[0] for c in parent.children]


async def test_six_variants_over_two_workers_end_ranked(
        stores: tuple[Bus, ObjectStores], api: KtrdrClient, workers: WorkerPool,  # noqa: F811
        settings: Settings, tmp_path: Path) -> None:
    bus, _ = stores
    for name in ("w1", "w2"):
        await workers.start(run_training_op, op_type="training", pool="cpu", checkpoints=None, worker_id=name)
    body = sweep({LAYERS: [[8], [16, 8], [32]], THRESHOLD: [0.02, 0.03]}, max_parallel=4)
    started = await api.start("sweep", body)
    done = await wait_record(bus, started["operation_id"], lambda r: r.terminal, timeout=120)
    assert done.status == "completed", done.error
    result = done.result
    assert result["variants"] == 6 and result["completed"] == 6 and result["metric"] == "val_loss"
    children = await children_of(bus, done.id)
    assert {c.worker_id for c in children} == {"w1", "w2"}, "both workers should take variants"
    ranked = result["ranking"]
    assert [r["rank"] for r in ranked] == [1, 2, 3, 4, 5, 6]
    losses = {c.id: c.result["training"]["best_val_loss"] for c in children}
    assert [r["value"] for r in ranked] == sorted(losses.values())
    assert all(losses[r["child_id"]] == r["value"] for r in ranked)
    # every variant's child trained exactly the strategy its overrides describe
    for row in ranked:
        child = next(c for c in children if c.id == row["child_id"])
        cfg = load_strategy(child.parameters["strategy_yaml"])
        assert list(cfg.model.architecture.hidden_layers) == row["overrides"][LAYERS]
        assert cfg.training.labels.zigzag_threshold == row["overrides"][THRESHOLD]
    assert sorted(tuple(map(tuple, [r["overrides"][LAYERS]])) + (r["overrides"][THRESHOLD],) for r in ranked) == \
        sorted((tuple(layers), t) for layers in ([8], [16, 8], [32]) for t in (0.02, 0.03))
    assert done.artifacts["best_model"] == ranked[0]["model"]
    await _results_cli(settings, tmp_path, done, children)
    await _monitor_folds_children(settings, done, children)


async def _monitor_folds_children(settings: Settings, done: Any, children: list[Any]) -> None:
    """The monitor lists the sweep as one row (children folded) and its detail view shows the ranking."""
    from textual.widgets import Static

    from ktrdr_tui.app import MonitorApp
    from ktrdr_tui.render import short_id
    from tests.integration.test_tui_monitor import SIZE, table_text, until

    app = MonitorApp(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: all(c.id in app.ops.records for c in [done, *children]), what="records")
        await until(pilot, lambda: short_id(done.id) in table_text(app, "operations"), what="sweep row")
        rows = table_text(app, "operations")
        assert "sweep (6▾)" in rows and not any(short_id(c.id) in rows for c in children)
        await pilot.press("enter")
        params = app.screen.query_one("#detail-params", Static)
        await until(pilot, lambda: "ranking by val_loss" in str(params.render()), what="ranking shown")
        assert all(short_id(c.id) in str(params.render()) for c in children)


async def _results_cli(settings: Settings, tmp_path: Path, done: Any, children: list[Any]) -> None:
    """`results show` prints the table, --json the whole ranking, --best-strategy the winner's file."""
    out = tmp_path / "best.yaml"
    human = await asyncio.to_thread(cli, settings, "results", "show", done.id, "--best-strategy", str(out))
    assert human.exit_code == 0, human.output
    assert "sweep ranking by val_loss" in human.output and all(c.id in human.output for c in children)
    best = done.result["ranking"][0]
    winner = next(c for c in children if c.id == best["child_id"])
    assert load_strategy(out.read_text()) == load_strategy(winner.parameters["strategy_yaml"])
    as_json = await asyncio.to_thread(cli, settings, "--json", "results", "show", done.id)
    assert json.loads(as_json.output)["summary"]["ranking"] == done.result["ranking"]


async def test_backtest_sweep_ranks_research_children_by_return(
        stores: tuple[Bus, ObjectStores], api: KtrdrClient, workers: WorkerPool) -> None:  # noqa: F811
    bus, _ = stores
    await workers.start(run_training_op, op_type="training", pool="cpu", checkpoints=None)
    await workers.start(run_backtest_op, op_type="backtest", pool="cpu", checkpoints=None)
    done = await wait_record(bus, (await api.start("sweep", sweep({LAYERS: [[8], [16]]}, backtest=True,
                                                                              metric="return", epochs=8)))[
        "operation_id"], lambda r: r.terminal, timeout=120)
    assert done.status == "completed", done.error
    children = await children_of(bus, done.id)
    assert [c.type for c in children] == ["research", "research"] and all(len(c.children) == 2 for c in children)
    returns = {c.id: c.result["backtest"]["metrics"]["total_return_pct"] for c in children}
    ranked = done.result["ranking"]
    assert [r["value"] for r in ranked] == sorted(returns.values(), reverse=True)
    assert all(returns[r["child_id"]] == r["value"] for r in ranked) and ranked[0]["metrics"]["val_loss"] > 0


async def test_bad_override_path_is_refused_before_anything_is_queued(
        stores: tuple[Bus, ObjectStores], api: KtrdrClient) -> None:  # noqa: F811
    bus, _ = stores
    first = ""
    for sets, named in (({"model.architecture.hiden_layers": [[8], [16]]}, "model.architecture.hiden_layers"),
                        ({"indicators.rsi_14.period": [14, 1]}, "indicators.rsi_14.period")):
        with pytest.raises(KtrdrError) as err:
            await api.start("sweep", sweep(sets))
        first = first or str(err.value)
        assert named in str(err.value)
    assert "did you mean 'hidden_layers'" in first
    keys = [k async for k in _keys(bus)]
    assert keys == [], f"nothing may be created: {keys}"
    info = await bus.js.stream_info(bus.names.work_stream)
    assert info.state.messages == 0


async def _keys(bus: Bus) -> AsyncIterator[str]:
    try:
        for key in await bus.ops.kv.keys():
            yield key
    except Exception as exc:  # nats raises NoKeysError on an empty bucket
        if type(exc).__name__ != "NoKeysError":
            raise


async def test_cancelling_a_sweep_leaves_no_child_running(
        stores: tuple[Bus, ObjectStores], api: KtrdrClient, workers: WorkerPool) -> None:  # noqa: F811
    bus, _ = stores
    for name in ("w1", "w2"):
        await workers.start(run_training_op, op_type="training", pool="cpu", checkpoints=None, worker_id=name)
    body = sweep({LAYERS: [[8], [16], [24], [32]]}, epochs=200, max_parallel=2)
    body["strategy_yaml"] = example_yaml(batch_size=8, early_stopping=None)
    sweep_id = (await api.start("sweep", body))["operation_id"]
    running = await wait_record(bus, sweep_id, lambda r: r.progress.current_step.endswith("2 running"), timeout=30)
    assert len(running.children) == 2, "max_parallel bounds the children in flight"
    await api.cancel(sweep_id)
    done = await wait_record(bus, sweep_id, lambda r: r.terminal, timeout=30)
    children = await children_of(bus, sweep_id)
    assert done.status == "cancelled" and len(children) == 2
    assert [c.status for c in children] == ["cancelled", "cancelled"]
    # resuming re-runs only the cancelled children, then the variants never started
    await api.resume(sweep_id)
    await wait_record(bus, sweep_id, lambda r: r.status == "running" and r.attempt == 2)
    await api.cancel(sweep_id)
    assert (await wait_record(bus, sweep_id, lambda r: r.terminal, timeout=30)).status == "cancelled"
    assert all(not c.active for c in await children_of(bus, sweep_id))


async def test_sigkilled_worker_mid_sweep_every_variant_still_completes(
        stores: tuple[Bus, ObjectStores], api: KtrdrClient, fast: tuple[Bus, Settings],  # noqa: F811
        tmp_path: Path) -> None:
    bus, quick = stores[0], fast[1]
    body = sweep({LAYERS: [[8], [16], [24]], THRESHOLD: [0.02, 0.03]}, epochs=6, max_parallel=3)
    body["strategy_yaml"] = example_yaml(batch_size=16, early_stopping=None, checkpoint={"every_epochs": 1})
    victim = spawn_worker_process(quick, "training", "victim", tmp_path, "--pool", "cpu")
    pool = WorkerPool(quick)
    try:
        sweep_id = (await api.start("sweep", body))["operation_id"]
        await _wait_victim_training(bus, sweep_id)
        victim.kill()
        victim.wait(10)
        await pool.start(run_training_op, op_type="training", pool="cpu", checkpoints=None, worker_id="survivor")
        done = await wait_record(bus, sweep_id, lambda r: r.terminal, timeout=180)
    finally:
        victim.kill()
        await pool.close()
    assert done.status == "completed", done.error
    assert done.result["completed"] == 6 and all(r["rank"] for r in done.result["ranking"])
    children = await children_of(bus, sweep_id)
    assert any(c.attempt >= 2 for c in children), "the killed worker's variant ran again elsewhere"


async def _wait_victim_training(bus: Bus, sweep_id: str) -> None:
    """Until the victim process is inside a child's training (a metric published)."""
    async with asyncio.timeout(90):
        while True:
            for child in await children_of(bus, sweep_id):
                if child.worker_id == "victim" and child.metrics_count >= 1:
                    return
            await asyncio.sleep(0.1)


async def test_a_failed_variant_is_a_row_and_only_all_failing_fails_the_sweep(
        stores: tuple[Bus, ObjectStores], api: KtrdrClient, workers: WorkerPool) -> None:  # noqa: F811
    bus, objects = stores  # only EURUSD is stored: a variant on another symbol fails on its worker
    await workers.start(run_training_op, op_type="training", pool="cpu", checkpoints=None)
    symbol = "training_data.symbols.symbol"
    mixed = await wait_record(bus, (await api.start("sweep", sweep({symbol: ["GBPUSD", "EURUSD"]})))["operation_id"],
                              lambda r: r.terminal, timeout=60)
    assert mixed.status == "completed" and (mixed.result["completed"], mixed.result["failed"]) == (1, 1)
    best, failed = mixed.result["ranking"]
    assert best["rank"] == 1 and best["overrides"] == {symbol: "EURUSD"}
    assert failed["rank"] is None and failed["status"] == "failed" and "GBPUSD" in failed["error"]
    lost = await wait_record(bus, (await api.start("sweep", sweep({symbol: ["GBPUSD", "USDJPY"]})))["operation_id"],
                             lambda r: r.terminal, timeout=60)
    assert lost.status == "failed" and lost.result["failed"] == 2 and "every variant failed" in lost.error.message
    # resuming re-runs the failed variants only: with GBPUSD stored now, that one completes
    repo = DataRepository(ObjectFrameStore(objects.data, asyncio.get_running_loop()))
    await asyncio.to_thread(repo.save, "GBPUSD", "1h", planted_ohlcv(BARS, seed=2), "synthetic")
    await api.resume(lost.id)
    again = await wait_record(bus, lost.id, lambda r: r.terminal and r.attempt == 2, timeout=60)
    assert again.status == "completed" and again.children == lost.children
    assert [(r["overrides"][symbol], r["status"]) for r in again.result["ranking"]] == [("GBPUSD", "completed"),
                                                                                      ("USDJPY", "failed")]
