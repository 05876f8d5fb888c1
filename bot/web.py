"""The one aiohttp web app on http.port: /healthz, plus the routes the chat channels serve
(the Telegram webhook, Slack's events)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

Health = Callable[[], tuple[bool, dict[str, Any]]]


def build_web_app(health: Health, routes: Sequence[web.RouteDef] = ()) -> web.Application:
    async def healthz(_request: web.Request) -> web.Response:
        ok, details = health()
        return web.json_response({"status": "ok" if ok else "stalled", **details}, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_routes(routes)
    return app


async def start_web(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve app; returns the runner (to stop it) and the port bound (port 0 picks a free one)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, bound
