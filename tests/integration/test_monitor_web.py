"""`ktrdr monitor --web`: the monitor in a real (headless) Chromium while dummy operations run, and sessions that
end with their tab — checked against the nats-server's own connection list (/connz)."""

from __future__ import annotations

import asyncio
import base64
import inspect
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from ktrdr.bus.embedded import pid_alive, start_server
from ktrdr.bus.handle import Bus
from ktrdr.client import KtrdrClient
from ktrdr.config import Settings
from ktrdr.operations.submit import submit
from ktrdr.stack import child_env
from ktrdr_tui.app import MonitorApp
from ktrdr_tui.detail import DetailScreen
from ktrdr_tui.dialogs import ConfirmCancel
from ktrdr_tui.render import short_id
from ktrdr_tui.web import MonitorWeb
from tests.browser import Browser, chromium, find_chromium
from tests.integration.conftest import BackendPool, WorkerPool
from tests.integration.test_tui_monitor import shots_dir, status_of, table_text
from tests.integration.test_tui_monitor import until as until_ui

pytestmark = pytest.mark.integration
MONITOR = "ktrdr-monitor"  # the connection name every monitor session uses
_HTTP = re.compile(r"Starting http monitor on ([\d.]+:\d+)")


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A nats-server of this module's own with its monitoring endpoint on: (client URL, http URL)."""
    root = tmp_path_factory.mktemp("nats-web")
    proc, url = start_server(root / "js", root / "server.log", port=-1, monitor_port=-1)
    match = _HTTP.search((root / "server.log").read_text())
    assert match, "nats-server logged no monitoring address"
    yield url, f"http://{match.group(1)}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def nats_url(monitored: tuple[str, str]) -> str:
    """Every fixture of this module (settings, bus, workers) talks to the monitored server."""
    return monitored[0]


async def monitor_connections(http_url: str) -> int:
    """Open client connections named like a monitor, as the server itself counts them."""
    async with aiohttp.ClientSession() as http, http.get(f"{http_url}/connz?limit=4096") as resp:
        data = await resp.json()
    return sum(1 for c in data.get("connections") or [] if c.get("name") == MONITOR)


def connections(http_url: str, count: int) -> Callable[[], Awaitable[bool]]:
    """A check: the server counts exactly `count` monitor connections."""
    async def check() -> bool:
        return await monitor_connections(http_url) == count
    return check


async def until(check: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
    """Wait for an outside state (the server's counts, a child's exit) with a deadline."""
    deadline = time.monotonic() + timeout
    while not ((await value) if inspect.isawaitable(value := check()) else value):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture
async def web(settings: Settings) -> AsyncIterator[MonitorWeb]:
    """The web monitor on a free port, each session a real `ktrdr monitor` process."""
    server = MonitorWeb([sys.executable, "-m", "ktrdr", "monitor"], child_env(settings, settings.nats_url), port=0)
    await server.start()
    yield server
    await server.stop()


async def test_chromium_shows_the_live_monitor_and_closing_the_tab_closes_its_connection(
        settings: Settings, bus: Bus, backends: BackendPool, workers: WorkerPool, web: MonitorWeb,
        monitored: tuple[str, str], tmp_path: Path) -> None:
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium installed (Debian/Ubuntu: apt-get install chromium); the browser check needs one")
    await backends.start()
    await workers.start(worker_id="w-web", capacity=2)
    client = KtrdrClient(bus)
    ops = [await submit(bus, "dummy", "cpu", {"steps": 400, "step_seconds": 0.1}) for _ in range(3)]

    async def stack_busy() -> bool:  # so the monitor's first read already holds the worker and running operations
        records = [await client.get(op.id) for op in ops]
        return [w["worker_id"] for w in await client.workers()] == ["w-web"] and \
            sum(r.status == "running" for r in records) == 2
    await until(stack_busy, "the worker to run two operations")
    async with chromium(binary) as browser:
        target, tab = await browser.open_tab(web.url, 1280, 600)
        # textual-serve marks the page once the app's first output arrived; the intro card is hidden then.
        await browser.wait_for(tab, "document.body.classList.contains('-first-byte')")
        await until(connections(monitored[1], 1), "the tab's NATS connection")
        session = next(iter(web.sessions))
        connected_at = session.bytes_sent  # what it drew while connecting does not count
        await until(lambda: session.bytes_sent > connected_at + 20_000, "a full screen of output once connected")
        png = await _settled_screenshot(browser, tab)
        colours, filled = await _variety(browser, tab, png)
        # The monitor draws on every band (pane borders run the full height); the intro card, shown until the app
        # speaks, covers about half of them, and a blank terminal none.
        assert colours >= 16 and filled >= 0.9, f"the page looks blank ({colours} colours, {filled:.0%} rows drawn)"
        (shots_dir(tmp_path) / "monitor-web.png").write_bytes(png)
        await browser.close_tab(target)
        await until(connections(monitored[1], 0), "the connection to close with the tab")
        await until(lambda: not web.sessions and not pid_alive(session.pid), "the session to end")


async def _settled_screenshot(browser: Browser, tab: str) -> bytes:
    """A screenshot once the fade-in is over (the terminal's opacity transition takes 0.3 s)."""
    await browser.wait_for(tab, "getComputedStyle(document.querySelector('.textual-terminal')).opacity === '1'")
    return await browser.screenshot(tab)


async def _variety(browser: Browser, tab: str, png: bytes) -> tuple[int, float]:
    """Distinct colours in the screenshot and the share of 10-pixel bands with more than the background in them,
    decoded by the browser itself (no image library needed)."""
    script = """(async () => {
      const img = new Image(); img.src = 'data:image/png;base64,%s'; await img.decode();
      const c = new OffscreenCanvas(img.width, img.height), g = c.getContext('2d'); g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, img.width, img.height).data, all = new Set(); let bands = 0, drawn = 0;
      for (let y = 0; y < img.height; y += 10) {
        const row = new Set();
        for (let x = 0; x < img.width; x++) { const i = (y * img.width + x) * 4;
          const v = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2]; row.add(v); all.add(v); }
        bands++; if (row.size > 1) drawn++;
      }
      return [all.size, drawn / bands];
    })()""" % base64.b64encode(png).decode()
    result = await browser.call("Runtime.evaluate", tab, expression=script, awaitPromise=True, returnByValue=True)
    colours, filled = result["result"]["value"]
    return int(colours), float(filled)


@pytest.mark.slow
@pytest.mark.timeout(300)  # twenty monitor processes start on what may be a loaded two-core machine
async def test_twenty_sessions_opened_and_closed_leave_no_connection_process_or_task(
        bus: Bus, web: MonitorWeb, monitored: tuple[str, str]) -> None:
    baseline_tasks = len(asyncio.all_tasks())
    assert await monitor_connections(monitored[1]) == 0
    pids: list[int] = []
    async with aiohttp.ClientSession() as http:
        for _batch in range(4):  # 4 × 5 tabs at once: twenty in all, without twenty processes on two cores
            tabs = [await http.ws_connect(f"{web.url}ws?width=120&height=40") for _ in range(5)]
            drawn = [asyncio.Event() for _ in tabs]
            readers = [asyncio.create_task(_read(ws, event)) for ws, event in zip(tabs, drawn)]
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in drawn)), 60)  # every tab drew the monitor
            await until(connections(monitored[1], 5), "five monitor connections")
            pids += [s.pid for s in web.sessions]
            for ws in tabs:
                await ws.close()
            await asyncio.gather(*readers)
            await until(connections(monitored[1], 0), "every connection to close")
    await until(lambda: not web.sessions, "every session to end")
    assert web.opened == 20 and len(set(pids)) == 20
    assert [p for p in pids if pid_alive(p)] == []
    await until(lambda: len(asyncio.all_tasks()) <= baseline_tasks, "the server's tasks to finish", 10)


async def _read(ws: aiohttp.ClientWebSocketResponse, drawn: asyncio.Event) -> None:
    """Read as a browser does, until the tab closes; `drawn` once the screen showed both panes (text between the
    escape codes)."""
    seen = ""
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.BINARY and not drawn.is_set():
            seen += msg.data.decode("utf-8", "replace")
            if "operations" in seen and "workers" in seen:
                drawn.set()


async def _one_tab_draws(url: str) -> None:
    """A session on `url` draws the monitor (then the tab closes)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as page:
            assert page.status == 200 and "/ws" in await page.text()
        async with http.ws_connect(f"{url}ws?width=120&height=40") as ws:
            drawn = asyncio.Event()
            reader = asyncio.create_task(_read(ws, drawn))
            await asyncio.wait_for(drawn.wait(), 60)
        await reader


async def test_the_command_warns_off_localhost_prints_its_url_and_stops_on_sigint(
        settings: Settings, bus: Bus, tmp_path: Path) -> None:
    env = {**child_env(settings, settings.nats_url), "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ktrdr", "monitor", "--web", "--host", "0.0.0.0", "--port", "0", "--read-only",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        url = re.search(r"ktrdr monitor: (http://127\.0\.0\.1:\d+/)", line)
        assert url and "read-only" in line, line
        await _one_tab_draws(url.group(1))
    finally:
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 30)
    err = (await proc.stderr.read()).decode()
    assert code == 0, err
    assert "warning: --host 0.0.0.0" in err and "1 sessions served" in err


@pytest.mark.slow
async def test_up_with_monitor_web_serves_it_and_down_stops_it(tmp_path: Path) -> None:
    from tests.integration.test_stack_cli import ONE_DUMMY, _env, alive, recorded

    env = _env(tmp_path)
    no_workers = [a if a != "1" else "0" for a in ONE_DUMMY]
    up = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "ktrdr", "up", "--detach", *no_workers,
                                 "--monitor-web", "--monitor-web-port", "0"],
                                 env=env, capture_output=True, text=True, timeout=120)
    try:
        assert up.returncode == 0, up.stderr + up.stdout
        url = re.search(r"^monitor +(http://127\.0\.0\.1:\d+/)", up.stdout, re.MULTILINE)
        assert url, up.stdout
        await _one_tab_draws(url.group(1))
        web = next(c for c in recorded(tmp_path).children if c.role == "monitor-web")
        status = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "ktrdr", "status"], env=env,
                                         capture_output=True, text=True, timeout=60)
        assert url.group(1) in status.stdout, status.stdout
    finally:
        down = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "ktrdr", "down"], env=env,
                                       capture_output=True, text=True, timeout=60)
    assert down.returncode == 0, down.stderr
    assert not alive(web.pid)


async def test_read_only_neither_shows_nor_runs_cancel_and_resume(settings: Settings, bus: Bus,
                                                                  workers: WorkerPool) -> None:
    await workers.start(worker_id="w-read-only")
    app = MonitorApp(settings, read_only=True)
    async with app.run_test(size=(150, 42)) as pilot:
        op = await submit(bus, "dummy", "cpu", {"steps": 200, "step_seconds": 0.1})
        await until_ui(pilot, lambda: status_of(app, op.id) == "running", what="running")
        # keys act on the selected row, which exists once the table's coalesced redraw has shown it
        await until_ui(pilot, lambda: short_id(op.id) in table_text(app, "operations"), what="row shown")
        for screen in ("main", "details"):
            assert {"c", "r"}.isdisjoint(app.screen.active_bindings), f"cancel or resume offered on {screen}"
            await pilot.press("c", "y", "r")
            assert not isinstance(app.screen, ConfirmCancel)
            await pilot.press("d")
            assert isinstance(app.screen, DetailScreen)
        assert status_of(app, op.id) == "running"
        assert "q" in app.screen.active_bindings  # the rest of the keys are still there


async def test_a_session_whose_app_ignores_quit_is_killed_when_its_tab_closes(tmp_path: Path) -> None:
    # A command that never reads its input stands for a monitor that hangs.
    server = MonitorWeb(["sleep", "120"], {}, port=0, stop_s=0.5)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(f"{server.url}ws")
            await until(lambda: bool(server.sessions), "the session to start")
            (session,) = server.sessions
            assert pid_alive(session.pid)
            await ws.close()
            await until(lambda: not server.sessions, "the session to end", timeout=10)
        assert not pid_alive(session.pid)
    finally:
        await server.stop()


async def test_a_page_from_another_site_cannot_open_a_session(settings: Settings, web: MonitorWeb) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{web.url}ws", headers={"Origin": "http://elsewhere.example"})
        assert refused.value.status == 403
        host = web.url.split("://", 1)[1].rstrip("/")
        async with http.ws_connect(f"{web.url}ws", headers={"Origin": f"http://{host}"}):
            await until(lambda: bool(web.sessions), "the same-origin session")
    assert web.opened == 1
