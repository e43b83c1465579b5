"""Load on one backend process: 1,000 simulated workers heartbeating at 1 Hz, and 20,000 progress events/s into
the aggregator, each beside the bare nats-py mechanism measured in the same run.

Run: .venv/bin/python bench/bench_load.py [--workers 1000] [--rate 20000] [--seconds 10] [--ops 200] [--backends 1 2]
The backend (`python -m ktrdr backend`) runs as a subprocess; its CPU time comes from /proc/<pid>/stat. With
`--backends 1 2` the progress load runs again once a second backend has joined (one of them folds at a time).
Progress has two baselines: bare pub→sub at the same rate, and "KV alone": this process writing the same
progress straight into a bucket like `operations` (compare-and-set, one write in flight per record): what keeping
progress in a KV record costs on this machine with no backend in the path.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import pct  # noqa: E402
from ktrdr.protocol.workers import WorkerRecord  # noqa: E402
from ktrdr.bus.handle import Bus  # noqa: E402
from ktrdr.config import Settings  # noqa: E402
from ktrdr.operations.record import OperationRecord, Progress, new_record  # noqa: E402
from ktrdr.operations.store import OperationStore  # noqa: E402
from ktrdr.protocol.codec import decode, encode  # noqa: E402
from ktrdr.protocol.messages import OperationProgress, WorkerHeartbeat  # noqa: E402
from tests.chaos.procs import Child, ServerProc, ktrdr_env  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
_TICKS: set[asyncio.Future[None]] = set()  # the bench's own tasks still running


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def paced(total_per_s: int, seconds: float, send: Callable[[int], Awaitable[None] | None]) -> int:
    """Call `send(i)` total_per_s times a second in 10 ms ticks; returns how many were sent.

    The publishes `send` returns go out from one task per tick, in order, as a real publisher sends them: a task per
    message had cost the generator more than the messaging it measures (bare pub→sub p99 about 8 ms against 2.5–4).
    """
    t0, sent, per_tick = time.monotonic(), 0, max(1, total_per_s // 100)
    while time.monotonic() - t0 < seconds:
        tick = [aw for i in range(sent, sent + per_tick) if (aw := send(i)) is not None]
        sent += per_tick
        if tick:
            _spawn(_in_order(tick))
        await asyncio.sleep(max(0.0, t0 + sent / total_per_s - time.monotonic()))
    return sent


def _spawn(coro: Coroutine[Any, Any, None]) -> None:
    """Run `coro` as a task held until done: the loop keeps only a weak reference to a task."""
    task = asyncio.ensure_future(coro)
    _TICKS.add(task)
    task.add_done_callback(_TICKS.discard)


async def _in_order(publishes: list[Awaitable[None]]) -> None:
    """Await each publish in turn."""
    for publish in publishes:
        await publish


async def heartbeats(bus: Bus, backend_pid: int, workers: int, seconds: float) -> None:
    """1 Hz beats from `workers` ids; the backend's CPU share and the age of each worker's newest beat in KV."""
    n, kv = bus.names, await bus.js.key_value(bus.names.bucket("workers"))
    beats = [encode(WorkerHeartbeat(worker_id=f"sim-{i:05d}", kind="dummy", pool="cpu", interval_s=1.0))
             for i in range(workers)]
    subjects = [n.heartbeat("dummy", f"sim-{i:05d}") for i in range(workers)]
    seen: dict[str, int] = {}
    watcher = await kv.watchall()

    async def mirror() -> None:
        while True:
            entry = await watcher.updates(timeout=None)  # type: ignore[arg-type]
            if entry is not None and entry.value:
                seen[entry.key] = decode(entry.value, WorkerRecord).last_seen

    task = asyncio.create_task(mirror())
    c0, t0 = cpu_s(backend_pid), time.monotonic()
    ages: list[float] = []

    def send(i: int) -> Awaitable[None]:
        if i % 500 == 0 and len(seen) == workers:
            now = time.time_ns()
            ages.extend((now - v) / 1e9 for v in seen.values())
        return bus.nc.publish(subjects[i % workers], beats[i % workers])

    sent = await paced(workers, seconds, send)
    share = (cpu_s(backend_pid) - c0) / (time.monotonic() - t0)
    task.cancel()
    await watcher.stop()
    print(f"heartbeats {workers} workers at 1 Hz for {seconds:.0f}s ({sent} beats): backend CPU {share:6.1%} of one core;"
          f" registered {len(seen)}")
    if ages:
        print(f"heartbeats age of newest beat in the workers KV: p50 {pct(ages, 50):.2f}s  p99 {pct(ages, 99):.2f}s"
              f"  max {max(ages):.2f}s (a worker is 'unavailable' after 3 intervals = 3s)")


async def bare_kv_puts(bus: Bus, count: int) -> float:
    """Baseline: the registry's write mechanism alone, `count` KV puts (100 in flight); puts/s."""
    kv = await bus.js.key_value(bus.names.bucket("workers"))
    body = b"x" * 400
    t0 = time.perf_counter()
    for start in range(0, count, 100):
        await asyncio.gather(*(kv.put(f"bare-{i % 1000}", body) for i in range(start, start + 100)))
    return count / (time.perf_counter() - t0)


class _Seq(msgspec.Struct):
    id: str
    progress_seq: int = 0


def running_records(ops: int) -> list[OperationRecord]:
    """`ops` records of running operations, not yet stored."""
    return [msgspec.structs.replace(new_record("dummy", "cpu", {}), status="running", attempt=1) for _ in range(ops)]


class Seen:
    """Event → KV record latencies, seen through a KV watch and matched by (operation id, progress seq)."""

    def __init__(self, records: list[OperationRecord]) -> None:
        self.sent_at: dict[tuple[str, int], float] = {}
        self.lat: list[float] = []
        self.writes: Counter[str] = Counter({r.id: 0 for r in records})  # per operation: is each kept current?

    async def watch(self, kv: KeyValue) -> None:
        """Match every write of the bucket until cancelled."""
        watcher = await kv.watchall()
        try:
            while True:
                entry = await watcher.updates(timeout=None)  # type: ignore[arg-type]
                if entry is not None and entry.value:
                    r = msgspec.json.decode(entry.value, type=_Seq)
                    if (t := self.sent_at.get((r.id, r.progress_seq))) is not None:
                        self.lat.append(time.perf_counter() - t)
                        self.writes[r.id] += 1
        finally:
            await watcher.stop()

    async def run(self, kv: KeyValue, rate: int, seconds: float, send: Callable[[int], Awaitable[None] | None]) -> float:
        """Pace `send` while watching, then let the last writes land; the publish rate achieved."""
        task = asyncio.create_task(self.watch(kv))
        await asyncio.sleep(0.2)  # the watch is bound
        t0 = time.monotonic()
        sent = await paced(rate, seconds, send)
        achieved = sent / (time.monotonic() - t0)
        await asyncio.sleep(2.0)  # let the last fold land before reading the figures
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return achieved

    def report(self, label: str, ops: int, rate: int, seconds: float, achieved: float) -> float:
        """Print the latency and how evenly the operations were kept current; the p99 in seconds (nan: none)."""
        print(f"{label} offered {rate}/s, published {achieved:8.0f}/s over {ops} operations; KV writes seen "
              f"{len(self.lat)} ({len(self.lat) / seconds:.0f}/s, latest-wins coalescing)")
        if self.lat:
            print(f"{label} event → KV record: p50 {pct(self.lat, 50) * 1e3:7.1f} ms  "
                  f"p99 {pct(self.lat, 99) * 1e3:7.1f} ms")
            per_op = sorted(self.writes.values())
            print(f"{label} KV writes per operation over {seconds:.0f}s: min {per_op[0]}  p10 {pct(per_op, 10):.0f}  "
                  f"median {pct(per_op, 50):.0f}  max {per_op[-1]} (every operation publishes {rate / ops:.0f}/s)")
        return pct(self.lat, 99) if self.lat else float("nan")


async def progress(bus: Bus, ops: int, rate: int, seconds: float, label: str = "progress  ") -> float:
    """`rate` progress events/s over `ops` running operations; event → KV latency seen through a KV watch."""
    records = running_records(ops)
    await asyncio.gather(*(bus.ops.create(r) for r in records))
    seen = Seen(records)

    def send(i: int) -> Awaitable[None]:
        r, seq = records[i % ops], i // ops + 1
        seen.sent_at[(r.id, seq)] = time.perf_counter()
        ev = OperationProgress(operation_id=r.id, attempt=1, seq=seq, percentage=float(seq % 100))
        return bus.nc.publish(bus.names.event(r.id, "progress"), encode(ev))

    return seen.report(label, ops, rate, seconds, await seen.run(bus.ops.kv, rate, seconds, send))


@dataclass
class _Writer:
    """One record's writer in the KV-alone baseline: the newest progress waits while a write is in flight."""

    record: OperationRecord
    revision: int
    next_seq: int = 0
    writing: bool = False


async def bare_kv_progress(bus: Bus, ops: int, rate: int, seconds: float) -> float:
    """Baseline with no backend: the same progress written by this process straight into a bucket like
    `operations` (compare-and-set, one write in flight per record, the newest progress wins)."""
    bucket = bus.names.bucket("bare_progress")
    kv = await bus.js.create_key_value(KeyValueConfig(bucket=bucket, history=1, storage=StorageType.FILE))
    store, records = OperationStore(kv, bus.mux, bucket), running_records(ops)
    revisions = await asyncio.gather(*map(store.create, records))
    writers = {r.id: _Writer(r, rev) for r, rev in zip(records, revisions)}
    seen = Seen(records)

    async def write(w: _Writer) -> None:
        w.writing = True
        while seq := w.next_seq:
            w.next_seq = 0
            record = msgspec.structs.replace(w.record, progress=Progress(percentage=float(seq % 100)), progress_seq=seq)
            w.revision, w.record = await store.put_if(record, w.revision), record
        w.writing = False

    def send(i: int) -> None:
        r, seq = records[i % ops], i // ops + 1
        seen.sent_at[(r.id, seq)] = time.perf_counter()
        w = writers[r.id]
        w.next_seq = seq
        if not w.writing:
            _spawn(write(w))

    c0 = cpu_s(os.getpid())
    achieved = await seen.run(kv, rate, seconds, send)
    print(f"progress   KV alone: no backend, this process writes each record itself and used "
          f"{(cpu_s(os.getpid()) - c0) / (seconds + 2.2):.0%} of a core")
    return seen.report("progress   KV alone", ops, rate, seconds, achieved)


async def bare_pubsub(bus: Bus, rate: int, seconds: float) -> float:
    """Baseline: the same publish rate to a plain subscriber; publish → callback latency."""
    lat: list[float] = []

    async def on_msg(msg) -> None:  # type: ignore[no-untyped-def]
        lat.append(time.perf_counter() - float(msg.data))

    sub = await bus.nc.subscribe("bare.progress", cb=on_msg)
    sent = await paced(rate, seconds, lambda i: bus.nc.publish("bare.progress", str(time.perf_counter()).encode()))
    await asyncio.sleep(1.0)
    await sub.unsubscribe()
    print(f"progress   bare pub→sub at {rate}/s: received {len(lat)}/{sent}; p50 {pct(lat, 50) * 1e3:7.1f} ms  "
          f"p99 {pct(lat, 99) * 1e3:7.1f} ms")
    return pct(lat, 99)


async def main(args: argparse.Namespace) -> None:
    """Server, backend subprocess, then the four measurements."""
    root = Path(tempfile.mkdtemp(prefix="ktrdr-load-"))
    server = ServerProc(root)
    settings = Settings(nats_url=server.url, namespace="load", home=str(root / "home"), heartbeat_s=1.0)
    bus = await Bus.open(settings, setup=True)
    backends = [Child("load-backend", ["backend"], ktrdr_env(settings, root / "home"), root / "backend.log")]
    try:
        await asyncio.sleep(3.0)  # the backend imports and binds (its log says when)
        await heartbeats(bus, backends[0].proc.pid, args.workers, args.seconds)
        print(f"heartbeats bare KV put rate (the registry's write): {await bare_kv_puts(bus, 5000):8.0f} puts/s "
              f"vs {args.workers} beats/s needed")
        bare = await bare_pubsub(bus, args.rate, min(5.0, args.seconds))
        alone = await bare_kv_progress(bus, args.ops, args.rate, args.seconds)
        for count in args.backends:
            while len(backends) < count:
                backends.append(Child(f"load-backend-{len(backends)}", ["backend"],
                                      ktrdr_env(settings, root / "home"), root / f"backend-{len(backends)}.log"))
                await asyncio.sleep(3.0)
            ours = await progress(bus, args.ops, args.rate, args.seconds,
                                  "progress  " if count == 1 else f"progress ({count} backends)")
            print(f"progress   p99 beside bare pub→sub's: {ours / bare:.1f}x (KV alone: {alone / bare:.1f}x); "
                  f"beside KV alone: {ours / alone:.2f}x")
    finally:
        for backend in backends:
            backend.terminate()
        await bus.close()
        server.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--ops", type=int, default=200)
    ap.add_argument("--backends", type=int, nargs="+", default=[1], help="backend counts to run the progress load with")
    asyncio.run(main(ap.parse_args()))
