"""The monitor served to browsers (`ktrdr monitor --web`): one monitor process, hence one NATS connection, per tab.

textual-serve runs a Textual app per websocket and streams its screen to xterm.js in the page. What it lacks,
added here: the child's environment (so a tab watches what the command line said), a URL that follows the
address the browser used (a server on 0.0.0.0 is reached by its real name), a bound port read back (port 0
in tests), and sessions that always end: closing a tab asks the app to quit, and one that does not within
STOP_S is killed, so no process, connection or task outlives its tab.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Sequence
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

log = logging.getLogger("ktrdr.monitor.web")
STOP_S = 5.0
MAX_SESSIONS = 32  # each tab is a process: a bound, so a runaway page cannot fork the host to death
MAX_CELLS = 1000  # columns or rows a tab may ask for
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def is_local(host: str) -> bool:
    """Whether binding `host` keeps the monitor on this machine."""
    return host in LOCAL_HOSTS


class Session(AppService):
    """One browser tab: the monitor process behind it, counted while it runs."""

    def __init__(self, command: str, env: dict[str, str], stop_s: float = STOP_S, **kw: Any) -> None:
        super().__init__(command, **kw)
        self.env, self.stop_s = env, stop_s
        self.bytes_sent = 0
        self.closing = False
        self._stopping: asyncio.Future[None] | None = None

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        return {**super()._build_environment(width, height), **self.env}

    async def on_data(self, payload: bytes) -> None:
        """Screen updates go to the browser; their size tells tests and logs that the screen arrived."""
        if self.closing:  # the tab is gone: only drain, so the app never blocks on a full pipe while it quits
            return
        self.bytes_sent += len(payload)
        try:
            await super().on_data(payload)
        except ConnectionError:
            self.closing = True

    @property
    def pid(self) -> int:
        """The monitor process's id (0 before it started)."""
        return self._process.pid if self._process else 0

    async def stop(self) -> None:
        """Ask the app to quit; kill it when it has not exited within STOP_S; always reap it (once, however
        many callers: the tab's handler and a server shutdown may both ask)."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        task, process = self._task, self._process
        if task is None or process is None:
            return
        self.closing = True
        await self.send_meta({"type": "quit"})
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), self.stop_s)
        except TimeoutError:
            log.warning("monitor pid %s did not quit within %.1fs: killed", self.pid, self.stop_s)
            process.kill()
            await process.wait()
        # Its output ends with the process; the reader task then finishes on its own.
        await asyncio.gather(task, return_exceptions=True)
        self._task = None


class MonitorWeb(Server):
    """The aiohttp server: the page, its websocket, one Session per open tab."""

    def __init__(self, command: Sequence[str], env: dict[str, str], host: str = "127.0.0.1", port: int = 8765,
                 title: str = "ktrdr monitor", stop_s: float = STOP_S) -> None:
        # exec: the shell becomes the monitor, so stopping the session stops the monitor itself
        super().__init__("exec " + shlex.join(command), host=host, port=port, title=title)
        self.env, self.stop_s = env, stop_s
        self.sessions: set[Session] = set()
        self.opened = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Where a browser on this machine opens it (the bound port, once started)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/"

    async def start(self) -> str:
        """Bind and serve in the running loop; returns the URL."""
        self._runner = web.AppRunner(await self._make_app(), handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.url

    async def stop(self) -> None:
        """End every session, then the server."""
        await asyncio.gather(*(s.stop() for s in list(self.sessions)), return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def on_startup(self, app: web.Application) -> None:
        """Quiet: the command prints its own URL line."""

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page, its websocket URL on the host and scheme the browser used."""
        base = f"{request.scheme}://{request.host}"
        ws = f"{'wss' if request.scheme == 'https' else 'ws'}://{request.host}/ws"
        context = {"font_size": to_int(request.query.get("fontsize", "16"), 16), "app_websocket_url": ws,
                   "config": {"static": {"url": f"{base}/static/"}}, "application": {"name": self.title}}
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One tab: start its monitor, relay keys and resizes, and end the monitor when the tab goes."""
        refused = _refusal(request, len(self.sessions))
        if refused is not None:
            log.warning("tab refused: %s", refused.text)
            raise refused
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        session = Session(self.command, self.env, self.stop_s, write_bytes=websocket.send_bytes,
                          write_str=websocket.send_str, close=websocket.close, download_manager=self.download_manager)
        self.sessions.add(session)
        self.opened += 1
        try:
            await session.start(_cells(request, "width", 80), _cells(request, "height", 24))
            log.info("tab opened: monitor pid %s (%d open)", session.pid, len(self.sessions))
            await self._process_messages(websocket, session)
        except Exception as exc:  # a tab that vanished mid-message or sent garbage ends its session, not the server
            log.warning("tab dropped: %s", exc)
        finally:
            await asyncio.shield(self._end(session, websocket))
        return websocket

    async def _end(self, session: Session, websocket: web.WebSocketResponse) -> None:
        await session.stop()
        self.sessions.discard(session)
        await websocket.close()
        log.info("tab closed: monitor pid %s ended, %d bytes of screen sent (%d open)", session.pid,
                 session.bytes_sent, len(self.sessions))


def _refusal(request: web.Request, open_sessions: int) -> web.HTTPException | None:
    """Why a websocket must not start a session, or None. A page from another site may not drive the monitor
    (browsers send their Origin; without this check any site visited on this machine could cancel operations)."""
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        return web.HTTPForbidden(text=f"a page from {origin} may not open the monitor served on {request.host}")
    if open_sessions >= MAX_SESSIONS:
        return web.HTTPServiceUnavailable(text=f"{open_sessions} monitor sessions are open already: close a tab")
    return None


def _cells(request: web.Request, name: str, default: int) -> int:
    """A terminal size from the query, kept within 1..MAX_CELLS."""
    return min(max(to_int(request.query.get(name, str(default)), default), 1), MAX_CELLS)
