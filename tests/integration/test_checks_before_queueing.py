"""Dates, ranges, symbols and timeframes are checked before anything is queued: by the CLI (exit 2) and by the API
(a 400 naming the field), so nothing fails later on a worker."""

from __future__ import annotations

import pytest

from ktrdr.client import ApiError
from ktrdr.config import Settings
from tests.integration.conftest import BackendPool
from tests.integration.test_cli_operations import ktrdr

BAD = [({"start": "2024-13-45"}, "start"), ({"start": "yesterday"}, "start"),
       ({"start": "2024-02-01", "end": "2024-01-01"}, "end"), ({"symbol": "EU R"}, "symbol"),
       ({"timeframe": "7q"}, "timeframe")]


@pytest.mark.parametrize(("bad", "field"), BAD)
async def test_the_api_refuses_and_queues_nothing(settings: Settings, backends: BackendPool, client,
                                                  bad: dict, field: str) -> None:
    await backends.start()
    with pytest.raises(ApiError) as refused:
        await client.start("data", {"symbol": "EURUSD", "timeframe": "1h", "source": "synthetic", **bad}, "load")
    assert refused.value.code == 400 and field in str(refused.value)
    assert (await client.list())["total"] == 0


async def test_training_and_research_periods_are_checked_too(backends: BackendPool, client) -> None:
    await backends.start()
    yaml = open("strategies/rsi_mean_reversion.yaml").read()
    for area, body in (("training", {"start": "2024-05-01", "end": "2024-01-01"}),
                       ("research", {"backtest_start": "soon"})):
        with pytest.raises(ApiError) as refused:
            await client.start(area, {"strategy_yaml": yaml, **body})
        assert refused.value.code == 400
    assert (await client.list())["total"] == 0


@pytest.mark.parametrize("args", [["--start", "2024-13-45"], ["--start", "yesterday"],
                                  ["--start", "2024-02-01", "--end", "2024-01-01"]])
async def test_the_cli_refuses_before_asking(settings: Settings, backends: BackendPool, client, args) -> None:
    await backends.start()
    done = await ktrdr(settings, "data", "load", "EURUSD", "1h", "--source", "synthetic", *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "ISO 8601" in done.stderr + done.stdout \
        or "not after" in done.stderr, done.stderr
    assert (await client.list())["total"] == 0
