"""Rich rendering of records, lists, workers and results (the --json forms print the same data raw)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
STATUS_STYLE = {"completed": "green", "failed": "red", "cancelled": "yellow", "running": "cyan",
                "pending": "white", "resuming": "magenta", "available": "green", "busy": "cyan",
                "unavailable": "red", "stuck": "yellow", "stopped": "dim"}


def when(ns: int) -> str:
    """A nanosecond timestamp as local-free ISO UTC (or '-')."""
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if ns else "-"


def status(text: str) -> str:
    """A status word in its colour."""
    return f"[{STATUS_STYLE.get(text, 'white')}]{text}[/]"


def fmt(value: Any) -> str:
    """Numbers rounded for people."""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


# How a value of each metric unit is printed (None prints as a dash: the metric is undefined for the run).
# People read every rate as a percent: a fraction (JSON keeps it as stored) is shown ×100 beside the % ones.
_UNIT_FORMAT = {"money": "{:,.2f}", "%": "{:,.2f} %", "ratio": "{:,.3f}", "count": "{:,}",
                "bars": "{:,.1f}", "hours": "{:,.1f} h"}


def metric_value(value: Any, unit: str) -> str:
    """A metric's value for people, formatted for its unit (fractions as percents)."""
    if value is None:
        return "—"
    if not isinstance(value, (int, float)):
        return str(value)
    if unit == "fraction":
        value, unit = 100 * value, "%"
    return _UNIT_FORMAT.get(unit, "{}").format(value)


def metrics_table(metrics: dict[str, Any], title: str) -> Table:
    """Backtest metrics grouped by unit, one section per unit: name, value, unit and meaning."""
    from ktrdr.backtesting.metric_table import by_unit

    table = Table(title=title)
    for name, justify in (("metric", "left"), ("value", "right"), ("unit", "left"), ("meaning", "left")):
        table.add_column(name, justify=justify, style="bold" if name == "metric" else None)
    for unit, rows in by_unit(metrics):
        for spec, value in rows:
            table.add_row(spec.name, metric_value(value, unit), "%" if unit == "fraction" else unit, spec.label)
        table.add_section()
    return table


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Print a titled table of rows (every cell shown with str())."""
    view = Table(title=title)
    for col in columns:
        view.add_column(col)
    for row in rows:
        view.add_row(*[str(v) for v in row])
    console.print(view)


def ops_table(data: dict[str, Any]) -> None:
    """The `ktrdr ops` list."""
    table = Table(title=f"operations ({data['total']} matching, {data['active']} active)")
    # Ids stay whole however narrow the output (a pipe is 80 columns): they are what people copy.
    longest = max((len(op["id"]) for op in data["operations"]), default=2)
    table.add_column("id", no_wrap=True, min_width=longest)
    for col in ("type", "status", "progress", "step", "worker", "created"):
        table.add_column(col, overflow="ellipsis" if col == "step" else "fold")
    for op in data["operations"]:
        table.add_row(op["id"], op["type"], status(op["status"]), f"{op['percentage']:.0f}%",
                      op["current_step"] or (op["error"] or "")[:40], op["worker_id"], when(op["created_at"]))
    console.print(table)


def record_view(record: Any) -> None:
    """`ktrdr ops show`: one operation in full."""
    table = Table(show_header=False, title=record.id)
    table.add_column(style="bold")
    table.add_column()
    rows = [("type", record.type), ("status", status(record.status)), ("pool", record.pool),
            ("worker", record.worker_id), ("attempt", record.attempt),
            ("progress", f"{record.progress.percentage:.1f}% {record.progress.current_step}"),
            ("created", when(record.created_at)), ("started", when(record.started_at)),
            ("finished", when(record.finished_at)), ("elapsed", f"{record.elapsed_s():.1f}s")]
    if record.parent_id:
        rows.append(("parent", record.parent_id))
    if record.children:
        rows.append(("children", ", ".join(record.children)))
    if record.cancel_requested:
        rows.append(("cancel", record.cancel_reason))
    if record.error:
        rows.append(("error", f"[red]{record.error.code}: {record.error.message}[/]"))
    for k, v in record.artifacts.items():
        rows.append((f"artifact {k}", v))
    for key, value in rows:
        table.add_row(key, str(value))
    console.print(table)
    if record.result:
        result_tables(record.type, record.result)


def _flat(result: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in result.items():
        if isinstance(value, dict) and len(value) <= 40:
            out.extend(_flat(value, f"{prefix}{key}."))
        elif not isinstance(value, (list, dict)):
            out.append((f"{prefix}{key}", value))
    return out


def result_tables(op_type: str, result: dict[str, Any]) -> None:
    """Training, backtest and research results as tables (nested dicts flattened, long lists left out)."""
    if op_type == "sweep" and result.get("ranking") is not None:
        from ktrdr.cli.sweep_cmd import ranking_table

        console.print(ranking_table(result))
        return
    sections = {"research": ("training", "backtest"), "pipeline": tuple(result)}.get(op_type)
    if sections:
        for name in sections:
            if isinstance(result.get(name), dict):
                result_tables(name, result[name])
        return
    focus = {"training": ("test", "training", "model", "data"), "backtest": ("metrics",)}.get(op_type)
    parts = [(k, result[k]) for k in focus if isinstance(result.get(k), dict)] if focus else [("result", result)]
    for title, part in parts:
        if op_type == "backtest" and title == "metrics":
            console.print(metrics_table(part, f"{op_type} · {title}"))
            continue
        table = Table(title=f"{op_type} · {title}")
        table.add_column("metric", style="bold")
        table.add_column("value", justify="right")
        for key, value in _flat(part):
            table.add_row(key, fmt(value))
        console.print(table)
    for note in empty_class_notes(result) if op_type == "training" else []:
        console.print(f"[yellow]note:[/] {note}")


def empty_class_notes(result: dict[str, Any]) -> list[str]:
    """Why a class reads 0 everywhere: the labeler gave it no training labels, so the model cannot predict it."""
    counts = (result.get("data") or {}).get("train_label_counts") or {}
    return [f"{name}: 0 training labels — the labels gave this class no example on this data, so the model never "
            "predicts it and its precision, recall and F1 are 0 by definition" for name, n in counts.items() if not n]


def services(notes: dict[str, str]) -> str:
    """`ib connected`, `ib disconnected (retrying; synthetic and csv loads still run)`…"""
    said = {"disconnected": "disconnected (retrying; synthetic and csv loads still run)"}
    return ", ".join(f"{name} {said.get(state, state)}" for name, state in notes.items())


def workers_table(workers: list[dict[str, Any]], hidden: int = 0) -> None:
    """`ktrdr workers`; `hidden` stopped ones are counted in the title."""
    live = sum(1 for w in workers if w["status"] in ("available", "busy"))
    more = f", {hidden} stopped not shown: --all" if hidden else ""
    table = Table(title=f"workers ({live} live{more})")
    for col in ("id", "kind", "pool", "status", "running", "gpu", "host", "last beat", "fetched", "acked", "failed",
                "services"):
        table.add_column(col, no_wrap=col == "id", overflow="fold")
    for w in workers:
        gpu = (w.get("gpu") or {}).get("name", "")
        c = w.get("counters", {})
        table.add_row(w["worker_id"], w["kind"], w["pool"], status(w["status"]), ", ".join(w["running"]), gpu,
                      w["host"], f"{w['age_s']:.1f}s ago", str(c.get("fetched", 0)), str(c.get("acked", 0)),
                      str(c.get("failed", 0)), services(w.get("notes") or {}))
    console.print(table)


def event_line(subject: str, event: Any) -> str:
    """One line per event for `ktrdr events`."""
    kind = subject.rsplit(".", 1)[-1]
    stamp = time.strftime("%H:%M:%S", time.gmtime(event.ts / 1e9)) if event.ts else "--:--:--"
    detail = {"progress": lambda e: f"{e.percentage:5.1f}% {e.current_step}",
              "metric": lambda e: f"{e.name} {e.values}", "log": lambda e: f"[{e.level}] {e.message}",
              "failed": lambda e: f"{e.error.code}: {e.error.message}",
              "cancelled": lambda e: e.reason, "completed": lambda e: f"artifacts {e.artifacts}"}
    text = detail.get(kind, lambda e: "")(event)
    return f"{stamp} {event.operation_id} #{event.attempt} {kind:<9} {text}"
