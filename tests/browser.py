"""Headless Chromium driven over the DevTools protocol (aiohttp's websocket client): open a tab, read the page,
take a screenshot, close the tab. The distribution's `chromium` is enough; nothing is downloaded."""

from __future__ import annotations

import asyncio
import base64
import itertools
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

# Without the background-networking flags Chromium tries to reach its update and sync services first.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"]
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """The Chromium binary on PATH, if any."""
    return next((p for name in CANDIDATES if (p := shutil.which(name))), None)


class Browser:
    """One Chromium process and its DevTools connection; tabs are targets attached in flat mode."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = msg.json()
            if (future := self.pending.pop(data.get("id", 0), None)) is not None and not future.done():
                if "error" in data:
                    future.set_exception(RuntimeError(f"DevTools: {data['error']}"))
                else:
                    future.set_result(data.get("result", {}))

    async def call(self, method: str, session: str = "", **params: Any) -> dict[str, Any]:
        """One DevTools command (on a tab when `session` is given)."""
        ident = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        await self.ws.send_json({"id": ident, "method": method, "params": params,
                                 **({"sessionId": session} if session else {})})
        return await asyncio.wait_for(future, 30)

    async def open_tab(self, url: str, width: int = 1400, height: int = 900) -> tuple[str, str]:
        """A new tab of this size on `url`; returns (target id, session id)."""
        target = (await self.call("Target.createTarget", url="about:blank"))["targetId"]
        session = (await self.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        # Sized before the page loads: the terminal measures the window once, when it connects.
        await self.call("Emulation.setDeviceMetricsOverride", session, width=width, height=height,
                        deviceScaleFactor=1, mobile=False)
        await self.call("Page.navigate", session, url=url)
        return target, session

    async def evaluate(self, session: str, expression: str) -> Any:
        """The value of a JavaScript expression in the tab."""
        result = await self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def wait_for(self, session: str, expression: str, timeout: float = 20.0) -> Any:
        """Poll an expression until it is truthy (the page has no event to await from outside)."""
        deadline = time.monotonic() + timeout
        while not (value := await self.evaluate(session, expression)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never satisfied {expression!r}")
            await asyncio.sleep(0.1)
        return value

    async def screenshot(self, session: str) -> bytes:
        """The tab as a PNG."""
        return base64.b64decode((await self.call("Page.captureScreenshot", session, format="png"))["data"])

    async def close_tab(self, target: str) -> None:
        """Close the tab (as a person closing it would: the page's websockets go with it)."""
        await self.call("Target.closeTarget", targetId=target)


async def _devtools_url(proc: subprocess.Popen[bytes], profile: Path, timeout: float = 30.0) -> str:
    """Chromium writes its port and browser path to DevToolsActivePort once it listens."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while not (marker.exists() and len(lines := marker.read_text().split()) >= 2):
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with code {proc.returncode} before it listened")
        if time.monotonic() > deadline:
            raise TimeoutError("chromium did not open its DevTools port in time")
        await asyncio.sleep(0.05)
    return f"ws://127.0.0.1:{lines[0]}{lines[1]}"


@asynccontextmanager
async def chromium(binary: str) -> AsyncIterator[Browser]:
    """A headless Chromium with a fresh profile, stopped (and its profile removed) at the end."""
    profile = tempfile.mkdtemp(prefix="ktrdr-chromium-")
    proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = await _devtools_url(proc, Path(profile))
        async with aiohttp.ClientSession() as http, http.ws_connect(url, max_msg_size=0) as ws:
            browser = Browser(ws)
            try:
                yield browser
            finally:
                browser.reader.cancel()
                await asyncio.gather(browser.reader, return_exceptions=True)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        await _remove(profile)


async def _remove(profile: str, tries: int = 20) -> None:
    """Remove the profile; Chromium's helper processes can still write into it for a moment after it exits."""
    for _ in range(tries):
        try:
            shutil.rmtree(profile)
            return
        except OSError:  # a file appeared or vanished while it was walked
            if not Path(profile).exists():
                return
            await asyncio.sleep(0.1)
    shutil.rmtree(profile, ignore_errors=True)
