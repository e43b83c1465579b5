"""Codec and synthetic-generation figures, each against a baseline measured in the same run."""

import pickle
import time
import zlib

from ktrdr.data import SyntheticProvider, decode_frame, encode_frame


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    df = SyntheticProvider(1).fetch("EURUSD", "1m", "2024-01-01", "2024-04-01")
    ours = encode_frame(df)
    base = zlib.compress(pickle.dumps(df), 6)  # baseline: pickled frame, same zlib level
    print(f"rows={len(df)}  encoded={len(ours)} B  pickle+zlib={len(base)} B  size ratio={len(ours) / len(base):.2f}")
    t_enc, t_base = timed(lambda: encode_frame(df)), timed(lambda: zlib.compress(pickle.dumps(df), 6))
    t_dec = timed(lambda: decode_frame(ours))
    print(f"encode {t_enc * 1e3:.1f} ms vs pickle+zlib {t_base * 1e3:.1f} ms (ratio {t_enc / t_base:.2f}); "
          f"decode {t_dec * 1e3:.1f} ms")
    t_gen = timed(lambda: SyntheticProvider(2).fetch("EURUSD", "1m", "2024-01-01", "2024-04-01"), 1)
    print(f"synthetic 1m quarter: {t_gen * 1e3:.0f} ms ({len(df) / t_gen:,.0f} bars/s)")


if __name__ == "__main__":
    main()
