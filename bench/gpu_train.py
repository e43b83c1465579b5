"""The training figures of bench_training.py on CUDA: samples/s with AMP off and on, and the progress-reporting
share, beside the same MLP on the CPU as the baseline measured in the same run.

Run from the repository root: `.venv/bin/python bench/gpu_train.py [--samples N] [--epochs E] [--repeat R]`.
Without a usable CUDA device it prints why and exits 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_training import configs, progress_share, timed_run  # noqa: E402

from ktrdr.training.device import gpu_info, gpu_unavailable_reason  # noqa: E402
from ktrdr.training.synthetic import planted_features  # noqa: E402


def main() -> int:
    """Print CUDA figures, or the reason there are none."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=200000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=1024)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print(f"no CUDA device, nothing to measure: {gpu_unavailable_reason() or 'only an Apple MPS device'}")
        return 0
    print(f"torch {torch.__version__}, GPU {gpu_info()}")
    x, y = planted_features(args.samples + args.samples // 5, n_features=64, seed=0)
    data = (x[:args.samples], y[:args.samples], x[args.samples:], y[args.samples:])
    model, training = configs("mlp", args.epochs, args.batch_size)
    cpu_s, cpu_n = timed_run(data, model, training, "cpu", None, None)
    print(f"MLP [64,32] batch {args.batch_size} on cpu (baseline): {cpu_n / cpu_s:,.0f} samples/s")
    for amp in (False, True):
        r = progress_share(data, model, training, "cuda", amp, args.repeat)
        print(f"MLP [64,32] batch {args.batch_size} on cuda amp={amp}: "
              f"{args.samples * args.epochs / r['plain_s']:,.0f} samples/s ({cpu_s / r['plain_s']:.1f}x cpu); "
              f"progress {r['calls']} calls, with/without {r['ratio']:.3f}, paired median {r['paired']:.3f}, "
              f"accounted {100 * r['accounted_share']:.4f}%")
    for kind in ("lstm", "gru"):
        rnn, rnn_training = configs(kind, 1, args.batch_size)
        for amp in (False, True):
            seconds, samples = timed_run(data, rnn, rnn_training, "cuda", amp, None)
            print(f"{kind.upper()} [64] window 16 batch {args.batch_size} on cuda amp={amp}: "
                  f"{samples / seconds:,.0f} samples/s (1 epoch, includes warm-up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
