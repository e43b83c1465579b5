"""Test harness: one real nats-server per session on a free port, a fresh namespace per test."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from nats.aio.client import Client

from ktrdr.bus.connection import connect
from ktrdr.bus.embedded import start_server
from ktrdr.bus.topology import ensure_topology
from ktrdr.config import Settings
from ktrdr.protocol.subjects import Names


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start nats-server (JetStream, `-p -1`) and yield its URL once its log says ready."""
    root = tmp_path_factory.mktemp("nats")
    proc, url = start_server(root / "js", root / "server.log", port=-1)
    yield url
    proc.terminate()  # the suite leaves ~1,400 streams behind: their shutdown takes ~10 s on one core
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:  # throwaway data: do not fail the run over a slow shutdown
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def ns() -> str:
    """A namespace no other test uses, so tests share one server without seeing each other."""
    return f"t{secrets.token_hex(4)}"


@pytest.fixture
def names(ns: str) -> Names:
    """Subject and bucket names of this test's namespace."""
    return Names(ns)


@pytest.fixture
def settings(nats_url: str, ns: str, tmp_path: Path) -> Settings:
    """Settings pointing at the session server, with short timings for tests."""
    return Settings(nats_url=nats_url, namespace=ns, home=str(tmp_path / "home"), ack_wait_s=5.0,
                    heartbeat_s=0.5, max_deliver=3, events_max_age_days=1.0)


@pytest_asyncio.fixture
async def nc(settings: Settings) -> AsyncIterator[Client]:
    """An async client on the session server."""
    client = await connect(settings, name="test")
    yield client
    await client.drain()


@pytest_asyncio.fixture
async def topology(nc: Client, names: Names, settings: Settings) -> Names:
    """This test's namespace with its whole topology created."""
    await ensure_topology(nc.jetstream(), names, settings)
    return names
