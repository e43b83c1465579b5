"""The README's main job (`ktrdr demo`, what `make demo` runs) from a clean KTRDR_HOME: it loads data, trains,
backtests the trained model and prints results whose figures agree with one another."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from ktrdr.backtesting import BacktestConfig
from ktrdr.bus.embedded import EmbeddedServer
from ktrdr.demo import BACKTEST_START, DEMO_END, DEMO_START

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def tables(out: str) -> dict[str, dict[str, str]]:
    """The printed result tables: title → metric → value as shown (the first two columns; a row whose first cell
    is empty continues the one above and is skipped)."""
    found: dict[str, dict[str, str]] = {}
    rows: dict[str, str] = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if "·" in line and not line.lstrip().startswith(("│", "┃")):
            rows = found.setdefault(line.strip(), {})
        elif line.lstrip().startswith("│") and len(cells) >= 2 and cells[0]:
            rows[cells[0]] = cells[1]
    return found


def num(shown: str) -> float:
    """A figure as printed: thousands separators and a unit suffix (' %', ' h') dropped."""
    return float(shown.replace(",", "").removesuffix(" %").removesuffix(" h"))


def test_demo_runs_research_end_to_end_and_prints_results(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")}
    env.update(KTRDR_HOME=str(tmp_path / "home"), COLUMNS="120")
    done = subprocess.run([sys.executable, "-m", "ktrdr", "demo"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    err = done.stderr
    assert "stack ready" in err and "data completed" in err and "research completed" in err, err[-2000:]
    assert "stopping what the demo started" in err
    shown = tables(done.stdout)
    assert {"training · test", "training · training", "training · data", "backtest · metrics"} <= set(shown), shown
    test, trained, data, bt = (shown[t] for t in ("training · test", "training · training", "training · data",
                                                  "backtest · metrics"))
    # the model was trained on the demo's data and evaluated on its held-out part
    assert data["start"].startswith(DEMO_START) and data["end"] < DEMO_END
    assert sum(num(data[f"samples.{s}"]) for s in ("train", "validation", "test")) <= num(data["rows.1h"])
    assert num(test["samples"]) == num(data["samples.test"]) > 0
    supports = {c: num(test[f"per_class.{c}.support"]) for c in ("BUY", "HOLD", "SELL")}
    assert sum(supports.values()) == num(test["samples"])
    assert num(test["baseline_accuracy"]) == pytest.approx(max(supports.values()) / num(test["samples"]), abs=1e-4)
    assert 0 < num(test["accuracy"]) <= 1 and 1 <= num(trained["best_epoch"]) <= num(trained["epochs_run"])
    # the backtest traded over its window and its figures add up
    hours = (date.fromisoformat(DEMO_END) - date.fromisoformat(BACKTEST_START)).days * 24
    assert 0 < num(bt["bars"]) <= hours
    capital = BacktestConfig().initial_capital
    assert num(bt["final_equity"]) - num(bt["total_return"]) == pytest.approx(capital, abs=0.02)
    assert num(bt["total_return_pct"]) == pytest.approx(100 * num(bt["total_return"]) / capital, abs=0.01)
    trades, winners, losers = num(bt["trades"]), num(bt["winning_trades"]), num(bt["losing_trades"])
    assert trades > 0 and winners + losers <= trades
    assert num(bt["win_rate"]) == pytest.approx(100 * winners / trades, abs=0.01)  # rates print as percents
    gross = num(bt["avg_win"]) * winners / (-num(bt["avg_loss"]) * losers) if losers else None
    assert gross is None or num(bt["profit_factor"]) == pytest.approx(gross, rel=1e-2)
    assert EmbeddedServer(tmp_path / "home").running() is None, "the demo left its nats-server running"
