"""`ktrdr demo`: the README's main job on the embedded stack."""

from __future__ import annotations

import msgspec
import typer

from ktrdr.cli.common import emit, run, state


def demo(ctx: typer.Context) -> None:
    """Research an example strategy end to end: stack up, data, train, backtest, results, stack down."""
    from ktrdr.cli.render import result_tables
    from ktrdr.demo import run_demo

    st = state(ctx)
    record = run(lambda: run_demo(st.settings))
    emit(st, msgspec.to_builtins(record), lambda: result_tables("research", record.result))
