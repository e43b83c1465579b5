"""The backend API on a real server: start/list/get/cancel/resume, errors, warnings, metrics, health."""

from __future__ import annotations

import asyncio
import json

import pytest

from ktrdr.bus.handle import Bus
from ktrdr.client import ApiError, KtrdrClient
from ktrdr.protocol.codec import encode
from ktrdr.protocol.messages import OperationMetric
from tests.helpers import wait_all_terminal, wait_record
from tests.integration.conftest import BackendPool, WorkerPool


async def test_fifty_operations_through_two_backends_survive_losing_one(
        bus: Bus, client: KtrdrClient, backends: BackendPool, workers: WorkerPool) -> None:
    first = await backends.start()
    await backends.start()
    await workers.start(capacity=2)
    await workers.start(capacity=2)
    replies = [await client.start("dummy", {"steps": 3, "step_seconds": 0.02}) for _ in range(25)]
    await backends.kill(first)
    replies += [await client.start("dummy", {"steps": 3, "step_seconds": 0.02}) for _ in range(25)]
    records = await wait_all_terminal(bus, [r["operation_id"] for r in replies])
    assert [r.status for r in records.values()].count("completed") == 50
    listed = await client.list(type=["dummy"], limit=1000)
    assert listed["total"] == 50 and listed["active"] == 0


async def test_backend_started_later_settles_records_from_the_events(
        bus: Bus, client: KtrdrClient, backends: BackendPool, workers: WorkerPool) -> None:
    from ktrdr.operations.submit import submit

    ops = [await submit(bus, "dummy", "cpu", {"steps": 5, "step_seconds": 0.02}) for _ in range(5)]
    await workers.start(capacity=5)
    done = await wait_all_terminal(bus, [o.id for o in ops])
    assert {r.status for r in done.values()} == {"completed"}
    await backends.start()  # catches up on the durable events it missed
    listed = await client.list(status=["completed"])
    assert listed["total"] == 5
    assert all(o["percentage"] == 100.0 for o in listed["operations"])


async def test_no_worker_gives_a_warning_with_a_hint(client: KtrdrClient, backends: BackendPool) -> None:
    await backends.start()
    reply = await client.start("dummy", {"steps": 1})
    assert reply["status"] == "pending"
    assert "no live dummy worker" in reply["warnings"][0] and "ktrdr worker dummy" in reply["warnings"][0]


@pytest.mark.parametrize(("area", "verb", "body", "code", "field"), [
    ("dummy", "start", b"{not json", 400, None),
    ("dummy", "start", b'{"steps": "many"}', 400, "steps"),
    ("dummy", "start", b'{"steps": -1}', 400, "steps"),
    ("operations", "get", b'{"operation_id": "op_nope"}', 404, "operation_id"),
    ("operations", "list", b'{"limit": 5000}', 400, "limit"),
    ("training", "start", json.dumps({"strategy_yaml": "name: x\nversion: '3.0'\nindicatorz: {}"}).encode(),
     400, None),
    ("data", "load", b'{"symbol": "EURUSD", "timeframe": "7m"}', 400, "timeframe"),
])
async def test_bad_requests_get_clear_errors_and_the_service_lives_on(
        bus: Bus, backends: BackendPool, area: str, verb: str, body: bytes, code: int, field: str | None) -> None:
    await backends.start()
    msg = await bus.nc.request(bus.names.api(area, verb), body, timeout=5)
    assert msg.headers["Nats-Service-Error-Code"] == str(code)
    err = json.loads(msg.data)
    assert err["code"] == code and err["message"]
    if field:
        assert err["field"] == field
    health = await bus.nc.request(bus.names.api("system", "health"), b"", timeout=5)
    assert "backend_id" in json.loads(health.data)


async def test_invalid_strategy_names_the_yaml_path(client: KtrdrClient, backends: BackendPool) -> None:
    await backends.start()
    with pytest.raises(ApiError) as err:
        await client.request("strategies", "validate", {"strategy_yaml": "name: x\nversion: '3.0'\nindicatorz: {}"})
    assert err.value.code == 400 and err.value.field == "strategy_yaml.indicatorz"
    assert "line 3, column 1" in err.value.message
    from tests.unit.test_strategy_typos import FULL

    noted = FULL.replace("  epochs: 20\n", "  epochs: 20\n  validation_split: 0.2\n")
    reply = await client.request("strategies", "validate", {"strategy_yaml": noted})
    assert reply["valid"] and any("training.validation_split" in w for w in reply["warnings"])
    started = await client.start("training", {"strategy_yaml": noted})
    assert any("training.validation_split" in w for w in started["warnings"])


async def test_five_concurrent_resumes_exactly_one_wins(client: KtrdrClient, backends: BackendPool) -> None:
    await backends.start()
    await backends.start()
    op_id = (await client.start("dummy", {"steps": 1}))["operation_id"]
    await client.cancel(op_id, reason="to resume it")
    results = await asyncio.gather(*(client.resume(op_id) for _ in range(5)), return_exceptions=True)
    wins = [r for r in results if isinstance(r, dict)]
    losses = [r for r in results if isinstance(r, ApiError)]
    assert len(wins) == 1 and len(losses) == 4 and {e.code for e in losses} == {409}


async def test_cancel_running_through_the_api_and_resume_from_the_checkpoint(
        bus: Bus, client: KtrdrClient, backends: BackendPool, workers: WorkerPool) -> None:
    await backends.start()
    await workers.start()
    op_id = (await client.start("dummy", {"steps": 30, "step_seconds": 0.05}))["operation_id"]
    await wait_record(bus, op_id, lambda r: r.progress.steps_completed >= 3)
    await client.cancel(op_id, reason="pause")
    cancelled = await wait_record(bus, op_id, lambda r: r.terminal)
    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "pause"
    await client.resume(op_id)
    done = await wait_record(bus, op_id, lambda r: r.terminal and r.status != "cancelled")
    assert done.status == "completed" and done.result["resumed_from"] >= 3


async def test_metrics_are_read_with_a_cursor(bus: Bus, client: KtrdrClient, backends: BackendPool) -> None:
    await backends.start()
    op_id = "op_dummy_20260101_000000_deadbeef"
    for epoch in range(5):
        await bus.js.publish(bus.names.event(op_id, "metric"),
                             encode(OperationMetric(operation_id=op_id, values={"epoch": epoch})))
    page = await client.metrics(op_id, limit=3)
    assert [m["values"]["epoch"] for m in page["metrics"]] == [0, 1, 2]
    rest = await client.metrics(op_id, cursor=page["next_cursor"])
    assert [m["values"]["epoch"] for m in rest["metrics"]] == [3, 4]


async def test_no_backend_is_a_clear_error(client: KtrdrClient) -> None:
    from ktrdr.client import NoBackend

    with pytest.raises(NoBackend, match="ktrdr backend"):
        await client.health()


async def test_a_repeated_start_with_the_same_id_runs_once(
        bus: Bus, client: KtrdrClient, backends: BackendPool, workers: WorkerPool) -> None:
    await backends.start()
    worker = await workers.start()
    op_id = "op_dummy_20260101_000000_0badcafe"
    first = await client.start("dummy", {"steps": 2, "step_seconds": 0.01, "operation_id": op_id})
    again = await client.start("dummy", {"steps": 2, "step_seconds": 0.01, "operation_id": op_id})
    assert first["operation_id"] == again["operation_id"] == op_id
    record = await wait_record(bus, op_id, lambda r: r.terminal)
    assert record.status == "completed" and record.attempt == 1 and worker.counters["fetched"] == 1
