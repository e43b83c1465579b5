"""Registry records from heartbeats, without NATS."""

from __future__ import annotations

import msgspec

from ktrdr.protocol.workers import from_heartbeat
from ktrdr.protocol.messages import WorkerCounters, WorkerHeartbeat


def beat(fetched: int = 0, status: str = "idle", running: list[str] | None = None) -> WorkerHeartbeat:
    return WorkerHeartbeat(worker_id="w", kind="dummy", pool="cpu", status=status, running=running or [],
                           counters=WorkerCounters(fetched=fetched))


def test_status_follows_the_beat_and_idle_since_the_last_fetch() -> None:
    first = from_heartbeat(beat(), None, now=100)
    assert (first.status, first.idle_since, first.first_seen) == ("available", 100, 100)
    busy = from_heartbeat(beat(1, "busy", ["op"]), first, now=200)
    assert (busy.status, busy.idle_since, busy.first_seen) == ("busy", 0, 100)
    idle = from_heartbeat(beat(1), busy, now=300)
    assert idle.idle_since == 300 and from_heartbeat(beat(1), idle, now=400).idle_since == 300


def test_stuck_stays_until_the_worker_fetches_again() -> None:
    stuck = msgspec.structs.replace(from_heartbeat(beat(3), None, now=100), status="stuck")
    assert from_heartbeat(beat(3), stuck, now=200).status == "stuck"
    assert from_heartbeat(beat(4), stuck, now=300).status == "available"
    assert from_heartbeat(beat(3, "stopped"), stuck, now=300).status == "stopped"
