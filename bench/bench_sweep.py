"""A 16-variant sweep over 1, 2 and 4 training workers, beside the same variants trained one after another.

Run from the repository root: `.venv/bin/python bench/bench_sweep.py [--workers 1,2,4] [--epochs E] [--bars N]
[--gpu-worker]`.

Baseline: the 16 variant strategies the sweep expands to, trained in this process one after another with the
same training code (data read once, no bus). Each sweep runs on a fresh nats-server with the backend in this
process and the workers as `ktrdr worker training` processes, started and registered before the clock starts.
Every process trains on one thread (OMP_NUM_THREADS=1), so N workers ask for N cores: on a machine with fewer
cores than workers the scaling efficiency measures the machine, not the sweep.

Measured on a shared 2-core machine (load 3–5 from other work; --epochs 20 --bars 4000): in process 10.5 s;
1 worker 12.2 s (≈0.1 s per variant for data from the object store, the bundle saved, claim and events);
2 workers 11.1 s (55 %, 8 + 8 variants, each fit 0.62 → 0.97 s: the second core is not free);
4 workers 15.0 s (20 %: four single-threaded trainers on two cores). Scaling needs cores per worker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from bench.common import bench_bus  # noqa: E402
from ktrdr.bus.handle import Bus  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "strategies" / "rsi_mean_reversion.yaml"
SETS = [("model.architecture.hidden_layers", [[16], [32], [32, 16], [64, 32]]),
        ("training.labels.zigzag_threshold", [0.02, 0.03]), ("indicators.rsi_14.period", [7, 14])]


def strategy(epochs: int) -> str:
    """The example strategy with labels that fit the planted data, a fixed epoch count and no early stop."""
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["training"].update(labels={"source": "zigzag", "zigzag_threshold": 0.02, "label_lookahead": 10},
                           epochs=epochs, batch_size=64, early_stopping=None, class_weights="none")
    return yaml.safe_dump(raw)


def sequential(text: str, bars: int) -> float:
    """Seconds to train every variant one after another in this process."""
    import torch

    from ktrdr.strategy import load_strategy
    from ktrdr.strategy.sweep_grid import Axis, expand
    from ktrdr.training.pipeline import run_training
    from ktrdr.training.synthetic import planted_ohlcv

    torch.set_num_threads(1)
    frames = {"1h": planted_ohlcv(bars, seed=1)}
    variants = expand(text, [Axis(p, tuple(v)) for p, v in SETS])
    start = time.perf_counter()
    for _, variant in variants:
        run_training(load_strategy(variant), frames, device="cpu")
    return time.perf_counter() - start


def spawn(bus: Bus, worker_id: str, pool: str) -> subprocess.Popen[bytes]:
    """A `ktrdr worker training` process on the bench's server and namespace."""
    s = bus.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTRDR_")}
    env.update(KTRDR_NATS_URL=s.nats_url or "", KTRDR_NAMESPACE=s.namespace, KTRDR_HOME=s.home,
               KTRDR_HEARTBEAT_S="0.5", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "ktrdr", "worker", "training", "--worker-id", worker_id,
                             "--pool", pool], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def split(children: list) -> dict[str, object]:
    """Where a variant's time goes: the fit itself, the handler around it (data, features, bundle), the claim."""
    n = len(children)
    spread: dict[str, int] = {}
    for c in children:
        spread[c.worker_id] = spread.get(c.worker_id, 0) + 1
    return {"spread": sorted(spread.values()),
            "fit_s": sum(c.result["training"]["duration_s"] for c in children) / n,
            "handler_s": sum(c.result["operation_duration_s"] for c in children) / n,
            "record_s": sum((c.finished_at - c.started_at) / 1e9 for c in children) / n}


async def one_sweep(text: str, bars: int, workers: int, gpu_worker: bool) -> tuple[float, dict[str, object]]:
    """Wall seconds of one 16-variant sweep over `workers` CPU training workers (plus a GPU one if asked)."""
    from ktrdr.backend.service import Backend
    from ktrdr.bus.objects import ObjectFrameStore, object_stores
    from ktrdr.client import KtrdrClient
    from ktrdr.data import DataRepository
    from ktrdr.training.synthetic import planted_ohlcv

    async with bench_bus() as bus:
        objects = await object_stores(bus.js, bus.names)
        repo = DataRepository(ObjectFrameStore(objects.data, asyncio.get_running_loop()))
        await asyncio.to_thread(repo.save, "EURUSD", "1h", planted_ohlcv(bars, seed=1), "synthetic")
        backend = Backend(bus)
        await backend.start()
        pools = ["cpu"] * workers + (["gpu"] if gpu_worker else [])
        procs = [spawn(bus, f"w{i}", pool) for i, pool in enumerate(pools)]
        try:
            while sum(1 for w in backend.registry.workers.values() if w.alive) < len(procs):
                await asyncio.sleep(0.1)  # workers import torch first: not part of the sweep's time
            body = {"strategy_yaml": text, "sets": [{"path": p, "values": v} for p, v in SETS],
                    "max_parallel": 16, "device": "gpu" if gpu_worker and not workers else "auto"}
            start = time.perf_counter()
            op_id = (await KtrdrClient(bus).start("sweep", body))["operation_id"]
            while not (record := (await bus.ops.get(op_id))[0]).terminal:
                await asyncio.sleep(0.1)
            wall = time.perf_counter() - start
            assert record.status == "completed" and record.result["completed"] == 16, record.error
            children = [(await bus.ops.get(c))[0] for c in record.children]
            return wall, split(children)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
            await backend.stop()


def main() -> None:
    """Parse options, run the baseline and the sweeps, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--bars", type=int, default=2500)
    ap.add_argument("--gpu-worker", action="store_true", help="add a GPU-pool worker beside the CPU ones")
    args = ap.parse_args()
    text = strategy(args.epochs)
    print(f"16 variants, {args.epochs} epochs, {args.bars} bars; {os.cpu_count()} cores on this machine")
    base = sequential(text, args.bars)
    print(f"{'one after another, in process':<32} {base:7.1f} s  ({base / 16:.2f} s per variant)")
    first = None
    for n in (int(x) for x in args.workers.split(",")):
        wall, at = asyncio.run(one_sweep(text, args.bars, n, args.gpu_worker))
        first = first or wall * n  # the 1-worker sweep (or the first count run) is the scaling reference
        label = f"sweep, {n} training worker{'s' if n > 1 else ''}" + (" + gpu" if args.gpu_worker else "")
        print(f"{label:<32} {wall:7.1f} s  speed-up vs in-process {base / wall:4.2f}×  "
              f"efficiency {first / (n * wall):4.0%}  variants per worker {at['spread']}  per variant: fit "
              f"{at['fit_s']:.2f} s, handler {at['handler_s']:.2f} s, running {at['record_s']:.2f} s")


if __name__ == "__main__":
    main()
