"""`ktrdr --help` start-up time beside `python -c pass` and `python -c "import torch"` in the same run.

Run: .venv/bin/python bench/bench_cli.py [--repeat 7]
Every command runs once unmeasured first, with bytecode cached in a temporary folder (as an installed CLI has it
after its first run, even where PYTHONDONTWRITEBYTECODE is set). Wall time swings with a busy machine; the CPU time
(user + system) of the child is the steadier figure, so both are shown and each ratio is to the bare interpreter.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def timed(argv: list[str], repeat: int, env: dict[str, str]) -> tuple[float, float]:
    """Median wall and median CPU seconds of running `argv` `repeat` times (after one warm-up run)."""
    subprocess.run(argv, check=True, capture_output=True, env=env)
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def line(name: str, figures: tuple[float, float], bare: tuple[float, float] | None) -> str:
    """One row: wall and CPU medians, and their ratios to `bare`."""
    wall, cpu = figures
    text = f"{name:24} wall {wall * 1e3:7.1f} ms   cpu {cpu * 1e3:7.1f} ms"
    if bare:
        text += f"   ratio wall {wall / bare[0]:.1f}x  cpu {cpu / bare[1]:.1f}x"
    return text


def main(repeat: int) -> None:
    """Print each median and the ratios to the bare interpreter."""
    with tempfile.TemporaryDirectory(prefix="ktrdr-pyc-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        bare = timed([sys.executable, "-c", "pass"], repeat, env)
        help_ = timed([sys.executable, "-m", "ktrdr", "--help"], repeat, env)
        torch = timed([sys.executable, "-c", "import torch"], max(3, repeat // 2), env)
    print(line("python -c pass", bare, None))
    print(line("ktrdr --help", help_, bare))
    print(line("python -c 'import torch'", torch, bare) + "  (what --help avoids)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    main(parser.parse_args().repeat)
