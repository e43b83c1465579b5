"""Sub-commands that are imported only when used, so `ktrdr --help` lists them without loading any.

The root group knows each command by a table entry (module, attribute, one-line help). Listing the commands
(`ktrdr --help`, "did you mean") reads the table; running one, or asking for its own `--help`, imports its
module and builds it through typer exactly as an eagerly registered command would be built.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, NamedTuple

import typer
from typer.core import TyperGroup
from typer.models import DefaultPlaceholder

from ktrdr.cli.jsonflag import add_json_everywhere

# Every command is built with these: plain (click) help, which needs neither rich nor markdown at start-up and
# prints help text as written (rich markup would swallow `NAME[@version]`), and no completion options.
APP_SETTINGS: dict[str, Any] = {"add_completion": False, "pretty_exceptions_enable": False, "rich_markup_mode": None}


class Entry(NamedTuple):
    """Where a sub-command lives and the one line `ktrdr --help` shows for it (its own first sentence)."""

    module: str
    attribute: str  # a function (one command) or a typer.Typer (a group)
    help: str


def build(name: str, target: Any) -> typer.core.TyperCommand | TyperGroup:
    """The click command for a command function or a sub-app, as the root would build it (with `--json`)."""
    holder = typer.Typer(**APP_SETTINGS)
    if not isinstance(target, typer.Typer):
        holder.command(name)(target)
        add_json_everywhere(holder)
        return typer.main.get_command(holder)  # type: ignore[return-value]
    holder.add_typer(target, name=name)
    add_json_everywhere(holder)
    _whole_lines(holder)
    return typer.main.get_command(holder).commands[name]  # type: ignore[attr-defined,no-any-return]


def _whole_lines(app: typer.Typer) -> None:
    """Make every sub-group of `app` (recursively) a `Group`, unless one names its own class."""
    for info in app.registered_groups:
        sub = info.typer_instance
        if isinstance(info.cls, DefaultPlaceholder) and (sub is None or isinstance(sub.info.cls, DefaultPlaceholder)):
            info.cls = Group
        if sub is not None:
            _whole_lines(sub)


class Group(TyperGroup):
    """A typer group whose command list shows each command's whole first sentence, wrapped.

    Typer's plain list cuts that sentence to one line with `...`; its rich list shows it whole.
    """

    def one_line(self, ctx: typer.Context, name: str) -> str | None:
        """The first sentence of command `name`'s help; None for a hidden or unknown one."""
        command = self.get_command(ctx, name)
        return None if command is None or command.hidden else command.get_short_help_str(sys.maxsize)

    def format_commands(self, ctx: typer.Context, formatter: Any) -> None:
        """The Commands section: one row per visible command."""
        rows = [(name, line) for name in self.list_commands(ctx) if (line := self.one_line(ctx, name)) is not None]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class LazyCommands(MutableMapping[str, Any]):
    """The group's commands: every name from the table at once, each command built on first access."""

    def __init__(self, table: Mapping[str, Entry], loaded: Mapping[str, Any]) -> None:
        self.table = table
        self.loaded = dict(loaded)

    def __getitem__(self, name: str) -> Any:
        if name not in self.loaded:
            entry = self.table[name]  # KeyError for an unknown name, as a dict gives
            self.loaded[name] = build(name, getattr(importlib.import_module(entry.module), entry.attribute))
        return self.loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        raise TypeError(f"command {name!r} cannot be removed from the command line")

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self.table), **dict.fromkeys(self.loaded)})

    def __len__(self) -> int:
        return len(set(self.table) | set(self.loaded))


class LazyGroup(Group):
    """A group whose sub-commands come from `TABLE` (set by a subclass) and load when first used."""

    TABLE: Mapping[str, Entry] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(self.TABLE, self.commands)  # any registered eagerly stay

    def list_commands(self, ctx: typer.Context) -> list[str]:
        """The names in table order, without loading any command."""
        return list(self.commands)

    def one_line(self, ctx: typer.Context, name: str) -> str | None:
        """The table's line for `name` (nothing loaded); a command added outside the table, its own."""
        entry = self.TABLE.get(name)
        return entry.help if entry is not None else super().one_line(ctx, name)
