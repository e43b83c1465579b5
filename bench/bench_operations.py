"""Dispatch latency, cancel latency and no-op throughput, each beside the bare nats-py mechanism.

Run: .venv/bin/python bench/bench_operations.py [--n 300] [--ops 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_bus, pct, summary_ms  # noqa: E402
from ktrdr.bus.handle import Bus  # noqa: E402
from ktrdr.context import MemoryCheckpointer  # noqa: E402
from ktrdr.operations.submit import submit  # noqa: E402
from ktrdr.workers.context import OperationContext  # noqa: E402
from ktrdr.workers.runtime import Worker  # noqa: E402


async def bare_publish_fetch(bus: Bus, n: int) -> list[float]:
    """Bare JetStream: publish → a waiting pull fetch returns it."""
    subject = bus.names.work("dummy", "cpu")
    psub = await bus.js.pull_subscribe_bind(durable=bus.names.work_consumer("dummy", "cpu"),
                                            stream=bus.names.work_stream)
    out = []
    for _ in range(n):
        fetch = asyncio.create_task(psub.fetch(1, timeout=5))
        await asyncio.sleep(0.002)  # let the pull request reach the server, as an idle worker's would
        t0 = time.perf_counter()
        await bus.js.publish(subject, b"{}")
        msg = (await fetch)[0]
        out.append(time.perf_counter() - t0)
        await msg.ack()
    await psub.unsubscribe()
    return out


async def bare_core_latency(bus: Bus, n: int) -> list[float]:
    """Bare core NATS: publish → subscriber callback."""
    got = asyncio.Event()

    async def on_msg(_msg: object) -> None:
        got.set()

    sub = await bus.nc.subscribe("bench.cancel", cb=on_msg)
    out = []
    for _ in range(n):
        got.clear()
        t0 = time.perf_counter()
        await bus.nc.publish("bench.cancel", b"")
        await got.wait()
        out.append(time.perf_counter() - t0)
    await sub.unsubscribe()
    return out


def start_worker(bus: Bus, handler, capacity: int = 1) -> tuple[Worker, asyncio.Task]:
    """An in-process dummy worker with in-memory checkpoints."""
    w = Worker(bus, kind="dummy", op_type="dummy", pool="cpu", handler=handler, capacity=capacity,
               checkpoints=lambda op, loop: MemoryCheckpointer())
    return w, asyncio.create_task(w.run())


async def dispatch(bus: Bus, n: int, capacity: int = 1) -> list[float]:
    """submit() → the operation's code is entered, on an idle worker with `capacity` slots."""
    entered: dict[str, float] = {}
    flag: dict[str, asyncio.Event] = {}
    loop = asyncio.get_running_loop()

    def handler(ctx: OperationContext) -> dict:
        entered[ctx.operation_id] = time.perf_counter()
        loop.call_soon_threadsafe(flag[ctx.operation_id].set)
        return {}

    w, task = start_worker(bus, handler, capacity)
    out = []
    for i in range(n):
        op_id = f"op_dummy_bench_{capacity}_{i:06d}"
        flag[op_id] = asyncio.Event()
        await asyncio.sleep(0.002)
        t0 = time.perf_counter()
        await submit(bus, "dummy", "cpu", {"steps": 0}, op_id=op_id)
        await flag[op_id].wait()
        out.append(entered[op_id] - t0)
    w.stop()
    await task
    return out


async def cancel_latency(bus: Bus, n: int) -> tuple[list[float], list[float]]:
    """publish on cancel.<id> → the operation saw it; and → `cancelled` in KV."""
    running: dict[str, asyncio.Event] = {}
    stopped_at: dict[str, float] = {}
    loop = asyncio.get_running_loop()

    def handler(ctx: OperationContext) -> dict:
        loop.call_soon_threadsafe(running[ctx.operation_id].set)
        ctx.cancel.wait(30)
        stopped_at[ctx.operation_id] = time.perf_counter()
        ctx.cancel.check()
        return {}

    w, task = start_worker(bus, handler)
    to_stop, to_kv = [], []
    for i in range(n):
        op_id = f"op_dummy_cancel_{i:06d}"
        running[op_id] = asyncio.Event()
        await submit(bus, "dummy", "cpu", {}, op_id=op_id)
        await running[op_id].wait()
        watcher = await bus.ops.kv.watch(op_id)
        await watcher.updates(timeout=5)  # current value first
        t0 = time.perf_counter()
        await bus.nc.publish(bus.names.cancel(op_id), b"")
        while True:
            entry = await watcher.updates(timeout=5)
            if entry is not None and b'"status":"cancelled"' in entry.value:
                break
        to_kv.append(time.perf_counter() - t0)
        to_stop.append(stopped_at[op_id] - t0)
        await watcher.stop()
    w.stop()
    await task
    return to_stop, to_kv


async def bare_throughput(bus: Bus, n: int) -> float:
    """Bare JetStream work queue: publish n, fetch-and-ack them with 4 pullers; messages/s."""
    subject = bus.names.work("backtest", "cpu")
    t0 = time.perf_counter()
    await asyncio.gather(*(bus.js.publish(subject, b"{}") for _ in range(n)))
    psub = await bus.js.pull_subscribe_bind(durable=bus.names.work_consumer("backtest", "cpu"),
                                            stream=bus.names.work_stream)
    done = 0
    while done < n:
        for msg in await psub.fetch(min(100, n - done), timeout=5):
            await msg.ack()
            done += 1
    return n / (time.perf_counter() - t0)


async def throughput(bus: Bus, n: int, workers: int = 4, capacity: int = 16) -> float:
    """n no-op operations submitted at once, run by `workers` workers; completed operations/s end to end."""
    all_done = asyncio.Event()
    count = [0]
    loop = asyncio.get_running_loop()

    def handler(ctx: OperationContext) -> dict:
        return {}

    ws = [start_worker(bus, handler, capacity) for _ in range(workers)]

    async def watch() -> None:
        watcher = await bus.ops.kv.watchall()
        while count[0] < n:
            entry = await watcher.updates(timeout=30)
            if entry is not None and entry.value and b'"status":"completed"' in entry.value:
                count[0] += 1
        all_done.set()
        await watcher.stop()

    watch_task = asyncio.create_task(watch())
    t0 = time.perf_counter()
    await asyncio.gather(*(submit(bus, "dummy", "cpu", {"steps": 0}) for _ in range(n)))
    await all_done.wait()
    rate = n / (time.perf_counter() - t0)
    await watch_task
    for w, task in ws:
        w.stop()
    await asyncio.gather(*(t for _, t in ws))
    _ = loop
    return rate


async def main(n: int, ops: int) -> None:
    """Run every figure and print them beside their baselines."""
    async with bench_bus(ack_wait_s=30.0) as bus:
        bare = await bare_publish_fetch(bus, n)
        ours = await dispatch(bus, n)
        print(f"dispatch   bare publish→fetch  {summary_ms(bare)}")
        print(f"dispatch   submit→code entered {summary_ms(ours)}   p99 ratio {pct(ours, 99) / pct(bare, 99):.1f}x")
        lone = await dispatch(bus, n, capacity=8)  # a lone order on a worker with 8 free slots: no batch to wait for
        print(f"dispatch   same, capacity 8    {summary_ms(lone)}   p99 ratio {pct(lone, 99) / pct(bare, 99):.1f}x")
        core = await bare_core_latency(bus, n)
        stop, kv = await cancel_latency(bus, max(20, n // 6))
        print(f"cancel     bare core pub→sub   {summary_ms(core)}")
        print(f"cancel     publish→op stopped  {summary_ms(stop)}")
        print(f"cancel     publish→KV cancelled{summary_ms(kv)}")
        bare_rate = await bare_throughput(bus, ops)
        rate = await throughput(bus, ops)
        print(f"throughput bare JetStream work queue {bare_rate:8.0f} msg/s")
        print(f"throughput no-op operations e2e      {rate:8.0f} ops/s   ratio {bare_rate / rate:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--ops", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.ops))
