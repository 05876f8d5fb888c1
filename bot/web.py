"""The one aiohttp web app on http.port: /healthz, /metrics, plus the routes the chat channels serve
(the Telegram webhook, Slack's events)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

Health = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def build_web_app(
    health: Health, routes: Sequence[web.RouteDef] = (), metrics: Callable[[], Awaitable[str]] | None = None
) -> web.Application:
    async def healthz(_request: web.Request) -> web.Response:
        ok, details = await health()
        return web.json_response(
            {"status": "ok" if ok else "unhealthy", **details}, status=200 if ok else 503
        )

    async def prometheus(_request: web.Request) -> web.Response:
        assert metrics
        return web.Response(text=await metrics(), content_type="text/plain", charset="utf-8")

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
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, bound
