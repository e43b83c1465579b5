"""Bounded chaos: dummy operations while workers are SIGKILLed, the backend and nats-server restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.harness import UNEXPLAINED, ChaosConfig, run_chaos

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


@pytest.mark.timeout(150)
async def test_every_operation_ends_and_every_rerun_has_a_cause(tmp_path: Path) -> None:
    cfg = ChaosConfig(ops=40, kills=4, seed=12)
    report = await run_chaos(cfg, tmp_path)
    assert report.lost == 0, report
    assert report.completed + report.failed + report.cancelled == cfg.ops, report
    # dummy operations cannot fail on their own: a failure here is the chaos leaking into results
    assert report.failed == 0 and report.cancelled == 0, report.failures
    assert report.kills == cfg.kills and report.backend_restarts == 1 and report.server_restarts == 1
    # every extra attempt is matched to a kill, an exit or the server outage between its start and the next one's
    assert UNEXPLAINED not in report.rerun_causes, report
    # re-runs continue from their predecessor's checkpoint (one killed inside its first step has none yet)
    assert report.reruns >= 1 and report.resumed_from_checkpoint >= 1, report
    # both copies of an order redelivered by a restarted server may run to the end (the claim fences the record,
    # not the code); the record keeps the newer attempt. Each such double completion is one of the re-runs.
    assert report.double_completions <= report.reruns, report
