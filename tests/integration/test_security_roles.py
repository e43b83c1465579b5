"""nats/secure.conf for real: each role's refusals are quick, logged errors; each role's own work goes through.

Passwords are letters and digits starting with a letter: nats-server parses a `$VARIABLE`'s value as config,
so a value starting with '-' or a digit is read as a number and the server refuses to start (secure.conf says so).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.js.api import StreamConfig

from ktrdr.bus.connection import connect, flush
from ktrdr.bus.embedded import start_server
from ktrdr.bus.handle import Bus
from ktrdr.bus.topology import ensure_topology
from ktrdr.config import Settings
from ktrdr.backend.service import Backend
from ktrdr.client import KtrdrClient
from ktrdr.operations.submit import submit
from ktrdr.protocol.messages import GpuInfo
from ktrdr.protocol.subjects import Names
from ktrdr.workers.backtest import run_backtest_op
from ktrdr.workers.data import run_data_load
from ktrdr.workers.dummy import run_dummy
from ktrdr.workers.runtime import Worker
from ktrdr.workers.training import run_training_op
from tests.helpers import wait_record
from tests.integration.test_training_worker import example_yaml
from tests.integration.test_security_tls import make_self_signed

ROOT = Path(__file__).resolve().parents[2]
N = Names()  # secure.conf names the default namespace's subjects
USERS = ("admin", "backend", "client", "worker-training-gpu", "worker-training-cpu", "worker-backtest-cpu",
         "worker-data-ib", "worker-dummy-cpu", "sys")
REFUSED = (nats.errors.TimeoutError, nats.errors.NoRespondersError, asyncio.TimeoutError)


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Path]]:
    """A server running a copy of nats/secure.conf; yields (url, password per user, CA file)."""
    root = tmp_path_factory.mktemp("secure")
    cert, key = make_self_signed(root)
    conf = root / "secure.conf"
    # The copy drops store_dir (start_server() passes -sd, and the server refuses both) and the fixed
    # monitoring port and listen address (another server may hold them; start_server() picks a free port).
    text = (ROOT / "nats" / "secure.conf").read_text()
    conf.write_text("\n".join(ln for ln in text.splitlines()
                               if not ln.strip().startswith(("store_dir", "http:", "listen:"))))
    passwords = {u: password() for u in USERS}
    env = {f"KTRDR_PASSWORD_{u.upper().replace('-', '_')}": pw for u, pw in passwords.items()}
    env |= {"KTRDR_TLS_SERVER_CERT": str(cert), "KTRDR_TLS_SERVER_KEY": str(key)}
    with pytest.MonkeyPatch.context() as mp:  # the server reads its $VARIABLES from its environment
        for k, v in env.items():
            mp.setenv(k, v)
        proc, url = start_server(root / "js", root / "server.log", port=-1, extra_args=["-c", str(conf)])
    yield url, passwords, cert
    proc.terminate()
    proc.wait(timeout=10)


def password() -> str:
    """A random password nats-server reads as a string from its environment (see the module docstring)."""
    return "p" + secrets.token_hex(12)


def role(secure: tuple[str, dict[str, str], Path], user: str) -> Settings:
    """Settings that log in as `user` over TLS."""
    url, passwords, ca = secure
    return Settings(nats_url=url, user=user, password=passwords[user], tls_ca=str(ca), ack_wait_s=5.0,
                    heartbeat_s=0.5, max_deliver=3)


@pytest_asyncio.fixture(scope="module")
async def admin(secure: tuple[str, dict[str, str], Path]) -> AsyncIterator[Client]:
    """The admin connection, after it created the topology (only admin may)."""
    nc = await connect(role(secure, "admin"), name="admin")
    await ensure_topology(nc.jetstream(), N, role(secure, "admin"))
    yield nc
    await nc.close()


@pytest_asyncio.fixture
async def as_user(secure: tuple[str, dict[str, str], Path], admin: Client) -> AsyncIterator:
    """Factory: a connection logged in as a user, closed after the test."""
    opened: list[Client] = []

    async def open_(user: str) -> Client:
        opened.append(await connect(role(secure, user), name=user))
        return opened[-1]

    yield open_
    for nc in opened:
        await nc.close()


def denied(caplog: pytest.LogCaptureFixture, subject: str) -> bool:
    """True when our connection logged a permission refusal naming `subject` (nats-py lower-cases it)."""
    return any(r.levelno == logging.WARNING and "permission denied" in r.getMessage()
               and f'"{subject.lower()}"' in r.getMessage().lower() for r in caplog.records)


async def test_wrong_password_is_a_clear_bus_error(secure: tuple[str, dict[str, str], Path]) -> None:
    from ktrdr.errors import BusError

    with pytest.raises(BusError) as info:
        await connect(Settings(nats_url=secure[0], user="client", password="nope", tls_ca=str(secure[2])))
    assert "KTRDR_USER" in (info.value.hint or "")


async def test_worker_cannot_call_the_api_but_a_client_can(as_user, caplog: pytest.LogCaptureFixture) -> None:
    backend, client, worker = await as_user("backend"), await as_user("client"), await as_user("worker-backtest-cpu")

    async def reply(msg) -> None:
        await msg.respond(b"pong")

    await backend.subscribe(N.api("ops", "list"), queue="api", cb=reply)
    await flush(backend)
    assert (await client.request(N.api("ops", "list"), b"", timeout=2)).data == b"pong"
    with pytest.raises(REFUSED):
        await worker.request(N.api("ops", "list"), b"", timeout=1)
    assert denied(caplog, N.api("ops", "list"))


async def test_worker_and_backend_cannot_delete_or_create_streams(as_user, admin: Client,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    worker, backend = await as_user("worker-training-gpu"), await as_user("backend")
    with pytest.raises(REFUSED):
        await worker.jetstream(timeout=1).delete_stream(N.work_stream)
    assert denied(caplog, f"$JS.API.STREAM.DELETE.{N.work_stream}")
    with pytest.raises(REFUSED):
        await backend.jetstream(timeout=1).add_stream(StreamConfig(name="ROGUE", subjects=["rogue.>"]))
    assert denied(caplog, "$JS.API.STREAM.CREATE.ROGUE")
    assert (await admin.jetstream().stream_info(N.work_stream)).config.name == N.work_stream


async def test_worker_cannot_fetch_from_another_pools_consumer(as_user, admin: Client,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    js = admin.jetstream()
    await js.publish(N.work("training", "gpu"), b"{}")
    gpu_consumer = N.work_consumer("training", "gpu")
    try:
        thief = (await as_user("worker-backtest-cpu")).jetstream(timeout=1)
        sub = await thief.pull_subscribe_bind(gpu_consumer, N.work_stream)
        with pytest.raises(REFUSED):
            await sub.fetch(1, timeout=1)
        assert denied(caplog, f"$JS.API.CONSUMER.MSG.NEXT.{N.work_stream}.{gpu_consumer}")
        info = await js.consumer_info(N.work_stream, gpu_consumer)
        assert info.num_pending == 1 and info.num_ack_pending == 0
    finally:
        await js.purge_stream(N.work_stream)


async def test_client_cannot_publish_work_orders(as_user, admin: Client, caplog: pytest.LogCaptureFixture) -> None:
    client = await as_user("client")
    subject = N.work("backtest", "cpu")
    with pytest.raises(REFUSED):
        await client.jetstream(timeout=1).publish(subject, b"{}")
    await client.publish(subject, b"{}")
    await flush(client)
    assert denied(caplog, subject)
    assert (await admin.jetstream().stream_info(N.work_stream)).state.messages == 0


async def test_worker_heartbeats_fetches_its_own_consumer_and_acks(as_user, admin: Client) -> None:
    worker, client = await as_user("worker-backtest-cpu"), await as_user("client")
    beats = await client.subscribe(N.heartbeat("backtest", "w1"))
    await flush(client)
    await worker.publish(N.heartbeat("backtest", "w1"), b"{}")
    assert (await beats.next_msg(timeout=10)).data == b"{}"
    await admin.jetstream().publish(N.work("backtest", "cpu"), b"order")
    sub = await worker.jetstream().pull_subscribe_bind(N.work_consumer("backtest", "cpu"), N.work_stream)
    (msg,) = await sub.fetch(1, timeout=10)
    await msg.in_progress()
    await msg.ack_sync(timeout=10)
    info = await admin.jetstream().consumer_info(N.work_stream, N.work_consumer("backtest", "cpu"))
    assert msg.data == b"order" and info.num_ack_pending == 0 and info.num_pending == 0


async def test_client_cannot_write_the_operations_kv(as_user, admin: Client, caplog: pytest.LogCaptureFixture) -> None:
    client = await as_user("client")
    kv = await client.jetstream(timeout=1).key_value(N.bucket("operations"))
    with pytest.raises(REFUSED):
        await kv.put("op_forged", b"{}")
    assert denied(caplog, f"$KV.{N.bucket('operations')}.op_forged")
    ops = await admin.jetstream().key_value(N.bucket("operations"))
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await ops.get("op_forged")


async def test_sys_user_sees_the_server_and_nothing_of_ktrdr(as_user, caplog: pytest.LogCaptureFixture) -> None:
    sys_nc = await as_user("sys")
    reply = await sys_nc.request("$SYS.REQ.SERVER.PING", b"", timeout=5)
    assert json.loads(reply.data)["server"]["name"] == "ktrdr-secure"
    with pytest.raises(REFUSED):  # another account: KTRDR's API has no responders there
        await sys_nc.request(N.api("ops", "list"), b"", timeout=1)


class Workers:
    """In-process workers, each logged in as its own role's user."""

    def __init__(self, secure: tuple[str, dict[str, str], Path]) -> None:
        self.secure, self.items = secure, []

    async def start(self, user: str, op_type: str, pool: str, handler: Any, **kw: Any) -> None:
        """A worker of (op_type, pool) connected as `user`."""
        bus = await Bus.open(role(self.secure, user), name=user)
        worker = Worker(bus, kind=op_type, op_type=op_type, pool=pool, handler=handler, **kw)
        self.items.append((worker, asyncio.create_task(worker.run()), bus))

    async def close(self) -> None:
        """Stop every worker and close its connection."""
        for worker, task, bus in self.items:
            worker.stop()
            await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 20)
            await bus.close()


async def test_every_role_does_its_own_work_end_to_end(secure: tuple[str, dict[str, str], Path], admin: Client,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Data, training (both pools), backtest and dummy workers, the backend and the client, each as its own user."""
    backend_bus = await Bus.open(role(secure, "backend"), name="backend")
    backend = Backend(backend_bus)
    await backend.start()
    client_bus = await Bus.open(role(secure, "client"), name="client")
    client, pool = KtrdrClient(client_bus, timeout=20), Workers(secure)
    await pool.start("worker-data-ib", "data", "ib", run_data_load, services={"ib": None})
    await pool.start("worker-training-cpu", "training", "cpu", run_training_op)
    await pool.start("worker-training-gpu", "training", "gpu", run_training_op, gpu=GpuInfo(name="any", memory_mb=1))
    await pool.start("worker-backtest-cpu", "backtest", "cpu", run_backtest_op)
    await pool.start("worker-dummy-cpu", "dummy", "cpu", run_dummy)  # checkpoints go to the object store
    strategy = example_yaml(epochs=1, batch_size=256)

    async def run(area: str, payload: dict[str, Any], verb: str = "start") -> Any:
        started = await client.start(area, payload, verb)
        return await wait_record(client_bus, started["operation_id"], lambda r: r.terminal, timeout=90)

    try:
        data = await run("data", {"symbol": "EURUSD", "timeframe": "1h", "source": "synthetic", "mode": "full",
                                  "start": "2024-01-01", "end": "2024-03-01"}, "load")
        cpu = await run("training", {"strategy_yaml": strategy, "device": "cpu", "model_name": "roles"})
        # the gpu pool's user, on any machine: the order names the pool, the parameters train on the CPU
        gpu_op = await submit(backend_bus, "training", "gpu", {"strategy_yaml": strategy, "device": "cpu"})
        gpu = await wait_record(client_bus, gpu_op.id, lambda r: r.terminal, timeout=90)
        backtest = await run("backtest", {"strategy_yaml": strategy, "model": "roles"})
        dummy = await run("dummy", {"steps": 3, "step_seconds": 0.01})
        result = await client.result(backtest.id)
    finally:
        await pool.close()
        await backend.stop()
        await client_bus.close()
        await backend_bus.close()
    records = {"data": data, "training cpu": cpu, "training gpu": gpu, "backtest": backtest, "dummy": dummy}
    assert {k: r.status for k, r in records.items()} == dict.fromkeys(records, "completed"), \
        {k: r.error for k, r in records.items()}
    assert cpu.pool == "cpu" and gpu.pool == "gpu" and cpu.artifacts["model"] == "roles/1h_v1"
    assert data.result["stored_rows"] > 0 and gpu.artifacts["model"] == "rsi_mean_reversion/1h_v1"
    assert result["result"]["model"] == "roles/1h_v1" and result["result"]["bars"] > 0
    assert not [r.getMessage() for r in caplog.records if "permission denied" in r.getMessage()]
