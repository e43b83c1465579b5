"""`ktrdr --help` start-up time beside `python -c pass` and `python -c "import torch"` in the same run.

Run: .venv/bin/python bench/bench_cli.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def timed(argv: list[str], repeat: int) -> float:
    """Median wall time of running `argv` `repeat` times."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main(repeat: int) -> None:
    """Print each median and the ratios to the bare interpreter."""
    bare = timed([sys.executable, "-c", "pass"], repeat)
    help_ = timed([sys.executable, "-m", "ktrdr", "--help"], repeat)
    torch = timed([sys.executable, "-c", "import torch"], max(3, repeat // 2))
    print(f"python -c pass        median {bare * 1e3:7.1f} ms")
    print(f"ktrdr --help          median {help_ * 1e3:7.1f} ms   ratio {help_ / bare:.1f}x")
    print(f"python -c import torch median {torch * 1e3:7.1f} ms   ratio {torch / bare:.1f}x (what --help avoids)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    main(parser.parse_args().repeat)
