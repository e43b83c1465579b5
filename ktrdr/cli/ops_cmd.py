"""Operations from the command line: list, show, follow, cancel, resume, workers, events."""

from __future__ import annotations

from typing import Any, Optional

import msgspec
import typer

from ktrdr.cli import checks
from ktrdr.cli.common import dumps, emit, fail, run, state

OP_ID = typer.Argument(..., help="Operation id.", callback=checks.op_id)
app = typer.Typer(invoke_without_command=True, help="List operations, or `ktrdr ops show OP_ID`.")


@app.callback()
def ops(ctx: typer.Context,
        status: Optional[list[str]] = typer.Option(None, "--status", help="Only these statuses (repeatable)."),
        op_type: Optional[list[str]] = typer.Option(None, "--type", help="Only these types (repeatable)."),
        active: bool = typer.Option(False, "--active", help="Only pending, running or resuming ones."),
        limit: int = typer.Option(50, "--limit", min=1, max=1000, envvar="KTRDR_OPS_LIMIT"),
        offset: int = typer.Option(0, "--offset", min=0)) -> None:
    """List operations, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    from ktrdr.cli.render import ops_table
    from ktrdr.cli.session import open_client

    async def body() -> dict[str, Any]:
        async with open_client(state(ctx).settings) as client:
            return await client.list(status=status, type=op_type, active_only=active, limit=limit, offset=offset)

    data = run(body)
    emit(state(ctx), data, lambda: ops_table(data))


@app.command()
def show(ctx: typer.Context, op_id: str = OP_ID) -> None:
    """One operation in full (read straight from the operations store: works without a backend)."""
    from ktrdr.cli.render import record_view
    from ktrdr.cli.session import open_client

    async def body() -> Any:
        async with open_client(state(ctx).settings) as client:
            return await client.record(op_id)

    record = run(body)
    if record is None:
        fail(f"no operation {op_id!r}", "list operations with `ktrdr ops`")
    emit(state(ctx), msgspec.to_builtins(record), lambda: record_view(record))


def follow_cmd(ctx: typer.Context, op_id: str = OP_ID) -> None:
    """Watch an operation's progress live; Ctrl-C detaches (the operation keeps running)."""
    finish(ctx, follow_and_report(ctx, op_id, started_here=False))


def follow_and_report(ctx: typer.Context, op_id: str, *, started_here: bool) -> Any:
    """Follow (with the progress bar), then print the outcome; returns the final record or None."""
    from ktrdr.cli.session import follow, open_client

    async def body() -> Any:
        async with open_client(state(ctx).settings) as client:
            if await client.record(op_id) is None:
                fail(f"no operation {op_id!r}", "list operations with `ktrdr ops`")
            return await follow(client, op_id, started_here=started_here, quiet=state(ctx).as_json)

    return run(body)


def finish(ctx: typer.Context, record: Any) -> None:
    """Print the final record and exit 1 when the operation did not complete."""
    from ktrdr.cli.render import record_view

    if record is None:
        raise typer.Exit(130)
    emit(state(ctx), msgspec.to_builtins(record), lambda: record_view(record))
    if record.status != "completed":
        fail(f"{record.id} {record.status}" + (f": {record.error.message}" if record.error else ""),
             resume_hint(record))


# Failures of what was asked for (a bad strategy, missing data, a bad date): running again cannot fix them.
INPUT_ERRORS = ("ConfigError", "StrategyError", "DataError", "DataNotFoundError", "TimeframeError", "ValueError",
                "TypeError", "KeyError", "ProtocolError", "invalid", "invalid_strategy")


def resume_hint(record: Any) -> str | None:
    """`ktrdr resume` when resuming can help: a cancel, or a failure that is not the input's fault."""
    if record.status == "failed" and record.error is not None and record.error.code in INPUT_ERRORS:
        return "fix what the message names and start it again"
    if record.status in ("failed", "cancelled"):
        return f"`ktrdr resume {record.id}` continues it from its checkpoint"
    return None


def cancel_cmd(ctx: typer.Context, op_id: str = OP_ID,
               reason: str = typer.Option("cancelled by user", "--reason", help="Why (stored on the record)."),
               ) -> None:
    """Cancel an operation: a pending one at once, a running one at its next check (with a checkpoint).

    Works without a backend too: the cancel is then published on the bus, where any worker stores it.
    """
    from ktrdr.cli.session import open_client

    async def body() -> Any:
        async with open_client(state(ctx).settings) as client:
            if await client.record(op_id) is None:  # read from the store: no backend needed to say so
                fail(f"no operation {op_id!r}", "list operations with `ktrdr ops`")
            return await client.cancel_anyhow(op_id, reason)

    data = run(body)
    said = ("cancel published (no backend answered; a worker records it)" if data["published"] else
            "cancelled" if data["status"] == "cancelled" else "cancel requested (running)")
    emit(state(ctx), data, lambda: typer.echo(f"{op_id}: {said}"))


def resume_cmd(ctx: typer.Context, op_id: str = OP_ID,
               follow_: bool = typer.Option(False, "--follow", "-f", help="Watch it until it ends.")) -> None:
    """Resume a failed or cancelled operation from its last checkpoint."""
    from ktrdr.cli.session import open_client

    async def body() -> Any:
        async with open_client(state(ctx).settings) as client:
            return await client.resume(op_id)

    data = run(body)
    if not (follow_ and state(ctx).as_json):  # with --follow, --json prints only the final record
        emit(state(ctx), data, lambda: typer.echo(f"{op_id}: {data['status']}"))
    if follow_:
        finish(ctx, follow_and_report(ctx, op_id, started_here=True))


def workers_cmd(ctx: typer.Context,
                show_all: bool = typer.Option(False, "--all", help="Also workers that stopped (the registry keeps "
                                              "them for KTRDR_WORKER_TTL_S, an hour by default).")) -> None:
    """Live workers (and unavailable ones) with status, current operation and heartbeat age."""
    from ktrdr.cli.render import workers_table
    from ktrdr.cli.session import open_client

    async def body() -> Any:
        async with open_client(state(ctx).settings) as client:
            return await client.workers()

    every = run(body)
    data = every if show_all else visible_workers(every)
    emit(state(ctx), data, lambda: workers_table(data, hidden=len(every) - len(data)))


def visible_workers(workers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The default view: workers that left cleanly (stopped) are history, shown only with --all."""
    return [w for w in workers if w["status"] != "stopped"]


def events_cmd(ctx: typer.Context,
               op_id: Optional[str] = typer.Option(None, "--op", help="Only this operation's events.",
                                                 callback=checks.op_id),
               count: int = typer.Option(0, "--count", min=0, help="Stop after this many events (0: forever).")
               ) -> None:
    """Tail operation events as they happen (an example event subscriber); Ctrl-C stops."""
    import sys

    from ktrdr.cli.render import event_line
    from ktrdr.cli.session import Interrupt, close_quietly, next_unless_interrupted, open_client

    def show(subject: str, event: Any) -> None:
        line = dumps(msgspec.to_builtins(event), None) if state(ctx).as_json else event_line(subject, event)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    async def body() -> bool:
        """True when Ctrl-C ended it: a signal handler of the loop's, so no await can swallow it."""
        seen = 0
        with Interrupt() as interrupt:
            async with open_client(state(ctx).settings) as client:
                ready = lambda subject: print(f"listening on {subject}", file=sys.stderr, flush=True)  # noqa: E731
                events = client.events(op_id, on_ready=ready)
                try:
                    while (item := await next_unless_interrupted(events, interrupt)) is not None:
                        show(*item)
                        seen += 1
                        if count and seen >= count:
                            return False
                except StopAsyncIteration:  # the subscription ended (the connection closed): done, as `async for` is
                    return False
                finally:
                    await close_quietly(events)
        return True

    if run(body):
        typer.echo("interrupted", err=True)
        raise typer.Exit(130)
