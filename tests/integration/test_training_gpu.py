"""Where CUDA exists: a `ktrdr worker training --pool gpu` process joins the gpu pool, reports its GPU in its
heartbeats and trains on CUDA. The counterpart of test_gpu_pool_without_a_gpu_refuses_to_start (which skips
on GPU machines); this one skips everywhere else."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import torch

from ktrdr.bus.handle import Bus
from ktrdr.bus.objects import ObjectStores
from ktrdr.config import Settings
from ktrdr.operations.submit import submit
from ktrdr.protocol.codec import decode
from ktrdr.protocol.messages import WorkerHeartbeat
from tests.helpers import spawn_worker_process, wait_record
from tests.integration.test_training_worker import example_yaml, stores  # noqa: F401 — `stores` is a fixture

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU (torch.cuda.is_available() is False on this machine); "
                                       "test_gpu_pool_without_a_gpu_refuses_to_start covers machines without one")


async def test_gpu_worker_process_reports_its_gpu_and_trains_on_cuda(
        settings: Settings, stores: tuple[Bus, ObjectStores], tmp_path: Path) -> None:  # noqa: F811
    bus, _ = stores
    beats: asyncio.Queue[WorkerHeartbeat] = asyncio.Queue()

    async def on_beat(msg: Any) -> None:
        await beats.put(decode(msg.data, WorkerHeartbeat))

    await bus.nc.subscribe(bus.names.heartbeat("training", "g1"), cb=on_beat)
    proc = spawn_worker_process(settings, "training", "g1", tmp_path, "--pool", "gpu")
    try:
        beat = await asyncio.wait_for(beats.get(), 60)
        op = await submit(bus, "training", "gpu", {"strategy_yaml": example_yaml(epochs=2), "device": "gpu"})
        record = await wait_record(bus, op.id, lambda r: r.terminal, timeout=120)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
    props = torch.cuda.get_device_properties(0)
    assert beat.pool == "gpu" and beat.capabilities.gpu is not None, proc.stderr.read().decode()[-2000:]
    assert beat.capabilities.gpu.name == props.name
    assert beat.capabilities.gpu.memory_mb == props.total_memory // (1024 * 1024)
    assert record.status == "completed" and record.worker_id == "g1", record.error
    assert record.result["device"].startswith("cuda") and record.result["training"]["epochs_run"] == 2
