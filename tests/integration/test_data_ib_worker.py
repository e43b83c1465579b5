"""An IB data load end to end through a real `ktrdr worker data` process: pacing waits, a disconnect mid-load
and the retry. IB itself is replaced by tests/integration/fake_ib.ScriptedIB, installed as `ib_insync.IB` in
that process — the one accepted stand-in (at the ib_insync boundary); everything of ours runs for real."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import msgspec
import pandas as pd

from ktrdr.bus.handle import Bus
from ktrdr.bus.objects import ObjectFrameStore, object_stores
from ktrdr.config import Settings
from ktrdr.data import DataRepository
from ktrdr.operations.submit import submit
from tests.helpers import spawn_ktrdr, wait_record
from tests.integration.fake_ib import daily_bars

ROOT = Path(__file__).resolve().parents[2]
# IB's limits scaled down so that the waits are real but short; the identical-request rule still applies
PACING = {"min_interval_s": 0.3, "backoff_initial_s": 1.0, "identical_interval_s": 0.5}
START, END = dt.date(2021, 1, 1), dt.date(2024, 1, 1)  # three one-year segments of daily bars
# The fake stamps a request when it reaches the IB loop thread, a little after the limiter let it go; that hop
# can vary by tens of ms on a loaded machine. Unpaced requests would be ~1 ms apart, so the margin proves nothing away.
EPS = 0.1


def historical_gaps(calls: list[dict]) -> list[float]:
    """Seconds between consecutive paced requests (head timestamp and historical bars)."""
    paced = [c["t"] for c in calls if c["call"] in ("head", "historical")]
    return [b - a for a, b in zip(paced, paced[1:])]


async def test_ib_load_paces_survives_a_disconnect_and_completes_on_retry(
        aggregator: object, bus: Bus, settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "ib-calls.jsonl"
    script = {"log": str(log), "pacing_at": 2, "disconnect_at": 4}
    quick = msgspec.structs.replace(settings, max_deliver=5)  # room for a retry that finds IB still reconnecting
    proc = spawn_ktrdr(quick, tmp_path, "worker", "data", "--worker-id", "ib1", "--retry-delay", "1.5",
                       "--ib-pacing", json.dumps(PACING),
                       python=("-c", "from tests.integration.fake_ib import main; main()"),
                       env={"FAKE_IB_SCRIPT": json.dumps(script), "PYTHONPATH": str(ROOT)})
    try:
        op = await submit(bus, "data", "ib", {"symbol": "AAPL", "timeframe": "1d", "source": "ib", "mode": "full",
                                              "start": START.isoformat(), "end": END.isoformat()})
        record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=60)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 20)
    stderr = proc.stderr.read().decode()[-3000:] if proc.stderr else ""
    assert record.status == "completed", (record.error, stderr)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    outcomes = [c["outcome"] for c in calls if c["call"] == "historical"]
    assert outcomes[:4] == ["ok", "pacing", "ok", "disconnect"] and outcomes[4:] == ["ok"] * 3, outcomes
    assert [c["call"] for c in calls].count("connect") == 2, "the session reconnects after the drop"
    assert record.attempt >= 2 and record.worker_id == "ib1"  # the disconnect failed attempt 1 as retryable

    gaps = historical_gaps(calls)
    assert min(gaps) >= PACING["min_interval_s"] - EPS, gaps
    violated = [i for i, c in enumerate(c for c in calls if c["call"] in ("head", "historical"))
                if c.get("outcome") == "pacing"]
    assert gaps[violated[0]] >= PACING["backoff_initial_s"] - EPS, "no back-off after the pacing violation"

    stores = await object_stores(bus.js, bus.names)
    repo = DataRepository(ObjectFrameStore(stores.data, asyncio.get_running_loop()))
    stored = await asyncio.to_thread(repo.load, "AAPL", "1d")
    expected = daily_bars(START, END)
    assert list(stored.index) == [pd.Timestamp(b.date, tz="UTC") for b in expected]
    assert stored["close"].tolist() == [b.close for b in expected]
    assert record.result["fetched_rows"] == len(expected) and record.result["segments_done"] == 3


def test_bad_pacing_rules_are_refused_naming_the_field() -> None:
    from typer.testing import CliRunner

    from ktrdr.cli.main import app

    result = CliRunner().invoke(app, ["worker", "data", "--ib-pacing", '{"min_interval": 1}'])
    assert result.exit_code == 1 and "unknown field `min_interval`" in result.output
    assert "min_interval_s" in result.output and "Traceback" not in result.output
