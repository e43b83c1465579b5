"""taskiq on NATS: the JetStream pull broker with the NATS object-store result backend."""

from __future__ import annotations

import os

from taskiq_nats import NATSObjectStoreResultBackend, PullBasedJetStreamBroker

URL = os.environ.get("PEER_NATS_URL", "nats://127.0.0.1:4222")
broker = PullBasedJetStreamBroker(URL, queue="peers", durable="peers").with_result_backend(
    NATSObjectStoreResultBackend(URL))


@broker.task(task_name="noop")
async def noop() -> int:
    """The no-op workload."""
    return 0
