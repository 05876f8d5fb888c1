"""The one aiohttp web app on http.port: /healthz, /metrics, plus the routes the chat channels serve
(the Telegram webhook, Slack's events)."""

from __future__ import annotations

import errno
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.errors import ListenError

# "ok", "degraded" (a chat app is unreachable; the rest works) or "unhealthy", and the details
Health = Callable[[], Awaitable[tuple[str, dict[str, Any]]]]


def build_web_app(
    health: Health, routes: Sequence[web.RouteDef] = (), metrics: Callable[[], Awaitable[str]] | None = None
) -> web.Application:
    async def healthz(_request: web.Request) -> web.Response:
        status, details = await health()
        return web.json_response({"status": status, **details}, status=503 if status == "unhealthy" else 200)

    async def prometheus(_request: web.Request) -> web.Response:
        assert metrics
        return web.Response(body=(await metrics()).encode(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    if metrics:
        app.router.add_get("/metrics", prometheus)
    app.router.add_routes(routes)
    return app


async def start_web(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve app; returns the runner (to stop it) and the port bound (port 0 picks a free one)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        await runner.cleanup()
        raise listen_problem(error, host, port) from error
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, bound


def listen_problem(error: OSError, host: str, port: int) -> ListenError:
    """Why the port cannot be opened, and what to do, from the system's error."""
    where = f"cannot listen on {host}:{port}"
    choose = "set http.port (NEWSALERT_HTTP_PORT) to a free port"  # 0: any free port
    if error.errno == errno.EADDRINUSE:
        return ListenError(
            f"{where}: the port is in use (by another newsalert, or another server)",
            f"Stop that program, or {choose}.",
        )
    if error.errno == errno.EACCES:
        return ListenError(
            f"{where}: permission denied (a port below 1024 needs root)",
            "Set http.port (NEWSALERT_HTTP_PORT) to a port above 1024.",
        )
    if error.errno == errno.EADDRNOTAVAIL or isinstance(error, socket.gaierror):
        return ListenError(
            f"{where}: this machine has no such address",
            "Set http.host to 0.0.0.0 (every address) or to an address of this machine.",
        )
    return ListenError(f"{where}: {error.strerror or error}", f"Check http.host and http.port, or {choose}.")
