"""The README's `nats` CLI lines, sent as the same plain JSON over a raw nats-py connection."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from ktrdr.bus.handle import Bus
from tests.helpers import eventually, wait_record
from tests.integration.conftest import BackendPool, WorkerPool

README = Path(__file__).resolve().parents[2] / "README.md"


def nats_lines() -> list[list[str]]:
    """The command lines of the README's plain-nats block."""
    text = README.read_text()
    block = re.search(r"### From the plain `nats` CLI.*?```bash\n(.*?)```", text, re.S)
    assert block, "the README lost its nats CLI section"
    return [shlex.split(line) for line in block.group(1).splitlines() if line.startswith("nats ")]


class Runner:
    """Translates `nats req|pub|sub|kv get|micro` into nats-py calls in the test's namespace."""

    def __init__(self, bus: Bus) -> None:
        self.bus, self.op_id = bus, ""
        self.seen: dict[str, list[bytes]] = {}

    def local(self, text: str) -> str:
        """Default-namespace names → this test's namespace, OP_ID → the started operation."""
        ns = self.bus.names.ns
        text = text.replace("OP_ID", self.op_id)
        return re.sub(r"^ktrdr([._-])", lambda m: ns + m.group(1), text)

    async def run(self, argv: list[str]) -> None:
        """Execute one README line."""
        match argv[1:]:
            case ["req", subject, body]:
                msg = await self.bus.nc.request(self.local(subject), self.local(body).encode(), timeout=10)
                assert "Nats-Service-Error-Code" not in (msg.headers or {}), msg.data
                reply = json.loads(msg.data)
                self.op_id = reply.get("operation_id", self.op_id) if subject.endswith("dummy.start") else self.op_id
            case ["pub", subject, body]:
                await self.bus.nc.publish(self.local(subject), self.local(body).encode())
            case ["sub", subject]:
                box = self.seen.setdefault(subject, [])

                async def on_msg(msg, box=box) -> None:
                    box.append(msg.data)
                await self.bus.nc.subscribe(self.local(subject), cb=on_msg)
            case ["kv", "get", bucket, key]:
                kv = await self.bus.js.key_value(self.local(bucket))
                assert json.loads((await kv.get(self.local(key))).value)["id"] == self.op_id
            case ["micro", "ls"]:
                reply = await self.bus.nc.request("$SRV.PING", b"", timeout=5)
                assert json.loads(reply.data)["name"].endswith("-backend")
            case ["micro", "info", name]:
                info = json.loads((await self.bus.nc.request(f"$SRV.INFO.{self.local(name)}", b"", timeout=5)).data)
                assert any(e["subject"].endswith("operations.list") for e in info["endpoints"])
            case _:
                raise AssertionError(f"the README shows a nats command this test cannot check: {argv}")


async def test_every_readme_nats_line_works(bus: Bus, backends: BackendPool, workers: WorkerPool) -> None:
    await backends.start()
    await workers.start()
    runner = Runner(bus)
    lines = nats_lines()
    assert len(lines) >= 8
    for argv in lines:
        await runner.run(argv)
    record = await wait_record(bus, runner.op_id, lambda r: r.terminal)
    assert record.status == "cancelled" and record.cancel_reason == "from the nats CLI"
    await bus.nc.flush()
    await eventually(lambda: all(runner.seen.values()), what=f"a message on each subscribed subject: {runner.seen}")
    events = [json.loads(m) for m in runner.seen["ktrdr.ops.OP_ID.>"]]
    assert any(e["event"] == "cancelled" for e in events)
