"""Celery on Redis, configured as a careful production setup would be: acks late, prefetch 1, Redis results."""

from __future__ import annotations

import os

from celery import Celery

URL = os.environ.get("PEER_REDIS_URL", "redis://127.0.0.1:6379/0")
app = Celery("peers", broker=URL, backend=URL)
app.conf.update(task_acks_late=True, worker_prefetch_multiplier=1, task_serializer="json",
                result_serializer="json", accept_content=["json"], broker_connection_retry_on_startup=True)


@app.task(name="noop")
def noop() -> int:
    """The no-op workload."""
    return 0
