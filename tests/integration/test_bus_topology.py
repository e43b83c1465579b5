"""ensure_topology() against a real server: complete, idempotent, repairing drift, surviving a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js.api import StreamConfig

from ktrdr.bus.connection import connect
from ktrdr.bus.handle import Bus
from ktrdr.bus.topology import consumer_configs, ensure_topology, stream_configs
from ktrdr.config import Settings
from ktrdr.protocol.subjects import KV_BUCKETS, OBJECT_BUCKETS, Names
from tests.chaos.procs import ServerProc

OUTAGE_S = 6.0  # nats-py's JetStream API requests time out after 5 s


async def test_creates_everything_then_is_a_noop(nc: Client, names: Names, settings: Settings) -> None:
    js = nc.jetstream()
    first = await ensure_topology(js, names, settings)
    assert first.created and not first.updated
    second = await ensure_topology(js, names, settings)
    assert not second.changed, (second.created, second.updated)
    for cfg in stream_configs(names, settings):
        assert (await js.stream_info(cfg.name)).config.subjects == cfg.subjects
    for stream, consumer in consumer_configs(names, settings):
        assert (await js.consumer_info(stream, consumer.durable_name)).config.max_deliver == consumer.max_deliver
    for bucket in KV_BUCKETS:
        await js.key_value(names.bucket(bucket))
    for bucket in OBJECT_BUCKETS:
        await js.object_store(names.bucket(bucket))


async def test_updates_a_stream_that_drifted(nc: Client, topology: Names, settings: Settings) -> None:
    js = nc.jetstream()
    info = await js.stream_info(topology.events_stream)
    drifted: StreamConfig = info.config
    drifted.max_age = 3600.0
    await js.update_stream(drifted)
    report = await ensure_topology(js, topology, settings)
    assert any(topology.events_stream in u for u in report.updated)
    assert (await js.stream_info(topology.events_stream)).config.max_age == settings.events_max_age_days * 86400


async def test_replaced_consumer_setting_is_restored(nc: Client, topology: Names, settings: Settings) -> None:
    js = nc.jetstream()
    stream, cfg = next(c for c in consumer_configs(topology, settings) if c[0] == topology.work_stream)
    cfg.ack_wait = 99.0
    await js.add_consumer(stream, cfg)
    report = await ensure_topology(js, topology, settings)
    assert report.updated and (await js.consumer_info(stream, cfg.durable_name)).config.ack_wait == settings.ack_wait_s


async def test_the_aggregator_is_sent_only_the_events_that_change_a_record(nc: Client, topology: Names,
                                                                           settings: Settings) -> None:
    """`started` and `log` are stored for readers of the log, but the aggregator's consumer never receives them."""
    js = nc.jetstream()
    for kind in ("started", "log", "completed", "metric"):
        await js.publish(topology.event("op_filtered", kind), b"{}")
    stream = await js.stream_info(topology.events_stream)
    aggregator = await js.consumer_info(topology.events_stream, topology.aggregator_consumer)
    assert stream.state.messages == 4 and aggregator.num_pending == 2


@pytest.mark.slow
async def test_setup_waits_out_a_server_restart_that_lands_midway(tmp_path: Path) -> None:
    # A backend started just before nats-server restarts used to die in ensure_topology with a bare timeout.
    server = ServerProc(tmp_path)
    settings = Settings(nats_url=server.url, namespace="restart", home=str(tmp_path / "home"))
    nc = await connect(settings, name="starting-backend")
    try:
        await asyncio.to_thread(server.stop)  # connected, then the server goes away before the setup

        async def restart() -> None:
            await asyncio.sleep(OUTAGE_S)  # the outage itself: longer than one JetStream API request may wait
            await asyncio.to_thread(server.start)

        back = asyncio.create_task(restart())
        bus = await Bus.attach(nc, settings, setup=True)
        await back
        assert not (await ensure_topology(bus.js, bus.names, settings)).changed  # the setup completed
        assert (await bus.ops.find("op_none")) is None
    finally:
        await nc.close()
        server.close()
