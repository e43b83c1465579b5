"""An open client for one command, and following an operation with a live progress bar."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from ktrdr.config import Settings


@asynccontextmanager
async def open_client(settings: Settings, name: str = "ktrdr-cli") -> AsyncIterator[Any]:
    """A KtrdrClient on the configured (or embedded) server; closed at exit."""
    from ktrdr.bus.handle import Bus
    from ktrdr.bus.resolve import resolve_url
    from ktrdr.client import KtrdrClient

    bus = await Bus.open(settings, resolve_url(settings), name=name)
    try:
        yield KtrdrClient(bus)
    finally:
        await bus.close()


class Interrupt:
    """Turns Ctrl-C into an event the follow loop can wait on (instead of a KeyboardInterrupt mid-await)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def __enter__(self) -> Interrupt:
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self.event.set)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)


def _describe(record: Any) -> str:
    p = record.progress
    items = f" {p.items_processed}/{p.items_total}" if p.items_total else ""
    step = f" · {p.current_step}" if p.current_step else ""
    return f"{record.type} {record.status}{step}{items}"


async def next_unless_interrupted(agen: AsyncIterator[Any], interrupt: Interrupt) -> Any:
    """The next item, or None when Ctrl-C came first (StopAsyncIteration when the iterator ends)."""
    nxt = asyncio.ensure_future(agen.__anext__())
    stop = asyncio.ensure_future(interrupt.event.wait())
    done, _ = await asyncio.wait({nxt, stop}, return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if nxt in done:
        return nxt.result()
    nxt.cancel()
    return None


async def follow(client: Any, op_id: str, *, started_here: bool, quiet: bool = False,
                 interrupt: Interrupt | None = None) -> Any:
    """Show live progress until the operation ends; Ctrl-C cancels a run we started, or detaches."""
    if interrupt is None:
        with Interrupt() as interrupt:
            return await follow(client, op_id, started_here=started_here, quiet=quiet, interrupt=interrupt)
    from rich.console import Console
    from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    console = Console(stderr=True)
    columns = (TextColumn("[bold]{task.fields[op]}[/]"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.description}"), TimeElapsedColumn(), TimeRemainingColumn())
    records = client.follow(op_id)
    if not started_here and not quiet:
        console.print(f"following {op_id} — Ctrl-C detaches (the operation keeps running)")
    try:
        return await _show(client, op_id, records, interrupt, started_here, console, columns, quiet)
    finally:
        await close_quietly(records)


async def close_quietly(agen: Any) -> None:
    """Close an async generator that a cancelled read may have finished already."""
    try:
        await agen.aclose()
    except RuntimeError:
        pass


async def _show(client: Any, op_id: str, records: Any, interrupt: Interrupt, started_here: bool, console: Any,
                columns: tuple, quiet: bool) -> Any:
    from rich.progress import Progress

    with Progress(*columns, console=console, disable=quiet, transient=False) as bar:
        task = bar.add_task("waiting", total=100.0, op=op_id)
        last = None
        while True:
            record = await next_unless_interrupted(records, interrupt)
            if record is None:
                return await _interrupted(client, op_id, started_here, console, bar)
            last = record
            bar.update(task, completed=record.progress.percentage, description=_describe(record))
            if record.terminal:
                return last


async def _interrupted(client: Any, op_id: str, started_here: bool, console: Any, bar: Any) -> Any:
    bar.stop()
    if not started_here:
        console.print(f"detached from {op_id}; it keeps running — `ktrdr follow {op_id}` to watch it again")
        return None
    console.print(f"cancelling {op_id} (Ctrl-C on a run you started cancels it)…")
    await client.cancel(op_id, reason="interrupted from the CLI")
    async for record in client.follow(op_id):
        if record.terminal:
            if record.status != "cancelled":  # it ended before the cancel reached it: report that outcome
                return record
            console.print(f"{op_id} {where_stopped(record)}; `ktrdr resume {op_id}` continues it")
            raise UserCancelled(record)
    return None


def where_stopped(record: Any) -> str:
    """`cancelled at step 14/30 (47 %)`, from the record's last progress."""
    p = record.progress
    at = f"at step {p.steps_completed}/{p.steps_total} " if p.steps_total else "at "
    return f"cancelled {at}({p.percentage:.0f} %)"


class UserCancelled(Exception):
    """The person following their own run pressed Ctrl-C and the run is now cancelled (exit 130, no error)."""

    def __init__(self, record: Any) -> None:
        super().__init__(where_stopped(record))
        self.record = record
