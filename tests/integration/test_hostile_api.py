"""Hostile requests on every API endpoint: each gets an error reply, the backend keeps serving, work in flight runs on."""

from __future__ import annotations


import msgspec
import pytest

from ktrdr.bus.handle import Bus
from ktrdr.client import KtrdrClient
from ktrdr.operations.kinds import api_endpoints
from tests.chaos.payloads import fuzz, hostile, is_valid, sample
from tests.helpers import wait_record

pytestmark = pytest.mark.slow
EXAMPLES = 40


class Replies:
    """What the backend answered to the hostile requests."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.invalid_accepted: list[tuple[str, bytes]] = []

    def count(self, code: str) -> None:
        self.codes[code] = self.codes.get(code, 0) + 1


async def probe(bus: Bus, subject: str, req_type: type, body: bytes, seen: Replies) -> None:
    """Send one body; an invalid one must get a 400 with a JSON {code, message} body."""
    try:
        reply = await bus.nc.request(subject, body, timeout=10)
    except Exception as exc:  # name the body that silenced the backend
        raise AssertionError(f"no reply on {subject} to {body[:120]!r}... ({len(body)} bytes): {exc!r}") from None
    code = (reply.headers or {}).get("Nats-Service-Error-Code")
    seen.count(code or "ok")
    if is_valid(body, req_type):
        return
    if code is None:
        seen.invalid_accepted.append((subject, body[:200]))
        return
    error = msgspec.json.decode(reply.data)
    assert code == "400" and error["code"] == 400 and error["message"], (subject, body[:200], error)


@pytest.mark.timeout(300)
async def test_every_endpoint_answers_hostile_requests_with_errors(bus: Bus, backends, workers) -> None:
    await backends.start()
    await workers.start(capacity=4)
    client = KtrdrClient(bus)
    inflight = (await client.start("dummy", {"steps": 30, "step_seconds": 0.1}))["operation_id"]
    await wait_record(bus, inflight, lambda r: r.status == "running")
    seen = Replies()
    for (area, verb), req_type in api_endpoints().items():
        subject = bus.names.api(area, verb)
        strategy = hostile(sample(req_type), [f.name for f in msgspec.structs.fields(req_type)])
        await fuzz(strategy, lambda body, s=subject, t=req_type: probe(bus, s, t, body, seen), EXAMPLES)
    assert not seen.invalid_accepted, seen.invalid_accepted[:5]
    assert "500" not in seen.codes, seen.codes
    record = await wait_record(bus, inflight, lambda r: r.terminal, timeout=60)
    assert record.status == "completed" and record.attempt == 1
    after = (await client.start("dummy", {"steps": 2, "step_seconds": 0.01}))["operation_id"]
    assert (await wait_record(bus, after, lambda r: r.terminal, timeout=60)).status == "completed"
    assert (await client.health())["backend_id"]
