"""A small fake of an ntfy server (https://docs.ntfy.sh/publish/) on a free loopback port: it takes a
message published as JSON to its root, as Apprise's ntfy:// does, keeps it with its headers, and
refuses as ntfy does: 401 without the access token it was given, 403 for a topic it forbids, 429 when
told to slow down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.web import start_web


@dataclass
class Published:
    topic: str
    title: str
    message: str
    markdown: bool  # sent with X-Markdown: the app renders it


@dataclass
class FakeNtfy:
    token: str | None = None  # when set, every publish must carry it (Authorization: Bearer)
    forbidden: set[str] = field(default_factory=set)  # topics that answer 403
    too_many: int = 0  # the next this many publishes get 429
    published: list[Published] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    def address(self, topic: str = "news", query: str = "format=markdown") -> str:
        return f"ntfy://127.0.0.1:{self.port}/{topic}" + (f"?{query}" if query else "")

    async def start(self) -> FakeNtfy:
        app = web.Application()
        app.router.add_post("/", self._publish)
        self._runner, self.port = await start_web(app, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _publish(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return _refused(401, 40101, "unauthorized")
        if body.get("topic") in self.forbidden:
            return _refused(403, 40301, "forbidden")
        if self.too_many:
            self.too_many -= 1
            return _refused(429, 42901, "limit reached: too many requests")
        markdown = request.headers.get("X-Markdown") == "yes"
        self.published.append(Published(body["topic"], body.get("title", ""), body["message"], markdown))
        return web.json_response({"id": str(len(self.published)), "event": "message", "topic": body["topic"]})


def _refused(status: int, code: int, error: str) -> web.Response:
    return web.json_response({"code": code, "http": status, "error": error}, status=status)
