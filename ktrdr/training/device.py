"""Where training runs: CUDA > MPS > CPU, GPU facts for heartbeats, and a clear refusal for GPU-only workers."""

from __future__ import annotations

from typing import Any, Literal

import torch

from ktrdr.training.errors import DeviceUnavailable, TrainingError

DevicePreference = Literal["auto", "gpu", "cpu"]


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(preference: DevicePreference = "auto") -> torch.device:
    """cpu → CPU; gpu → CUDA or MPS or DeviceUnavailable; auto → the best available (cuda > mps > cpu)."""
    if preference == "cpu":
        return torch.device("cpu")
    if preference not in ("auto", "gpu"):
        raise TrainingError(f"unknown device preference {preference!r}", field="device", hint="use auto, gpu or cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    if preference == "gpu":
        require_gpu()
    return torch.device("cpu")


def gpu_info() -> dict[str, Any] | None:
    """Name and memory of the accelerator training would use, or None when there is none."""
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {"type": "cuda", "name": props.name, "memory_bytes": int(props.total_memory),
                "count": torch.cuda.device_count(), "cuda_version": torch.version.cuda}
    if _mps_available():
        return {"type": "mps", "name": "Apple MPS", "memory_bytes": None, "count": 1, "cuda_version": None}
    return None


def gpu_unavailable_reason() -> str | None:
    """Why no GPU can be used (None when one can)."""
    if torch.cuda.is_available() or _mps_available():
        return None
    if torch.version.cuda is None:
        return (f"this torch build ({torch.__version__}) has no CUDA support and no Apple MPS device is present")
    try:
        count = torch.cuda.device_count()
    except RuntimeError as exc:  # a broken driver surfaces here
        return f"torch {torch.__version__} (CUDA {torch.version.cuda}) cannot reach the driver: {exc}"
    return f"torch {torch.__version__} is built for CUDA {torch.version.cuda} but sees {count} usable devices"


def require_gpu() -> dict[str, Any]:
    """Return gpu_info() or raise DeviceUnavailable saying why (used by workers of the gpu pool)."""
    reason = gpu_unavailable_reason()
    if reason is not None:
        raise DeviceUnavailable(reason, hint="start this worker with --pool cpu, or install a CUDA build of torch "
                                             "on a machine with an NVIDIA GPU and working driver")
    info = gpu_info()
    assert info is not None  # reason is None only when a device exists
    return info
