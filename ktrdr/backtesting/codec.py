"""Compact, pickle-free byte encoding of named numpy arrays (compressed npz)."""

from __future__ import annotations

import io
import zipfile

import numpy as np

from ktrdr.backtesting.errors import BacktestError


def pack(**arrays: np.ndarray) -> bytes:
    """Encode named arrays as compressed npz bytes."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def unpack(blob: bytes, *, what: str, required: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Decode `pack()` bytes, checking that the `required` arrays are present."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise BacktestError(f"{what} bytes are not a valid npz archive: {exc}", field=what,
                            hint="pass bytes produced by this package's encoder") from exc
    missing = [name for name in required if name not in arrays]
    if missing:
        raise BacktestError(f"{what} bytes lack {missing}", field=what,
                            hint="the bytes come from another format or version")
    return arrays


def text(value: str) -> np.ndarray:
    """A str as a uint8 array (npz stores it without pickle)."""
    return np.frombuffer(value.encode(), dtype=np.uint8)


def untext(array: np.ndarray) -> str:
    """Inverse of text()."""
    return array.tobytes().decode()
