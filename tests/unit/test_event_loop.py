"""The event loop a serving command runs on: uvloop by default where installed, asyncio's on request."""

from __future__ import annotations

import pytest

from ktrdr.bus.tasks import loop_name
from ktrdr.cli.common import loop_factory, run
from ktrdr.config import load_settings
from ktrdr.errors import ConfigError

uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed here (Windows, or installed without it)")


async def _running_loop() -> str:
    return loop_name()


def test_settings_default_to_uvloop_and_refuse_an_unknown_loop_by_name() -> None:
    assert load_settings(env={}).event_loop == "uvloop"
    assert load_settings(env={"KTRDR_EVENT_LOOP": "asyncio"}).event_loop == "asyncio"
    with pytest.raises(ConfigError) as err:
        load_settings(env={"KTRDR_EVENT_LOOP": "trio"})
    assert "event_loop" in str(err.value) and "trio" in str(err.value)


def test_run_drives_the_command_on_the_loop_it_is_asked_for() -> None:
    assert run(_running_loop, loop="uvloop") == "uvloop"
    assert run(_running_loop, loop="asyncio") == "asyncio"
    assert run(_running_loop) == "asyncio", "commands that do not ask keep asyncio's loop"


def test_loop_factory_names_uvloop_only_when_asked() -> None:
    assert loop_factory("uvloop") is uvloop.new_event_loop
    assert loop_factory("asyncio") is None
