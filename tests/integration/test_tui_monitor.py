"""The monitor against a real nats-server with real in-process workers, driven by Textual's pilot."""

from __future__ import annotations

import asyncio
import html
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from textual import events
from textual.pilot import Pilot

from ktrdr.bus.handle import Bus
from ktrdr.config import Settings
from ktrdr.operations.aggregator import Aggregator
from ktrdr.operations.submit import submit
from ktrdr_tui.app import MonitorApp
from ktrdr_tui.dialogs import ConfirmCancel
from ktrdr_tui.render import short_id
from ktrdr_tui.widgets import KeyedTable
from tests.helpers import eventually
from tests.integration.conftest import BackendPool, WorkerPool

pytestmark = pytest.mark.integration
SIZE = (150, 42)
# The README's screenshots are rewritten only when asked (KTRDR_SCREENSHOTS=docs), so a test run leaves no diff.
DOCS = Path(__file__).resolve().parents[2] / "docs"


def shots_dir(tmp_path: Path) -> Path:
    """Where this run's screenshots go: docs/ when refreshing them, else the test's temp folder."""
    return DOCS if os.environ.get("KTRDR_SCREENSHOTS") == "docs" else tmp_path


async def until(pilot: Pilot, predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    """Let the app run until `predicate` holds (the UI has no event to await from outside)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.05)


def svg_text(svg: str) -> str:
    """The words a screenshot shows: its text elements joined, entities undone, runs of spaces made one."""
    return " ".join(html.unescape(" ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg))).split())


async def screenshot_showing(pilot: Pilot, name: str, folder: Path, *texts: str) -> str:
    """Save a screenshot once it shows every one of `texts` (a redraw may still be on its way); its words."""
    app, words = pilot.app, ""

    def shows_all() -> bool:
        nonlocal words
        words = svg_text(app.export_screenshot())
        return all(t in words for t in texts)

    try:
        await until(pilot, shows_all, what=f"{name} showing {texts}")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; missing {[t for t in texts if t not in words]} from: {words}") from None
    app.save_screenshot(name, str(folder))
    return svg_text((folder / name).read_text())


def selected(app: MonitorApp) -> str | None:
    """The operation under the cursor: what c, d, r and f act on."""
    return app.query_one("#operations", KeyedTable).selected_key


def table_text(app: MonitorApp, table_id: str) -> str:
    """Every cell of a table as plain text."""
    table = app.query_one(f"#{table_id}", KeyedTable)
    return "\n".join(" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count))


def status_of(app: MonitorApp, op_id: str) -> str:
    """The status the monitor holds for an operation."""
    record = app.ops.records.get(op_id)
    return record.status if record else ""


async def test_started_operation_appears_and_progress_advances(
        settings: Settings, bus: Bus, aggregator: Aggregator, workers: WorkerPool) -> None:
    await workers.start(worker_id="w-progress")
    app = MonitorApp(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.state == "connected", what="connection")
        op = await submit(bus, "dummy", "cpu", {"steps": 20, "step_seconds": 0.1})
        await until(pilot, lambda: short_id(op.id) in table_text(app, "operations"), what="row")
        seen: set[float] = set()

        def advanced() -> bool:
            seen.add(app.ops.records[op.id].progress.percentage)
            return len({p for p in seen if 0 < p < 100}) >= 3

        await until(pilot, advanced, what="progress")
        await until(pilot, lambda: "completed" in table_text(app, "operations"), what="completion shown")
        assert "w-progress" in table_text(app, "workers")


async def test_cancel_asks_first_and_works_without_a_backend(settings: Settings, bus: Bus,
                                                             workers: WorkerPool) -> None:
    await workers.start(worker_id="w-cancel")
    app = MonitorApp(settings)
    async with app.run_test(size=SIZE) as pilot:
        op = await submit(bus, "dummy", "cpu", {"steps": 200, "step_seconds": 0.1})
        await until(pilot, lambda: status_of(app, op.id) == "running", what="running")
        # `c` acts on the row under the cursor: the record reaches the model before the next 10 Hz redraw lists it
        await until(pilot, lambda: selected(app) == op.id, what="row selected")
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmCancel) and app.screen.op_id == op.id
        await pilot.press("n")  # changed our mind: nothing happens
        assert not isinstance(app.screen, ConfirmCancel) and status_of(app, op.id) == "running"
        await pilot.press("c", "y")
        await until(pilot, lambda: status_of(app, op.id) == "cancelled", what="cancelled")
        # the table catches up at its next coalesced redraw (10 Hz)
        await until(pilot, lambda: "cancelled" in table_text(app, "operations"), what="cancelled shown")


async def test_a_silent_worker_turns_unavailable(settings: Settings, bus: Bus, workers: WorkerPool) -> None:
    worker = await workers.start(worker_id="doomed")
    app = MonitorApp(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "available" in table_text(app, "workers"), what="worker listed")
        worker.heartbeat._task.cancel()  # silence without a final 'stopped' beat, as a dead process would be
        await until(pilot, lambda: "unavailable" in table_text(app, "workers"), what="unavailable")
        assert app.workers_model.workers["doomed"].status == "unavailable"


async def test_main_screen_with_a_backend_filters_and_screenshot(
        settings: Settings, bus: Bus, backends: BackendPool, workers: WorkerPool, tmp_path: Path) -> None:
    await backends.start()
    for i in range(3):
        await workers.start(worker_id=f"dummy-{i + 1}")
    app = MonitorApp(settings)
    async with app.run_test(size=SIZE) as pilot:
        done = await submit(bus, "dummy", "cpu", {"steps": 2, "step_seconds": 0.01})
        failed = await submit(bus, "dummy", "cpu", {"steps": 5, "step_seconds": 0.01, "fail_at": 2})
        await until(pilot, lambda: status_of(app, failed.id) == "failed", what="failure")
        running = [await submit(bus, "dummy", "cpu", {"steps": 400, "step_seconds": 0.05}) for _ in range(3)]
        waiting = await submit(bus, "dummy", "cpu", {"steps": 10})
        await until(pilot, lambda: all(app.ops.records[r.id].progress.percentage > 1 for r in running
                                       if r.id in app.ops.records), what="progress")
        await until(pilot, lambda: app.backend == "up" and len(app.ops.records) == 6, what="all listed")
        await until(pilot, lambda: short_id(done.id) in table_text(app, "operations"), what="finished listed")
        await pilot.press("a")  # active only: the finished ones leave the table, the waiting one stays
        await until(pilot, lambda: short_id(done.id) not in table_text(app, "operations"), what="active only")
        shown = table_text(app, "operations")
        assert short_id(waiting.id) in shown and short_id(failed.id) not in shown
        assert all(short_id(r.id) in shown for r in running)
        await pilot.press("a")
        await until(pilot, lambda: short_id(done.id) in table_text(app, "operations"), what="all again")
        followed = selected(app)
        assert followed is not None
        await pilot.press("f")  # follow the operation under the cursor
        await until(pilot, lambda: followed in str(app.query_one("#follow").render()), what="follow bar")
        words = await screenshot_showing(pilot, "monitor.svg", shots_dir(tmp_path), "backend ✓", "dummy-3",
                                         "failed", "completed", "running", f"following {followed}")
        assert all(short_id(o.id) in words for o in (done, failed, waiting, *running))


async def _fake_training(bus: Bus, epochs: int) -> str:
    """A running training record plus its stored started, metric and log events, as a worker would publish."""
    from ktrdr.operations.record import Progress, new_record
    from ktrdr.protocol.codec import encode
    from ktrdr.protocol.messages import OperationLog, OperationMetric, OperationStarted

    record = new_record("training", "cpu", {"strategy": "mean_reversion_v3", "symbol": "EURUSD",
                                            "timeframes": ["1h", "4h"], "epochs": epochs * 2, "device": "auto"})
    now = time.time_ns()
    record = msgspec.structs.replace(
        record, status="running", attempt=1, worker_id="training-gpu-1", started_at=now - 95 * 10**9,
        progress=Progress(percentage=50.0, current_step=f"epoch {epochs}/{epochs * 2}", steps_completed=epochs,
                          steps_total=epochs * 2))
    await bus.ops.create(record)
    n = bus.names
    events = [OperationStarted(operation_id=record.id, seq=1, ts=now, worker_id="training-gpu-1", pool="cpu")]
    for e in range(1, epochs + 1):
        loss = 1.1 * 0.8 ** e + 0.02 * (e % 2)
        events.append(OperationMetric(operation_id=record.id, seq=len(events) + 1, ts=now, values={
            "epoch": e, "train_loss": loss, "val_loss": loss * 1.15, "train_accuracy": 1 - loss / 2,
            "val_accuracy": 0.95 - loss / 2}))
    events.append(OperationLog(operation_id=record.id, seq=len(events) + 1, ts=now, message="early stopping armed"))
    for ev in events:
        kind = type(ev).__struct_config__.tag
        await bus.js.publish(n.event(record.id, kind), encode(ev))
    return record.id


async def test_detail_view_shows_epoch_metrics_and_screenshot(settings: Settings, bus: Bus, tmp_path: Path) -> None:
    epochs = 8
    op_id = await _fake_training(bus, epochs)
    app = MonitorApp(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: selected(app) == op_id, what="row selected")
        await pilot.press("enter")
        assert getattr(app.screen, "op_id", None) == op_id
        screen = app.screen
        await until(pilot, lambda: len(screen.query_one("#plot-loss").series.get("train_loss", [])) == epochs,
                    what="loss curve")
        plot_acc = screen.query_one("#plot-acc")
        assert len(plot_acc.series["val_accuracy"]) == epochs
        assert screen.query_one("#plot-loss").series["val_loss"][0] > screen.query_one("#plot-loss").series[
            "val_loss"][-1]  # the planted loss falls
        last = screen.query_one("#plot-loss").series["train_loss"][-1]
        await screenshot_showing(pilot, "monitor-detail.svg", shots_dir(tmp_path), op_id, "train_loss",
                                 "val_accuracy", f"{last:.4g}", "early stopping armed")
        await pilot.press("escape")
        assert not hasattr(app.screen, "op_id")


async def test_keys_stay_responsive_under_a_burst_of_progress(settings: Settings, bus: Bus) -> None:
    from ktrdr.operations.record import new_record
    from ktrdr.protocol.codec import encode
    from ktrdr.protocol.messages import OperationProgress

    record = msgspec.structs.replace(new_record("dummy", "cpu", {}), status="running", attempt=1,
                                     started_at=time.time_ns())
    await bus.ops.create(record)
    total, subject = 20_000, bus.names.event(record.id, "progress")
    app = MonitorApp(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: record.id in app.ops.records, what="record")

        async def burst() -> None:
            for seq in range(1, total + 1):
                ev = OperationProgress(operation_id=record.id, seq=seq, percentage=100 * seq / total,
                                       current_step=f"item {seq}")
                await bus.nc.publish(subject, encode(ev))
                if seq % 500 == 0:
                    await bus.nc.flush()
        started = time.perf_counter()
        publisher = asyncio.create_task(burst())
        await eventually(lambda: app.ops.events_seen >= 1000, timeout=30, every=0.002, what="burst under way")
        seen_at_press = app.ops.events_seen
        # The key goes in as the terminal driver sends it; pilot.press would also wait for an idle CPU.
        pressed = time.perf_counter()
        app.post_message(events.Key("a", "a"))
        await eventually(lambda: app.filters.statuses, timeout=30, every=0.002, what="key handled")
        latency = time.perf_counter() - pressed
        await publisher
        published = time.perf_counter() - started
        await until(pilot, lambda: app.ops.records[record.id].progress_seq == total, what="last progress")
        elapsed = time.perf_counter() - started
        print(f"\npublished in {published:.2f}s")
        print(f"\nkey press under a burst of {total} progress events: {latency * 1000:.0f} ms "
              f"(all {app.ops.events_seen} events folded in {elapsed:.2f} s; the key was pressed "
              f"when {seen_at_press} had arrived)")
        assert seen_at_press < total
        assert latency < 5.0  # a sanity bound only: a frozen UI takes far longer


async def test_unreachable_nats_is_shown(settings: Settings) -> None:
    app = MonitorApp(msgspec.structs.replace(settings, nats_url="nats://127.0.0.1:9"))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.state == "unreachable", what="unreachable state")
        banner = str(app.query_one("#banner").render())
        assert "cannot connect" in banner and "127.0.0.1:9" in banner and "retrying" in banner
