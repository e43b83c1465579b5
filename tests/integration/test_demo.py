"""The README's main job (`ktrdr demo`, what `make demo` runs) from a clean KTRDR_HOME: it completes and prints results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ktrdr.bus.embedded import EmbeddedServer

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_research_end_to_end_and_prints_results(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")}
    env.update(KTRDR_HOME=str(tmp_path / "home"), COLUMNS="120")
    done = subprocess.run([sys.executable, "-m", "ktrdr", "demo"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    out, err = done.stdout, done.stderr
    assert "research completed" in err and "stack ready" in err and "stopping what the demo started" in err
    for table in ("training · test", "backtest · metrics"):
        assert table in out, out[-2000:]
    assert "accuracy" in out and "total_return" in out and "sharpe" in out
    assert EmbeddedServer(tmp_path / "home").running() is None, "the demo left its nats-server running"
