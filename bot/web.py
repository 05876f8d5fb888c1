"""The one aiohttp web app on http.port: /healthz, and the Telegram webhook when it is on."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.channels.telegram import WEBHOOK_PATH

log = logging.getLogger(__name__)

Health = Callable[[], tuple[bool, dict[str, Any]]]
UpdateHandler = Callable[[dict[str, Any]], Awaitable[None]]


def build_web_app(health: Health, telegram: tuple[str, UpdateHandler] | None = None) -> web.Application:
    """telegram: (the secret Telegram must send, what handles an update), when in webhook mode."""

    async def healthz(_request: web.Request) -> web.Response:
        ok, details = health()
        return web.json_response({"status": "ok" if ok else "stalled", **details}, status=200 if ok else 503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    if telegram:
        secret, handle = telegram

        async def telegram_update(request: web.Request) -> web.Response:
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
            if not hmac.compare_digest(given.encode(), secret.encode()):
                return web.Response(status=401, text="wrong secret token")
            try:
                update = await request.json()
            except ValueError:
                return web.Response(status=400, text="not JSON")
            try:
                await handle(update)
            except Exception:  # answered 200 anyway: Telegram would resend a failing update forever
                log.exception("telegram webhook update failed")
            return web.Response(text="ok")

        app.router.add_post(WEBHOOK_PATH, telegram_update)
    return app


async def start_web(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve app; returns the runner (to stop it) and the port bound (port 0 picks a free one)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, bound
