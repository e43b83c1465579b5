"""A longer chaos run than the CI test: operations through subprocess workers while workers are SIGKILLed, the
backend is killed and restarted and nats-server restarts; prints the outcome counts and the cause of every re-run.

Run: .venv/bin/python bench/bench_chaos.py [--ops 200] [--kills 20] [--seed 1] [--workers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.chaos.harness import ChaosConfig, run_chaos  # noqa: E402


def main() -> None:
    """Parse options into a ChaosConfig, run it, print the report."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ops", type=int, default=200)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=6)
    args = ap.parse_args()
    every = 1.0
    cfg = ChaosConfig(ops=args.ops, kills=args.kills, workers=args.workers, seed=args.seed, steps=args.steps,
                      kill_every_s=every, backend_restart_at=every * args.kills / 3,
                      server_restart_at=every * args.kills * 2 / 3, settle_timeout_s=60.0)
    root = Path(tempfile.mkdtemp(prefix="ktrdr-chaos-"))
    report = asyncio.run(run_chaos(cfg, root))
    print(f"chaos      {report.ops} operations, {report.kills} worker SIGKILLs, {report.backend_restarts} backend "
          f"restart(s), {report.server_restarts} nats-server restart(s), seed {args.seed}, {report.elapsed_s} s")
    print(f"chaos      completed {report.completed}  failed {report.failed}  cancelled {report.cancelled}  "
          f"lost {report.lost}  dead-lettered {report.dead_lettered}")
    print(f"chaos      re-run {report.reruns} (resumed from a checkpoint {report.resumed_from_checkpoint})  "
          f"completed twice {report.double_completions}  exited on their own: workers {report.worker_exits}, "
          f"backends {report.backend_exits}")
    for cause, count in sorted(report.rerun_causes.items(), key=lambda kv: -kv[1]):
        print(f"chaos      re-run cause: {count:4d} x {cause}")
    for op_id, state in report.lost_states.items():
        killed = " (killed)" if state.rsplit(" ", 1)[-1] in report.killed else ""
        print(f"chaos      never ended {op_id}: {state}{killed}")
    for op_id, error in report.failures.items():
        print(f"chaos      failed {op_id}: {error}")
    print(f"chaos      logs in {root}")


if __name__ == "__main__":
    main()
