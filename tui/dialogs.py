"""Modal screens: confirm a cancel, choose filters, list the keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, SelectionList, Static

from ktrdr.operations.record import STATUSES
from ktrdr.operations import kinds

from .model import Filters

HELP = """[b]Keys[/b]

  [b]↑ ↓[/b] / [b]tab[/b]   move, switch between workers and operations
  [b]enter[/b] / [b]d[/b]   open the selected operation's details
  [b]c[/b]           cancel the selected operation (asks first)
  [b]r[/b]           resume a failed or cancelled operation
  [b]f[/b]           follow the selected operation in the bar below (again: stop)
  [b]/[/b]           filter operations by status and type
  [b]a[/b]           show only active operations (again: all)
  [b]?[/b]           this help
  [b]escape[/b]      close a dialog or the detail view
  [b]q[/b]           quit

Without a backend the monitor reads NATS directly: cancel goes
straight to the worker and resume updates the record itself."""


class ConfirmCancel(ModalScreen[bool]):
    """Asks before cancelling an operation: y / enter confirms, n / escape does not."""

    BINDINGS = [("y", "answer(True)", "Yes"), ("n", "answer(False)", "No"), ("escape", "answer(False)", "No")]

    def __init__(self, op_id: str) -> None:
        super().__init__()
        self.op_id = op_id

    def compose(self) -> ComposeResult:
        """Question and two buttons."""
        with Vertical(id="dialog"):
            yield Label(f"Cancel [b]{self.op_id}[/b]?", id="question")
            yield Static("Running work stops at its next check and keeps its checkpoint.", classes="muted")
            with Horizontal(id="buttons"):
                yield Button("Cancel it (y)", variant="error", id="yes")
                yield Button("Keep running (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        """Focus the safe answer."""
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """A button answers."""
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        """A key answers."""
        self.dismiss(yes)


class FilterDialog(ModalScreen[Filters]):
    """Statuses and types to show; nothing ticked in a list means all of it."""

    BINDINGS = [("escape", "done", "Apply"), ("enter", "done", "Apply")]

    def __init__(self, current: Filters) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        """Two selection lists side by side."""
        with Vertical(id="dialog"):
            yield Label("Filter operations  [dim](space ticks, enter applies)[/dim]")
            with Horizontal(id="lists"):
                yield SelectionList[str](*[(s, s, s in self.current.statuses) for s in STATUSES], id="statuses")
                yield SelectionList[str](*[(t, t, t in self.current.types) for t in kinds.names()], id="types")

    def action_done(self) -> None:
        """Apply the ticks."""
        statuses = self.query_one("#statuses", SelectionList).selected
        types = self.query_one("#types", SelectionList).selected
        self.dismiss(Filters(statuses=frozenset(statuses), types=frozenset(types)))


class HelpDialog(ModalScreen[None]):
    """What each key does."""

    BINDINGS = [("escape", "close", "Close"), ("question_mark", "close", "Close"), ("q", "close", "Close")]

    def compose(self) -> ComposeResult:
        """The key list."""
        with Vertical(id="dialog"):
            yield Static(HELP)

    def action_close(self) -> None:
        """Back to the monitor."""
        self.dismiss(None)
