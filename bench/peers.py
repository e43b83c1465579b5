"""The same no-op workload through this project, Celery on Redis and taskiq-nats, side by side.

Run: .venv/bin/python bench/peers.py [--workers 2] [--capacity 1 2] [--tasks 2000] [--rtt 200] [--rounds 3]
[--write docs/benchmarks.md]
(`make bench-peers`). Each system gets a fresh server and `--workers` worker processes: this project a backend
and `ktrdr worker dummy --capacity N` processes, a row per capacity (submitted through the API, completion seen
in the operations KV); Celery prefork with acks late, prefetch 1 and the Redis result backend; taskiq with the
JetStream pull broker and the NATS result backend. The peers live in a bench-only virtual environment this script
creates (.venv-peers); Redis is the distribution's `redis-server` (`apt-get install -y redis-server`), and Celery
is skipped without it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import pct  # noqa: E402
from ktrdr.bus.embedded import start_server  # noqa: E402
from ktrdr.bus.handle import Bus  # noqa: E402
from ktrdr.client import KtrdrClient  # noqa: E402
from ktrdr.config import Settings  # noqa: E402
from tests.chaos.harness import wait_backend  # noqa: E402
from tests.chaos.procs import Child, ktrdr_env  # noqa: E402

PEERS_VENV = ROOT / ".venv-peers"
PEER_PACKAGES = ["celery[redis]", "taskiq", "taskiq-nats"]
Figures = dict[str, float]


def peers_python() -> Path:
    """The bench-only venv's interpreter, created and filled on first use."""
    py = PEERS_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    probe = subprocess.run([str(py), "-c", "import celery, redis, taskiq, taskiq_nats"], capture_output=True)
    if probe.returncode != 0:
        print(f"installing {', '.join(PEER_PACKAGES)} into {PEERS_VENV} …", flush=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return py


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_driver(py: Path, driver: str, env: dict[str, str], args: argparse.Namespace) -> Figures:
    """Run a peer's driver in the peers venv and read its one JSON line."""
    out = subprocess.run([str(py), str(ROOT / "bench" / "peer_queues" / driver), str(args.tasks), str(args.rtt)],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    line = next((ln for ln in reversed(out.stdout.splitlines()) if ln.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"{driver} printed no figures (exit {out.returncode}): {out.stderr[-1500:]}")
    return json.loads(line)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def with_peer(py: Path, server: subprocess.Popen, worker_args: list[str], env: dict[str, str], driver: str,
              args: argparse.Namespace, log: Path) -> Figures:
    """Start a peer's workers (`python -m …` in the peers venv), run its driver, stop workers and server."""
    worker = subprocess.Popen([str(py), "-m", *worker_args], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=log.open("wb"))
    try:
        return run_driver(py, driver, env, args)
    finally:
        stop(worker)
        stop(server)


def celery(py: Path, root: Path, args: argparse.Namespace) -> Figures | None:
    """Celery on a fresh redis-server, `--workers` prefork children."""
    redis = shutil.which("redis-server")
    if redis is None:
        print("celery     skipped: no redis-server (Debian/Ubuntu: `sudo apt-get install -y redis-server`)")
        return None
    port = free_port()
    server = subprocess.Popen([redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                               "--dir", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {**os.environ, "PEER_REDIS_URL": f"redis://127.0.0.1:{port}/0", "PYTHONPATH": str(ROOT)}
    return with_peer(py, server, ["celery", "-A", "bench.peer_queues.celery_app", "worker", "--pool", "prefork",
                                  "-c", str(args.workers), "--prefetch-multiplier", "1", "-O", "fair",
                                  "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"],
                     env, "celery_driver.py", args, root / "celery.log")


def taskiq(py: Path, root: Path, args: argparse.Namespace) -> Figures:
    """taskiq-nats on a fresh nats-server, `--workers` worker processes."""
    server, url = start_server(root / "taskiq-js", root / "taskiq-server.log")
    env = {**os.environ, "PEER_NATS_URL": url, "PYTHONPATH": str(ROOT)}
    return with_peer(py, server, ["taskiq", "worker", "bench.peer_queues.taskiq_app:broker",
                                  "--workers", str(args.workers)], env, "taskiq_driver.py", args, root / "taskiq.log")


class Completions:
    """Operation ids seen `completed` in the operations KV, with a waiter per id and a running count."""

    def __init__(self, bus: Bus) -> None:
        self.bus, self.count, self.waiters = bus, 0, {}  # type: ignore[var-annotated]
        self.all_done = asyncio.Event()
        self.target = 0

    async def run(self) -> None:
        """Follow the bucket (new updates only) until cancelled."""
        watcher = await self.bus.ops.kv.watchall(include_history=False, ignore_deletes=True)
        while True:
            entry = await watcher.updates(timeout=None)  # type: ignore[arg-type]
            if entry is None or not entry.value or b'"status":"completed"' not in entry.value:
                continue
            self.count += 1
            if (fut := self.waiters.pop(entry.key, None)) is not None and not fut.done():
                fut.set_result(time.perf_counter())
            if self.target and self.count >= self.target:
                self.all_done.set()

    def expect(self, op_id: str) -> asyncio.Future:
        """A future resolved with the time the record of `op_id` is seen completed."""
        fut = asyncio.get_running_loop().create_future()
        self.waiters[op_id] = fut
        return fut


async def ktrdr_figures(client: KtrdrClient, done: Completions, args: argparse.Namespace) -> Figures:
    """Warm up, 2,000 submitted at once (completed/s), then one at a time (submit → completed in KV)."""
    await wait_backend(client.bus, 60.0)
    warm = [f"op_dummy_warm_{i}" for i in range(args.workers * 2)]
    waits = [done.expect(w) for w in warm]
    await asyncio.gather(*(client.start("dummy", {"operation_id": w, "steps": 0}) for w in warm))
    await asyncio.wait_for(asyncio.gather(*waits), 120)
    done.count, done.target = 0, args.tasks
    t0 = time.perf_counter()
    await asyncio.gather(*(client.start("dummy", {"steps": 0}) for _ in range(args.tasks)))
    await asyncio.wait_for(done.all_done.wait(), 600)
    elapsed = time.perf_counter() - t0
    rtts = []
    for i in range(args.rtt):
        op_id = f"op_dummy_rtt_{i:05d}"
        fut = done.expect(op_id)
        t = time.perf_counter()
        await client.start("dummy", {"operation_id": op_id, "steps": 0})
        rtts.append(await asyncio.wait_for(fut, 60) - t)
    return {"tasks": args.tasks, "throughput": args.tasks / elapsed, "p50_ms": pct(rtts, 50) * 1e3,
            "p99_ms": pct(rtts, 99) * 1e3}


async def ours(root: Path, args: argparse.Namespace, capacity: int) -> Figures:
    """This project on a fresh nats-server: one backend, `--workers` `ktrdr worker dummy --capacity N` processes."""
    server, url = start_server(root / "ktrdr-js", root / "ktrdr-server.log")
    settings = Settings(nats_url=url, namespace="peers", home=str(root / "home"))
    bus = await Bus.open(settings, setup=True)
    env = ktrdr_env(settings, root / "home")
    children = [Child("backend", ["backend"], env, root / "backend.log")]
    children += [Child(f"w{i}", ["worker", "dummy", "--capacity", str(capacity)], env, root / f"worker{i}.log")
                 for i in range(args.workers)]
    done = Completions(bus)
    watch = asyncio.create_task(done.run())
    try:
        return await ktrdr_figures(KtrdrClient(bus, timeout=30), done, args)
    finally:
        watch.cancel()
        for child in children:
            child.terminate()
        await bus.close()
        stop(server)


def table(results: dict[str, Figures], args: argparse.Namespace, load: str) -> str:
    """The side-by-side markdown table: every row against each peer (above 1 favours the row for throughput,
    below 1 for times)."""
    peers = [name for name in ("celery", "taskiq") if name in results]
    lines = [f"{args.workers} worker processes each; {args.tasks} no-op tasks submitted at once, then {args.rtt} one "
             f"at a time; the median of {args.rounds} rounds, the systems taking turns in each. Load average "
             f"during the run: {load}. ktrdr: a backend and `ktrdr worker dummy` processes (capacity 1 is the "
             "default: one operation at a time per process, as a Celery prefork child; capacity 2 runs two on "
             "threads), submitted through the API, completion seen in the operations KV. Celery: prefork, acks "
             "late, prefetch 1, Redis broker and result backend. taskiq: JetStream pull broker, NATS object-store "
             "results (its client polls them; every 1 ms here).", "",
             "| system | tasks/s | round trip p50 | p99 |"
             + "".join(f" tasks/s ÷ {p}'s | p50 ÷ {p}'s | p99 ÷ {p}'s |" for p in peers),
             "|---|---:|---:|---:|" + "---:|" * (3 * len(peers))]
    for name, f in results.items():
        ratios = []
        for peer in peers:
            other = results[peer]
            ratios += (["—"] * 3 if name == peer else
                       [f"{f['throughput'] / other['throughput']:.2f}x", f"{f['p50_ms'] / other['p50_ms']:.2f}x",
                        f"{f['p99_ms'] / other['p99_ms']:.2f}x"])
        lines.append(f"| {name} | {f['throughput']:.0f} | {f['p50_ms']:.2f} ms | {f['p99_ms']:.2f} ms |"
                     + "".join(f" {r} |" for r in ratios))
    return "\n".join(lines)


def write_section(path: Path, body: str) -> None:
    """Replace (or append) the peers section of the benchmarks page."""
    head = "## Peers: Celery and taskiq side by side (bench/peers.py)"
    section = f"{head}\n\n`make bench-peers`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n{body}\n"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(head) + r".*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    path.write_text(text)


def one_round(root: Path, py: Path | None, args: argparse.Namespace) -> dict[str, Figures]:
    """Each selected system once, in turn, each on its own fresh server."""
    results: dict[str, Figures] = {}
    root.mkdir(parents=True, exist_ok=True)
    if "ktrdr" in args.only:
        for capacity in args.capacity:
            results[f"ktrdr, capacity {capacity}"] = asyncio.run(ours(root / f"cap{capacity}", args, capacity))
    if "celery" in args.only and py and (fig := celery(py, root, args)) is not None:
        results["celery"] = fig
    if "taskiq" in args.only and py:
        results["taskiq"] = taskiq(py, root, args)
    return results


def medians(rounds: list[dict[str, Figures]]) -> dict[str, Figures]:
    """Per system, the median of each figure over the rounds (a busy machine swings single runs)."""
    out: dict[str, Figures] = {}
    for name in rounds[0]:
        runs = [r[name] for r in rounds if name in r]
        out[name] = {k: statistics.median(f[k] for f in runs) for k in runs[0]}
    return out


def main(args: argparse.Namespace) -> None:
    """`--rounds` rounds of every system in turn (alternating, so load swings hit all alike); medians in the table."""
    root = Path(tempfile.mkdtemp(prefix="ktrdr-peers-"))
    py = peers_python() if {"celery", "taskiq"} & set(args.only) else None
    load0 = os.getloadavg()[0]
    rounds = []
    for i in range(args.rounds):
        rounds.append(one_round(root / f"round{i}", py, args))
        print(f"round {i + 1}: " + "; ".join(f"{k} {f['throughput']:.0f}/s, {f['p50_ms']:.2f}/{f['p99_ms']:.2f} ms"
                                            for k, f in rounds[-1].items()), flush=True)
    load = f"{load0:.1f} at start, {os.getloadavg()[0]:.1f} at end (1-minute)"
    out = table(medians(rounds), args, load)
    print(out)
    if args.write:
        write_section(Path(args.write), out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2, help="worker processes per system")
    ap.add_argument("--tasks", type=int, default=2000, help="tasks submitted at once for the throughput")
    ap.add_argument("--rtt", type=int, default=200, help="tasks sent one at a time for the round trip")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of every system in turn; the table shows medians")
    ap.add_argument("--capacity", type=int, nargs="+", default=[1, 2],
                    help="operations at once per ktrdr worker process; one ktrdr row per value")
    ap.add_argument("--only", nargs="+", default=["ktrdr", "celery", "taskiq"], choices=["ktrdr", "celery", "taskiq"])
    ap.add_argument("--write", help="also write the table into this markdown file (docs/benchmarks.md)")
    main(ap.parse_args())
