"""nats/secure.conf for real: each role's refusals are quick, logged errors; each role's own work goes through."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.js.api import StreamConfig

from ktrdr.bus.connection import connect
from ktrdr.bus.embedded import start_server
from ktrdr.bus.handle import Bus
from ktrdr.bus.topology import ensure_topology
from ktrdr.config import Settings
from ktrdr.operations.aggregator import Aggregator
from ktrdr.operations.submit import submit
from ktrdr.protocol.subjects import Names
from ktrdr.workers.dummy import run_dummy
from ktrdr.workers.runtime import Worker
from tests.helpers import wait_record
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
    passwords = {u: secrets.token_urlsafe(12) for u in USERS}
    env = {f"KTRDR_PASSWORD_{u.upper().replace('-', '_')}": pw for u, pw in passwords.items()}
    env |= {"KTRDR_TLS_SERVER_CERT": str(cert), "KTRDR_TLS_SERVER_KEY": str(key)}
    with pytest.MonkeyPatch.context() as mp:  # the server reads its $VARIABLES from its environment
        for k, v in env.items():
            mp.setenv(k, v)
        proc, url = start_server(root / "js", root / "server.log", port=-1, extra_args=["-c", str(conf)])
    yield url, passwords, cert
    proc.terminate()
    proc.wait(timeout=10)


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
    await backend.flush()
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
    await client.flush()
    assert denied(caplog, subject)
    assert (await admin.jetstream().stream_info(N.work_stream)).state.messages == 0


async def test_worker_heartbeats_fetches_its_own_consumer_and_acks(as_user, admin: Client) -> None:
    worker, client = await as_user("worker-backtest-cpu"), await as_user("client")
    beats = await client.subscribe(N.heartbeat_all())
    await client.flush()
    await worker.publish(N.heartbeat("backtest", "w1"), b"{}")
    assert (await beats.next_msg(timeout=2)).subject == N.heartbeat("backtest", "w1")
    await admin.jetstream().publish(N.work("backtest", "cpu"), b"order")
    sub = await worker.jetstream().pull_subscribe_bind(N.work_consumer("backtest", "cpu"), N.work_stream)
    (msg,) = await sub.fetch(1, timeout=2)
    await msg.in_progress()
    await msg.ack_sync(timeout=2)
    assert (await admin.jetstream().stream_info(N.work_stream)).state.messages == 0


async def test_an_operation_runs_end_to_end_under_least_privilege(
        secure: tuple[str, dict[str, str], Path], admin: Client, caplog: pytest.LogCaptureFixture) -> None:
    backend = await Bus.open(role(secure, "backend"), name="backend")
    worker_bus = await Bus.open(role(secure, "worker-dummy-cpu"), name="worker")
    aggregator = Aggregator(backend)
    await aggregator.start()
    try:
        op = await submit(backend, "dummy", "cpu", {"steps": 3, "step_seconds": 0.01})
        worker = Worker(worker_bus, kind="dummy", op_type="dummy", pool="cpu", handler=run_dummy)
        await asyncio.wait_for(worker.run(burst=True), 30)  # checkpoints go to the object store
        record = await wait_record(backend, op.id, lambda r: r.terminal, timeout=10)
    finally:
        await aggregator.stop()
        await worker_bus.close()
        await backend.close()
    assert record.status == "completed", record
    assert not [r.getMessage() for r in caplog.records if "permission denied" in r.getMessage()]
