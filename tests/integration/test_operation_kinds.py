"""A kind added in a few lines runs end to end: API checks, CLI start and listing, a worker, the monitor filter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from textual.widgets import SelectionList

from ktrdr.bus.handle import Bus
from ktrdr.client import ApiError, KtrdrClient
from ktrdr.config import Settings
from ktrdr.operations import kinds
from ktrdr.operations.params import NonNegInt, Params
from ktrdr.workers.context import OperationContext
from ktrdr.workers.serve import handler_of
from ktrdr_tui.app import MonitorApp
from ktrdr_tui.dialogs import FilterDialog
from ktrdr_tui.model import Filters
from ktrdr_tui.render import short_id
from tests.helpers import wait_record
from tests.integration.conftest import BackendPool, WorkerPool
from tests.integration.test_cli_operations import ktrdr
from tests.integration.test_tui_monitor import SIZE, table_text, until


# -- the whole new kind: its parameters, its handler, its entry ------------------------------------------
class EchoParams(Params, kw_only=True, frozen=True):
    """Parameters of the throwaway `echo` kind."""

    text: str = "hello"
    times: NonNegInt = 1


def run_echo(ctx: OperationContext) -> dict[str, Any]:
    """Repeat the text."""
    p = kinds.get("echo").parse(ctx.parameters)
    return {"echo": p.text * p.times}


ECHO = kinds.OperationKind(name="echo", params=EchoParams, pools=("cpu",), default_pool="cpu",
                           summary="Repeat a text.", handler=f"{__name__}:run_echo")
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def echo_kind() -> Iterator[kinds.OperationKind]:
    """The kind is in the table before the bus fixture creates this test's work consumers."""
    with kinds.registered(ECHO) as kind:
        yield kind


async def test_a_new_kind_runs_through_api_worker_cli_and_monitor(
        settings: Settings, bus: Bus, backends: BackendPool, workers: WorkerPool) -> None:
    await backends.start()
    client = KtrdrClient(bus)
    with pytest.raises(ApiError) as bad:
        await client.start("echo", {"times": -1})
    assert bad.value.code == 400 and bad.value.field == "times"

    cli = await ktrdr(settings, "--json", "start", "echo", "text=ab", "times=3")  # a CLI that never heard of echo
    assert cli.returncode == 0, cli.stderr
    started = json.loads(cli.stdout)
    assert started["pool"] == "cpu" and "ktrdr worker echo" in started["warnings"][0]
    await workers.start(handler_of(ECHO), op_type="echo", pool="cpu")
    record = await wait_record(bus, started["operation_id"], lambda r: r.terminal, timeout=30)
    assert record.status == "completed" and record.result == {"echo": "ababab"}
    dummy = await client.start("dummy", {"steps": 0})

    listed = await ktrdr(settings, "--json", "ops", "--type", "echo")
    assert listed.returncode == 0, listed.stderr
    assert [op["id"] for op in json.loads(listed.stdout)["operations"]] == [record.id]

    app = MonitorApp(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: {record.id, dummy["operation_id"]} <= set(app.ops.records), what="both listed")
        await pilot.press("slash")
        await until(pilot, lambda: isinstance(app.screen, FilterDialog), what="filter dialog")
        types = app.screen.query_one("#types", SelectionList)
        assert {"echo", "pipeline"} <= {types.get_option_at_index(i).value for i in range(types.option_count)}
        app.screen.dismiss(Filters(types=frozenset({"echo"})))
        await until(pilot, lambda: short_id(dummy["operation_id"]) not in table_text(app, "operations"),
                    what="dummy filtered out")
        assert short_id(record.id) in table_text(app, "operations")
