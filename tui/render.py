"""Cell renderers: coloured statuses, progress bars, ages and durations as rich Text."""

from __future__ import annotations

import time

from rich.text import Text

from ktrdr.protocol.workers import WorkerRecord
from ktrdr.operations.record import OperationRecord

from .model import eta_s

STATUS_STYLE = {
    "pending": "bold yellow", "running": "bold cyan", "resuming": "bold magenta", "completed": "bold green",
    "failed": "bold red", "cancelled": "bold bright_black", "available": "bold green", "busy": "bold cyan",
    "unavailable": "bold red", "stuck": "bold yellow", "stopped": "bright_black",
}
STATUS_ICON = {
    "pending": "◌", "running": "▶", "resuming": "↻", "completed": "✔", "failed": "✖", "cancelled": "■",
    "available": "●", "busy": "◉", "unavailable": "○", "stuck": "◍", "stopped": "·",
}
BAR_WIDTH = 16
STEP_WIDTH = 48  # a long failure message must not push worker, elapsed and ETA off screen


def status(value: str) -> Text:
    """`● available` in the status's colour."""
    return Text(f"{STATUS_ICON.get(value, '?')} {value}", style=STATUS_STYLE.get(value, ""))


def duration(seconds: float | None) -> str:
    """`42s`, `3m05s`, `2h10m`; an em dash when unknown."""
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def bar(percentage: float, state: str, width: int = BAR_WIDTH) -> Text:
    """A block progress bar with eighths, then the percentage."""
    pct = max(0.0, min(100.0, percentage))
    eighths = round(pct / 100 * width * 8)
    full, part = divmod(eighths, 8)
    body = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    style = {"completed": "green", "failed": "red", "cancelled": "bright_black"}.get(state, "cyan")
    text = Text(body.ljust(width), style=f"{style} on grey19")
    text.append(f" {pct:5.1f}%", style="bold" if state == "running" else "")
    return text


def short_id(op_id: str) -> str:
    """`op_training_20250101_120000_ab12cd34` → `training…ab12cd34` (the random tail is what differs)."""
    parts = op_id.split("_")
    return f"{parts[1]}…{parts[-1]}" if len(parts) >= 4 and parts[0] == "op" else op_id


def clip(text: str, width: int = STEP_WIDTH) -> str:
    """`text` cut to `width` characters with an ellipsis (the detail view shows it in full)."""
    return text if len(text) <= width else text[:width - 1] + "…"


def operation_cells(r: OperationRecord, now_ns: int | None = None) -> tuple[Text | str, ...]:
    """One operations-table row: id, type, status, progress, step, worker, elapsed, ETA."""
    now = now_ns or time.time_ns()
    step = r.progress.current_step or (r.error.message if r.error else r.cancel_reason)
    kind = f"{r.type} ({len(r.children)}▾)" if r.type == "sweep" else r.type  # its children fold under it
    return (Text(short_id(r.id), style="bold"), kind, status(r.status), bar(r.progress.percentage, r.status),
            Text(clip(" ".join(step.split())), no_wrap=True), r.worker_id or "—", duration(r.elapsed_s(now)),
            duration(eta_s(r, now)))


def worker_cells(w: WorkerRecord, now_ns: int | None = None) -> tuple[Text | str, ...]:
    """One workers-table row: id, kind, pool, status, current operation, heartbeat age, counters."""
    age = w.age_s(now_ns)
    pool = f"{w.pool} ({w.gpu.name})" if w.gpu else w.pool
    age_style = "red" if age > 3 * w.interval_s else ("yellow" if age > 1.5 * w.interval_s else "green")
    c = w.counters
    counters = Text.assemble((f"{c.fetched}", "bold"), " got  ", (f"{c.acked}", "green"), " ok  ",
                             (f"{c.failed}", "red" if c.failed else ""), " ✖  ",
                             (f"{c.cancelled}", "bright_black"), " ■")
    running = ", ".join(short_id(op) for op in w.running) or "—"
    return (Text(w.worker_id, style="bold"), w.kind, pool, status(w.status), running,
            Text(f"{age:4.1f}s", style=age_style), counters)


def sweep_text(r: OperationRecord, children: dict[str, OperationRecord]) -> Text:
    """A sweep's detail: its ranking once settled, else each variant's child with status and progress."""
    ranking = (r.result or {}).get("ranking")
    if ranking is not None:
        better = "lower" if r.result.get("better") == "min" else "higher"
        text = Text(f"ranking by {r.result['metric']} ({better} is better)\n", style="bold")
        for row in ranking:
            value = "—" if row["value"] is None else f"{row['value']:.4g}"
            overrides = "  ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in row["overrides"].items())
            text.append(f"{row['rank'] or '—':>3}  {value:>10}  ", style="bold").append(f"{overrides}  ")
            text.append_text(status(row["status"])).append(f"  {short_id(row['child_id'])}\n", style="bright_black")
        return text
    variants = r.parameters.get("variants", [])
    text = Text(f"variants ({len(r.children)} of {len(variants)} started)\n", style="bold")
    for child_id in r.children:
        child = children.get(child_id)
        if child is not None:
            text.append(f"{short_id(child_id)}  ").append_text(bar(child.progress.percentage, child.status, 10))
            text.append("  ").append_text(status(child.status)).append("\n")
    return text
