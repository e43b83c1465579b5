"""The local three-node cluster: R3 topology, a stream leader's death, the CLI, and the config templates."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

from ktrdr.bus.cluster import ClusterHandle, LocalCluster, node_config, running
from ktrdr.bus.embedded import find_binary
from ktrdr.bus.topology import ensure_topology
from ktrdr.config import Settings
from ktrdr.protocol.subjects import Names

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, ClusterHandle]]:
    """One three-node cluster for this module."""
    local = LocalCluster(tmp_path_factory.mktemp("home"))
    handle, started = asyncio.run(local.up(timeout=20))
    assert started
    yield local, handle
    local.down(purge=True)


@pytest_asyncio.fixture
async def cnc(cluster: tuple[LocalCluster, ClusterHandle]) -> AsyncIterator[Client]:
    """A client that knows every node, so it survives one node's death."""
    client = await nats.connect(cluster[1].urls.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    yield client
    await client.close()


async def test_replicas_3_makes_every_stream_and_bucket_r3(cnc: Client, names: Names) -> None:
    settings = Settings(namespace=names.ns, replicas=3)
    js = cnc.jetstream()
    report = await ensure_topology(js, names, settings)
    assert report.created and not report.updated
    backing = [f"KV_{names.bucket('operations')}", f"OBJ_{names.bucket('checkpoints')}"]
    for stream in (names.work_stream, names.events_stream, *backing):
        info = await js.stream_info(stream)
        assert info.config.num_replicas == 3, stream
        assert info.cluster is not None and len(info.cluster.replicas or []) == 2, stream
    consumer = await js.consumer_info(names.work_stream, names.work_consumer("backtest", "cpu"))
    assert consumer.cluster is not None and len(consumer.cluster.replicas or []) == 2
    assert not (await ensure_topology(js, names, settings)).changed


async def test_work_survives_the_stream_leader_being_killed(
        cluster: tuple[LocalCluster, ClusterHandle], cnc: Client, names: Names) -> None:
    local, handle = cluster
    js = cnc.jetstream()
    await ensure_topology(js, names, Settings(namespace=names.ns, replicas=3))
    subject = names.work("backtest", "cpu")
    for i in range(5):
        await js.publish(subject, f"before-{i}".encode(), headers={"Nats-Msg-Id": f"b{i}"})
    leader = (await js.stream_info(names.work_stream)).cluster.leader
    node = handle.node_of_server(leader)
    local.kill(node.name)
    try:
        assert not running(node.pid)
        for i in range(5):
            await publish_until_acked(js, subject, f"after-{i}".encode(), f"a{i}")
        info = await js.stream_info(names.work_stream)
        assert info.state.messages == 10 and info.cluster.leader != leader
        sub = await js.pull_subscribe_bind(names.work_consumer("backtest", "cpu"), names.work_stream)
        msgs = await fetch_until_served(sub, 10)
        assert sorted(m.data.decode() for m in msgs) == sorted(
            [f"before-{i}" for i in range(5)] + [f"after-{i}" for i in range(5)])
    finally:
        local.restart(node.name)


async def fetch_until_served(sub: Any, n: int, timeout: float = 15.0) -> list[Any]:
    """Fetch n messages: the consumer's own leader may have died with the stream's and still be being elected
    (the fetch is then answered 503, or not at all), so ask again until the deadline."""
    deadline, msgs = time.monotonic() + timeout, []
    while len(msgs) < n:
        try:
            msgs += await sub.fetch(n - len(msgs), timeout=1.0)
        except (ServiceUnavailableError, nats.errors.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)  # as above: the election has no event a client can wait on
    return msgs


async def publish_until_acked(js: Any, subject: str, data: bytes, msg_id: str, timeout: float = 15.0) -> None:
    """Publish until a stream leader acks: right after a leader dies nobody answers until one is elected."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id}, timeout=1.0)
            return
        except (NoStreamResponseError, nats.errors.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)  # the election has no event a client can wait on


def test_generated_node_config_is_valid_for_the_server(tmp_path: Path) -> None:
    conf = tmp_path / "n.conf"
    conf.write_text(node_config("x-n1", "x", 6999, [7000, 7001]))
    out = subprocess.run([str(find_binary()), "-c", str(conf), "-t"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("conf", ["server.conf", "container.conf", "cluster/n1.conf", "cluster/n2.conf", "cluster/n3.conf"])
def test_config_templates_are_valid(conf: str, tmp_path: Path) -> None:
    out = subprocess.run([str(find_binary()), "-c", str(ROOT / "nats" / conf), "-t"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr


def test_cli_up_status_down(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")} | {"KTRDR_HOME": str(tmp_path)}

    def ktrdr(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ktrdr", *args], env=env, capture_output=True, text=True,
                              timeout=60)

    up = ktrdr("nats", "cluster", "up", "--no-topology")
    try:
        assert up.returncode == 0, up.stderr
        assert "started 3 nodes" in up.stdout and "KTRDR_REPLICAS=3" in up.stdout
        status = ktrdr("--json", "nats", "cluster", "status")
        nodes = json.loads(status.stdout)["nodes"]
        assert len(nodes) == 3 and all(n["alive"] for n in nodes)
        assert len({n["meta_leader"] for n in nodes}) == 1 and nodes[0]["meta_leader"]
        assert "already running" in ktrdr("nats", "cluster", "up", "--no-topology").stdout
    finally:
        down = ktrdr("nats", "cluster", "down", "--purge")
    assert "stopped 3" in down.stdout
    after = ktrdr("nats", "cluster", "status")
    assert after.returncode == 1 and "ktrdr nats cluster up" in after.stderr
