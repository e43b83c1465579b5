"""The monitor: workers and operations at a glance, live from the bus, redrawn at most 10 times a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from ktrdr.bus.handle import Bus
from ktrdr.client import KtrdrClient, NoBackend
from ktrdr.config import Settings
from ktrdr.errors import KtrdrError
from ktrdr.protocol.messages import OperationProgress

from . import feed, render
from .detail import DetailScreen
from .dialogs import ConfirmCancel, FilterDialog, HelpDialog
from .feed import Deleted
from .messages import BeatReceived, Connection, EventReceived, ProgressPending, RecordChanged, WorkerChanged
from .model import Filters, OpsModel, WorkersModel
from .widgets import KeyedTable

OP_COLUMNS = ("operation", "type", "status", "progress", "step", "worker", "elapsed", "eta")
WORKER_COLUMNS = ("worker", "kind", "pool", "status", "running", "beat", "counters")
REFRESH_S, RETRY_S, MAX_ROWS = 0.1, 2.0, 500
ACTIVE = Filters(statuses=frozenset({"pending", "running", "resuming"}))
WRITE_ACTIONS = frozenset({"cancel_op", "resume_op"})  # what --read-only takes away


class MonitorApp(App[None]):
    """`ktrdr monitor`: the cluster at a glance."""

    CSS_PATH = "monitor.tcss"
    TITLE = "ktrdr monitor"
    BINDINGS = [
        Binding("q", "quit", "Quit"), Binding("d", "details", "Details"), Binding("c", "cancel_op", "Cancel"),
        Binding("r", "resume_op", "Resume"), Binding("f", "follow", "Follow"), Binding("slash", "filter", "Filter"),
        Binding("a", "active", "Active only"), Binding("question_mark", "help", "Help"),
    ]

    def __init__(self, settings: Settings, url: str | None = None, *, read_only: bool = False) -> None:
        super().__init__()
        self.settings, self.url, self.read_only = settings, url, read_only
        self.bus: Bus | None = None
        self.client: KtrdrClient | None = None
        self.ops, self.workers_model = OpsModel(), WorkersModel()
        self.filters, self.following = Filters(), ""
        self.state, self.backend = "connecting", "unknown"
        self._disconnected_at = 0.0
        self._last_slow = 0.0
        self._problem = ""
        self._progress: dict[str, OperationProgress] = {}
        self._progress_posted = False

    def compose(self) -> ComposeResult:
        """Header, connection banner, the two panes, the follow bar, key hints."""
        yield Header(show_clock=True)
        yield Static(id="banner")
        yield KeyedTable(WORKER_COLUMNS, id="workers")
        yield KeyedTable(OP_COLUMNS, id="operations")
        yield Static(id="follow")
        yield Footer()

    def on_mount(self) -> None:
        """Connect in the background and start the redraw timer."""
        self.query_one("#workers").border_title = "workers"
        self.query_one("#operations").border_title = "operations"
        self.query_one("#operations").focus()
        self._show_state()
        self.connect()
        self.set_interval(REFRESH_S, self.refresh_views)

    # -- I/O ------------------------------------------------------------------------------------------------
    @work(group="connect", exclusive=True, exit_on_error=False)
    async def connect(self) -> None:
        """Open the bus, retrying while NATS is unreachable, then start the feeds."""
        while self.bus is None:
            try:
                self.bus = await Bus.open(self.settings, self.url, name="ktrdr-monitor")
            except KtrdrError as exc:
                self.post_message(Connection("unreachable", exc.message))
                await asyncio.sleep(RETRY_S)
        self.client = KtrdrClient(self.bus, timeout=3.0)
        self.post_message(Connection("connected"))
        self.start_feeds()
        self.probe_backend()

    def start_feeds(self) -> None:
        """One worker per source; each posts one message per item."""
        assert self.client is not None
        self.workers.cancel_group(self, "feed")
        for source, wrap in ((feed.operation_records, RecordChanged), (feed.worker_records, WorkerChanged),
                             (feed.heartbeats, BeatReceived)):
            self.pump(source, wrap)
        self.pump_events()

    @work(group="feed", exit_on_error=False)
    async def pump(self, source: Callable[[KtrdrClient], AsyncIterator[Any]],
                   wrap: Callable[[Any], Message]) -> None:
        """Post every item of one source as a message."""
        assert self.client is not None
        async for item in source(self.client):
            self.post_message(wrap(item))

    @work(group="feed", exit_on_error=False)
    async def pump_events(self) -> None:
        """Operation events: lifecycle ones posted one by one; progress kept latest-wins per operation and
        announced by a single outstanding message, so a burst costs one dispatch per redraw, not per event."""
        assert self.client is not None
        async for event in feed.events(self.client):
            self.ops.events_seen += 1
            if not isinstance(event, OperationProgress):
                self.post_message(EventReceived(event))
                continue
            self._progress[event.operation_id] = event
            if not self._progress_posted:
                self._progress_posted = True
                self.post_message(ProgressPending())

    @work(group="probe", exclusive=True, exit_on_error=False)
    async def probe_backend(self) -> None:
        """Whether a backend answers (metrics, cancel and resume prefer it)."""
        assert self.client is not None
        try:
            await self.client.health()
            self.backend = "up"
        except NoBackend:
            self.backend = "none"
        except KtrdrError:
            self.backend = "error"
        self._show_state()

    # -- messages -------------------------------------------------------------------------------------------
    def on_record_changed(self, message: RecordChanged) -> None:
        """Operations bucket."""
        if isinstance(message.record, Deleted):
            self.ops.remove(message.record.key)
        else:
            self.ops.put(message.record)

    def on_worker_changed(self, message: WorkerChanged) -> None:
        """Workers bucket."""
        if isinstance(message.record, Deleted):
            self.workers_model.remove(message.record.key)
        else:
            self.workers_model.put(message.record)

    def on_beat_received(self, message: BeatReceived) -> None:
        """A heartbeat."""
        self.workers_model.beat(message.beat)

    def on_event_received(self, message: EventReceived) -> None:
        """A lifecycle event, after any progress of its operation that arrived before it."""
        if (progress := self._progress.pop(message.event.operation_id, None)) is not None:
            self.ops.apply(progress)
        self.ops.apply(message.event)

    def on_progress_pending(self, _message: ProgressPending) -> None:
        """Fold the latest progress of every operation that reported since the last time."""
        self._progress_posted = False
        latest, self._progress = self._progress, {}
        for event in latest.values():
            self.ops.apply(event)

    def on_connection(self, message: Connection) -> None:
        """Connection state changes: banner, and fresh watches after a reconnect."""
        if message.state == "connected" and self.state == "reconnecting":
            self.notify("reconnected to NATS", title="connection")
            self.start_feeds()
            self.probe_backend()
        if message.state in ("reconnecting", "unreachable") and self.state not in ("reconnecting", "unreachable"):
            self._disconnected_at = time.monotonic()
        self.state = message.state
        self._problem = message.detail or self._problem
        self._show_state()

    def _show_state(self) -> None:
        banner = self.query_one("#banner", Static)
        down = self.state in ("reconnecting", "unreachable")
        banner.set_class(down, "down")
        banner.set_class(self.state == "connected", "up")
        target = self.url or self.settings.nats_url or "the default NATS"
        if down:
            since = render.duration(time.monotonic() - self._disconnected_at)
            what = self._problem if self.state == "unreachable" else f"connection to NATS at {target} lost"
            banner.update(f"✖ {what} — retrying for {since}…")
        elif self.state == "connecting":
            banner.update(f"… connecting to {target}")
        else:
            backend = {"up": "backend ✓", "none": "no backend: reading the bus directly"}.get(self.backend, "")
            banner.update(f"● {target}  ns={self.settings.namespace}  {backend}")

    # -- redraw ---------------------------------------------------------------------------------------------
    def refresh_views(self) -> None:
        """Coalesced redraw; a tick that lands while the app is shutting down (widgets gone) does nothing."""
        try:
            self._redraw()
        except NoMatches:
            pass

    def _redraw(self) -> None:
        """Connection check, worker ages, and tables only when something changed."""
        self._check_connection()
        now = time.time_ns()
        slow_tick = time.monotonic() - self._last_slow >= 1.0  # ages, elapsed and ETA move every second
        if slow_tick:
            self._last_slow = time.monotonic()
            self.workers_model.age(now)
        if self.workers_model.dirty or slow_tick:
            self.workers_model.dirty = False
            rows = [(w.worker_id, render.worker_cells(w, now)) for w in self.workers_model.rows()]
            self.query_one("#workers", KeyedTable).sync(rows)
        if self.ops.dirty or self.ops.reorder or slow_tick:
            self.ops.dirty.clear()
            self.ops.reorder = False
            shown = self.ops.rows(self.filters)[:MAX_ROWS]
            self.query_one("#operations", KeyedTable).sync([(r.id, render.operation_cells(r, now)) for r in shown])
            self._show_follow(now)
            self.sub_title = self._counts()
        if slow_tick and self.state != "connected":
            self._show_state()

    def _check_connection(self) -> None:
        """nats-py reconnects on its own; its state is read here rather than through its callbacks."""
        if self.bus is None:
            return
        connected = self.bus.nc.is_connected
        if connected and self.state == "reconnecting":
            self.post_message(Connection("connected"))
        elif not connected and self.state == "connected":
            self.post_message(Connection("reconnecting"))

    def _counts(self) -> str:
        counts = self.ops.counts()
        parts = [f"{counts[s]} {s}" for s in ("running", "pending", "resuming", "failed") if counts.get(s)]
        return f"filter: {self.filters.describe()} · " + (" · ".join(parts) or "idle")

    def _show_follow(self, now: int) -> None:
        bar = self.query_one("#follow", Static)
        record = self.ops.records.get(self.following)
        bar.display = record is not None
        if record is None:
            return
        bar.update(Text.assemble(("following ", "bold"), (record.id, "bold"), "  ", render.status(record.status),
                                 "  ", render.bar(record.progress.percentage, record.status, 30), "  ",
                                 record.progress.current_step, f"  eta {render.duration(render.eta_s(record, now))}"))
        if record.terminal:
            self.notify(f"{record.id} {record.status}", title="followed operation ended",
                        severity="error" if record.status == "failed" else "information")
            self.following = ""

    # -- actions --------------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Read-only (a shared screen): cancel and resume are neither shown nor run."""
        return not (self.read_only and action.removeprefix("app.") in WRITE_ACTIONS)

    def _selected(self) -> str | None:
        if isinstance(self.screen, DetailScreen):
            return self.screen.op_id
        key = self.query_one("#operations", KeyedTable).selected_key
        if key is None:
            self.notify("no operation selected", severity="warning")
        return key

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on an operation opens its details."""
        if event.data_table.id == "operations":
            self.action_details()

    def action_details(self) -> None:
        """Open the selected operation."""
        if (op_id := self._selected()) is not None:
            self.push_screen(DetailScreen(op_id, self.ops, lambda: self.client))

    def action_cancel_op(self) -> None:
        """Ask, then cancel the selected operation."""
        op_id = self._selected()
        if op_id is None:
            return
        record = self.ops.records.get(op_id)
        if record is not None and record.terminal:
            self.notify(f"{op_id} is already {record.status}", severity="warning")
            return
        self.push_screen(ConfirmCancel(op_id), lambda yes: self.run_action_io(feed.cancel, op_id) if yes else None)

    def action_resume_op(self) -> None:
        """Resume the selected operation from its checkpoint."""
        if (op_id := self._selected()) is not None:
            self.run_action_io(feed.resume, op_id)

    @work(group="actions", exit_on_error=False)
    async def run_action_io(self, action: Callable[[KtrdrClient, str], Any], op_id: str) -> None:
        """Run a cancel or resume and say what happened."""
        if self.client is None:
            self.notify("not connected to NATS", severity="error")
            return
        try:
            self.notify(f"{op_id}: {await action(self.client, op_id)}")
        except KtrdrError as exc:
            self.notify(f"{exc.message}" + (f"\n{exc.hint}" if exc.hint else ""), severity="error", timeout=8)

    def action_follow(self) -> None:
        """Follow the selected operation in the bar (pressed again on it: stop)."""
        op_id = self._selected()
        self.following = "" if op_id in (None, self.following) else op_id
        self.ops.reorder = True

    def action_filter(self) -> None:
        """Choose statuses and types."""
        self.push_screen(FilterDialog(self.filters), self._set_filters)

    def action_active(self) -> None:
        """Toggle active-only."""
        self._set_filters(Filters() if self.filters == ACTIVE else ACTIVE)

    def _set_filters(self, filters: Filters | None) -> None:
        if filters is not None:
            self.filters = filters
            self.ops.reorder = True

    def action_help(self) -> None:
        """The key list."""
        self.push_screen(HelpDialog())

    async def on_unmount(self) -> None:
        """Close the connection."""
        if self.bus is not None:
            await self.bus.close()


def snapshot(app: MonitorApp) -> dict[str, Any]:
    """What the monitor shows, as plain data (tests and scripts)."""
    return {"state": app.state, "operations": {k: msgspec.to_builtins(v) for k, v in app.ops.records.items()},
            "workers": {k: msgspec.to_builtins(v) for k, v in app.workers_model.workers.items()}}
