"""The detail view of one operation: summary, parameters, progress history, curves, event log, errors."""

from __future__ import annotations

import json
import time
from datetime import datetime
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from ktrdr.operations.record import OperationRecord
from ktrdr.protocol.messages import (
    OperationCancelledEvent, OperationCompleted, OperationEvent, OperationFailed, OperationLog, OperationMetric,
    OperationProgress, OperationStarted, event_kind,
)

from . import feed, render
from .messages import EventReceived
from .widgets import Plot

if TYPE_CHECKING:
    from ktrdr.client import KtrdrClient

    from .model import OpsModel

LOSS_KEYS, ACC_KEYS = ("train_loss", "val_loss"), ("train_accuracy", "val_accuracy")
CURVE_KINDS = ("training", "research")  # kinds that report loss and accuracy per epoch


def clock(ts_ns: int) -> str:
    """`12:03:04` local time."""
    return datetime.fromtimestamp(ts_ns / 1e9).strftime("%H:%M:%S") if ts_ns else "--:--:--"


def describe(event: OperationEvent) -> Text:
    """One event-log line."""
    head = Text(f"{clock(event.ts)} #{event.attempt}.{event.seq:<4} ", style="bright_black")
    match event:
        case OperationStarted():
            return head.append(f"started on {event.worker_id}{' (resumed)' if event.resumed else ''}", "cyan")
        case OperationMetric():
            vals = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in event.values.items())
            return head.append(f"{event.name}: ", "magenta").append(vals)
        case OperationLog():
            return head.append(f"[{event.level}] ", "yellow" if event.level != "info" else "blue").append(event.message)
        case OperationCompleted():
            return head.append("completed", "bold green")
        case OperationFailed():
            return head.append(f"failed: {event.error.code}: {event.error.message}", "bold red")
        case OperationCancelledEvent():
            return head.append(f"cancelled: {event.reason}", "bold bright_black")
    return head.append(type(event).__name__)


def curves(metrics: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, list[float]]:
    """Per-epoch series of the given keys (only those present)."""
    epochs = [m for m in metrics if m.get("_name", "epoch") == "epoch"]
    return {k: [float(m[k]) for m in epochs if isinstance(m.get(k), (int, float))] for k in keys}


class DetailScreen(Screen[None]):
    """Everything about one operation, live."""

    BINDINGS = [("escape", "app.pop_screen", "Back"), ("c", "app.cancel_op", "Cancel"),
                ("r", "app.resume_op", "Resume"), ("q", "app.pop_screen", "Back")]

    def __init__(self, op_id: str, ops: OpsModel, client: Callable[[], KtrdrClient | None]) -> None:
        super().__init__()
        self.op_id, self.ops, self.client = op_id, ops, client
        self.metrics: list[dict[str, Any]] = []
        self.seen: set[tuple[int, int, str]] = set()

    def compose(self) -> ComposeResult:
        """Summary on top; parameters and history left; curves right; the event log below."""
        yield Static(id="detail-head")
        with Horizontal(id="detail-body"):
            with VerticalScroll(id="detail-left"):
                yield Static(id="detail-params")
                yield Static(id="detail-history")
                yield Static(id="detail-error")
            with Vertical(id="detail-right"):
                yield Plot("loss per epoch", id="plot-loss")
                yield Plot("accuracy per epoch", id="plot-acc")
                yield Plot("equity", id="plot-equity")
        yield RichLog(id="detail-log", markup=False, wrap=True, max_lines=2000)
        yield Footer()

    def on_mount(self) -> None:
        """Load history, follow live events, redraw from the shared model at 4 Hz."""
        self.query_one("#detail-log", RichLog).border_title = "events"
        self.load_history()
        self.follow_events()
        self.redraw()
        self.set_interval(0.25, self.redraw)

    @work(group="detail", exit_on_error=False)
    async def load_history(self) -> None:
        """Stored events and metrics, then the equity curve once a backtest has stored it."""
        client = self.client()
        if client is None:
            return
        for event in await feed.history(client, self.op_id):
            self._add(event)
        self.metrics = await feed.epoch_metrics(client, self.op_id) or self.metrics
        self._draw_curves()
        record = self.ops.records.get(self.op_id)
        kind = record.type if record is not None else ""
        backtest = kind == "backtest"
        # Only the curves an operation of this kind can have: a dummy or a data load has none to show.
        self.query_one("#plot-equity", Plot).display = backtest
        for plot_id in ("#plot-loss", "#plot-acc"):
            self.query_one(plot_id, Plot).display = bool(self.metrics) or kind in CURVE_KINDS
        if backtest and record is not None:
            equity = await feed.equity_curve(client, record)
            self.query_one("#plot-equity", Plot).show({"equity": equity})

    @work(group="detail", exit_on_error=False)
    async def follow_events(self) -> None:
        """Live events of this operation, one message each."""
        client = self.client()
        if client is None:
            return
        async for event in feed.events(client, self.op_id):
            if not isinstance(event, OperationProgress):
                self.post_message(EventReceived(event))

    def on_event_received(self, message: EventReceived) -> None:
        """A live event: log it; a metric also extends the curves."""
        self._add(message.event)
        if isinstance(message.event, OperationMetric):
            self._draw_curves()

    def _add(self, event: OperationEvent) -> None:
        key = (event.attempt, event.seq, event_kind(event))
        if key in self.seen:
            return  # the live subscription and the stored history overlap
        self.seen.add(key)
        if isinstance(event, OperationMetric):
            self.metrics.append(event.values | {"_name": event.name})
        self.query_one("#detail-log", RichLog).write(describe(event))

    def _draw_curves(self) -> None:
        self.query_one("#plot-loss", Plot).show(curves(self.metrics, LOSS_KEYS))
        self.query_one("#plot-acc", Plot).show(curves(self.metrics, ACC_KEYS))

    def redraw(self) -> None:
        """Header, parameters, progress history and error from the app's model."""
        record = self.ops.records.get(self.op_id)
        if record is None:
            self.query_one("#detail-head", Static).update(f"{self.op_id}: not in the operations bucket")
            return
        self.query_one("#detail-head", Static).update(self._head(record))
        self.query_one("#detail-params", Static).update(self._params(record))
        self.query_one("#detail-history", Static).update(self._history())
        error = record.error
        self.query_one("#detail-error", Static).update(
            Text.assemble(("error ", "bold red"), (f"{error.code}\n", "red"), error.message) if error else "")

    def _head(self, r: OperationRecord) -> Text:
        now = time.time_ns()
        return Text.assemble((r.id, "bold"), "  ", render.status(r.status), "  ",
                             render.bar(r.progress.percentage, r.status, 30), "  ",
                             (r.progress.current_step, "italic"),
                             f"\n{r.type} · pool {r.pool or '—'} · worker {r.worker_id or '—'} · attempt {r.attempt}"
                             f" · elapsed {render.duration(r.elapsed_s(now))} · eta "
                             f"{render.duration(render.eta_s(r, now))}")

    def _params(self, r: OperationRecord) -> Text:
        if r.type == "sweep":  # the ranking (or the variants in flight) says more than the grid's parameters
            sets = {a["path"]: a["values"] for a in r.parameters.get("sets", [])}
            text = Text("sweep over\n", style="bold").append(json.dumps(sets, default=str)[:1000] + "\n\n")
            return text.append_text(render.sweep_text(r, self.ops.records))
        body = json.dumps(r.parameters, indent=1, default=str)
        text = Text("parameters\n", style="bold").append(body[:3000], style="bright_white")
        if r.result:
            summary = {k: v for k, v in r.result.items() if not isinstance(v, (dict, list))}
            text.append("\n\nresult\n", style="bold").append(json.dumps(summary, indent=1, default=str)[:2000])
        if r.artifacts:
            text.append("\n\nartifacts\n", style="bold").append("\n".join(f"{k}: {v}" for k, v in r.artifacts.items()))
        return text

    def _history(self) -> Text:
        text = Text("\nprogress history\n", style="bold")
        for ts, pct, step in list(self.ops.history.get(self.op_id, ()))[-12:]:
            text.append(f"{clock(ts)} {pct:5.1f}%  ", style="bright_black").append(f"{step}\n")
        return text
