"""Tables printed into a pipe (80 columns) keep operation ids whole, so they can be copied into the next command."""

from __future__ import annotations

import io

from rich.console import Console

from ktrdr.cli import render
from ktrdr.operations.record import new_operation_id


def test_piped_ops_table_keeps_ids_whole(monkeypatch) -> None:
    ids = [new_operation_id(t) for t in ("training", "backtest", "research")]
    ops = [{"id": i, "type": i.split("_")[1], "status": "failed", "percentage": 12.0, "current_step": "",
            "error": "could not read the series: " + "x" * 300, "worker_id": "training-worker-0123456789abcdef",
            "created_at": 1_700_000_000_000_000_000} for i in ids]
    out = io.StringIO()
    monkeypatch.setattr(render, "console", Console(file=out, width=80))
    render.ops_table({"total": 3, "active": 0, "operations": ops})
    text = out.getvalue()
    assert all(i in text for i in ids), text


def test_an_empty_class_is_explained(monkeypatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(render, "console", Console(file=out, width=120))
    result = {"test": {"accuracy": 0.55, "per_class": {"HOLD": {"precision": 0.0, "support": 0}}},
              "data": {"train_label_counts": {"BUY": 120, "HOLD": 0, "SELL": 98}}}
    render.result_tables("training", result)
    text = out.getvalue()
    assert "HOLD: 0 training labels" in text and "BUY: 0" not in text and "SELL: 0" not in text


def test_resume_is_suggested_only_where_it_can_help() -> None:
    import msgspec

    from ktrdr.cli.ops_cmd import resume_hint
    from ktrdr.operations.record import ErrorInfo, new_record

    r = new_record("data", "ib", {})
    bad_input = msgspec.structs.replace(r, status="failed", error=ErrorInfo(code="DataNotFoundError", message="m"))
    crashed = msgspec.structs.replace(r, status="failed", error=ErrorInfo(code="DummyFailure", message="m"))
    cancelled = msgspec.structs.replace(r, status="cancelled")
    assert "ktrdr resume" not in resume_hint(bad_input)
    assert "ktrdr resume" in resume_hint(crashed) and "ktrdr resume" in resume_hint(cancelled)


def test_rates_print_as_percents_whatever_unit_they_are_stored_in() -> None:
    metric_value = render.metric_value
    assert metric_value(0.4444, "fraction") == "44.44 %"  # win rate, stored as a fraction
    assert metric_value(-0.99, "%") == "-0.99 %"  # total_return_pct, stored as a percent
    assert metric_value(None, "fraction") == "—"
    assert metric_value(1234.5, "money") == "1,234.50"
