"""The main job: on a fresh machine, start the stack, prepare data, research an example strategy, report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from ktrdr.config import Settings

console = Console(stderr=True)
DEMO_START, DEMO_END = "2024-01-01", "2024-07-01"
BACKTEST_START = "2024-05-15"


def example_strategy(name: str = "rsi_mean_reversion") -> Path:
    """The example strategy file shipped in strategies/."""
    path = Path(__file__).resolve().parents[1] / "strategies" / f"{name}.yaml"
    if not path.is_file():
        from ktrdr.errors import KtrdrError

        raise KtrdrError(f"example strategy {path} not found", hint="run the demo from a checkout of the project")
    return path


async def prepare_data(client: Any, symbol: str, timeframes: list[str]) -> None:
    """Use stored data when present, else load a synthetic series through the data worker (with progress)."""
    from ktrdr.cli.session import follow

    stores = await _stored(client)
    for tf in timeframes:
        if f"{symbol}/{tf}" in stores:
            console.print(f"data: using stored {symbol} {tf}")
            continue
        console.print(f"data: no {symbol} {tf} stored — generating a synthetic series through the data worker")
        reply = await client.start("data", {"symbol": symbol, "timeframe": tf, "source": "synthetic",
                                            "mode": "full", "start": DEMO_START, "end": DEMO_END}, verb="load")
        record = await follow(client, reply["operation_id"], started_here=True)
        if record is None or record.status != "completed":
            raise _failed("data load", record)


async def _stored(client: Any) -> set[str]:
    from ktrdr.bus.objects import object_keys

    store = await client.bus.js.object_store(client.bus.names.bucket("data"))
    return set(await object_keys(store))


def _failed(what: str, record: Any) -> Exception:
    from ktrdr.errors import KtrdrError

    detail = f"{record.status}: {record.error.message if record.error else ''}" if record else "interrupted"
    return KtrdrError(f"demo {what} {detail}", hint="see `ktrdr ops` and the logs under KTRDR_HOME/logs")


async def research(client: Any, strategy: Path) -> Any:
    """Train then backtest as one parent operation, with live progress."""
    from ktrdr.cli.session import follow

    reply = await client.start("research", {"strategy_yaml": strategy.read_text(), "start": DEMO_START,
                                            "end": DEMO_END, "backtest_start": BACKTEST_START,
                                            "backtest_end": DEMO_END, "device": "auto"})
    console.print(f"research: {reply['operation_id']} (train, then backtest the trained model)")
    record = await follow(client, reply["operation_id"], started_here=True)
    if record is None or record.status != "completed":
        raise _failed("research", record)
    return record


async def run_demo(settings: Settings) -> Any:
    """Start what is missing, run the research, stop what was started; returns the research record."""
    from ktrdr.client import KtrdrClient
    from ktrdr.bus.handle import Bus
    from ktrdr.stack import Stack
    from ktrdr.strategy import load_strategy

    strategy = example_strategy()
    cfg = load_strategy(strategy)
    stack = Stack(settings, backtest_workers=1, training_workers=1, dummy_workers=0, data_worker=True,
                  training_pool="cpu" if settings.nats_url == "" else "", port=-1, monitor_port=0)
    console.print("starting the local stack (embedded nats-server, backend, workers)…")
    async with stack.running():
        console.print(f"stack ready in {stack.start_s:.1f}s at {stack.url}")
        bus = await Bus.open(settings, stack.url, name="ktrdr-demo")
        try:
            client = KtrdrClient(bus)
            await prepare_data(client, cfg.training_data.symbol_list[0], cfg.training_data.timeframe_list)
            return await research(client, strategy)
        finally:
            await bus.close()
            console.print("stopping what the demo started…")
