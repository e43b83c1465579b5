"""Training throughput (samples/s) and the cost of progress reporting, on CPU.

Run from the repository root: `.venv/bin/python bench/bench_training.py [--samples N] [--epochs E] [--repeat R]`.
Baseline for the progress cost: the same training (same seed, same data) with progress=None, timed in the same
run, alternating with the reported runs; the share is also accounted directly as calls x cost per call.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ktrdr.context import ProgressReporter  # noqa: E402
from ktrdr.strategy.config import ModelConfig, TrainingConfig, model_config  # noqa: E402
from ktrdr.training.synthetic import planted_features  # noqa: E402
from ktrdr.training.trainer import _Throttle, train_model  # noqa: E402


class CountingReporter(ProgressReporter):
    """A real ProgressReporter (with an on_change hook, as the worker runtime installs) that counts calls."""

    def __init__(self) -> None:
        super().__init__(on_change=lambda _flush: None)
        self.calls = 0

    def update(self, **fields: Any) -> None:
        self.calls += 1
        super().update(**fields)

    def metric(self, values: dict[str, Any], *, name: str = "epoch") -> None:
        self.calls += 1
        super().metric(values, name=name)


def configs(model_type: str, epochs: int, batch_size: int) -> tuple[ModelConfig, TrainingConfig]:
    """The benchmark's model (MLP [64, 32] or a one-layer recurrent net) and training settings."""
    model = model_config(model_type, hidden_layers=[64, 32] if model_type == "mlp" else [64],
                        sequence_length=16, dropout=0.1)
    training = TrainingConfig(epochs=epochs, batch_size=batch_size, seed=1,
                              early_stopping=None)
    return model, training


def timed_run(data: tuple, model: ModelConfig, training: TrainingConfig, device: str, amp: bool | None,
              progress: ProgressReporter | None) -> tuple[float, int]:
    """(seconds, samples trained) of one training run."""
    xt, yt, xv, yv = data
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = train_model(xt, yt, xv, yv, model_cfg=model, training_cfg=training, output_format="classification",
                      device=device, amp=amp, progress=progress)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, out.samples_trained


def per_call_cost(n: int = 20000) -> tuple[float, float]:
    """Seconds one reported update costs, and seconds one throttled (unreported) batch tick costs."""
    reporter = CountingReporter()
    start = time.perf_counter()
    for i in range(n):
        reporter.update(percentage=i / n, items_processed=i, items_total=n, current_item="x", context={"b": i})
    reported = (time.perf_counter() - start) / n
    throttle = _Throttle(reporter, n)
    throttle.last = time.monotonic() + 3600.0  # never due: measures the per-batch check alone
    start = time.perf_counter()
    for i in range(n):
        throttle.tick(i, 1, 1, i, n)
    return reported, (time.perf_counter() - start) / n


def progress_share(data: tuple, model: ModelConfig, training: TrainingConfig, device: str, amp: bool | None,
                   repeat: int) -> dict[str, float]:
    """Interleaved runs with and without a reporter (best-of and median paired ratio) and the accounted cost."""
    timed_run(data, model, training, device, amp, None)  # warm-up: allocator, kernels, thread pools
    plain, reported, calls = [], [], 0
    for _ in range(repeat):
        plain.append(timed_run(data, model, training, device, amp, None)[0])
        reporter = CountingReporter()
        reported.append(timed_run(data, model, training, device, amp, reporter)[0])
        calls = reporter.calls
    batches = training.epochs * -(-len(data[1]) // training.batch_size)
    call_s, tick_s = per_call_cost()
    return {"plain_s": min(plain), "reported_s": min(reported), "ratio": min(reported) / min(plain),
            "paired": statistics.median(r / p for r, p in zip(reported, plain)), "calls": calls,
            "accounted_share": (calls * call_s + batches * tick_s) / min(plain)}


def main() -> None:
    """Print samples/s and the progress-reporting share for the MLP (and a GRU figure) on CPU."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=40000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 keeps a shared machine steadier)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x, y = planted_features(args.samples + args.samples // 5, n_features=24, seed=0)
    data = (x[:args.samples], y[:args.samples], x[args.samples:], y[args.samples:])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.samples} train samples, "
          f"24 features, {args.epochs} epochs")
    model, training = configs("mlp", args.epochs, 256)
    r = progress_share(data, model, training, "cpu", None, args.repeat)
    print(f"MLP [64,32] batch 256 on cpu: {args.samples * args.epochs / r['plain_s']:,.0f} samples/s "
          f"(includes validation each epoch)")
    print(f"progress reporting: {r['calls']} reported calls; best with/without = {r['reported_s']:.3f}s / "
          f"{r['plain_s']:.3f}s = {r['ratio']:.3f}, median paired ratio {r['paired']:.3f} (A/B, noisy on a shared "
          f"machine); accounted (calls x cost + batches x throttle check) = "
          f"{100 * r['accounted_share']:.4f}% of training time")
    model, training = configs("gru", 1, 256)
    seconds, samples = timed_run((data[0][:4000], data[1][:4000], data[2], data[3]), model, training, "cpu", None,
                                 None)
    print(f"GRU [64] window 16 batch 256 on cpu: {samples / seconds:,.0f} samples/s (1 epoch)")


if __name__ == "__main__":
    main()
