"""A webhook receiver on a free loopback port: it keeps every POST (headers and body, as received) and
answers 200, or what a test tells it to: a status for the next POSTs (with Retry-After), or 410 Gone
for good."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.web import start_web

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # Standard Webhooks' own example secret (24 bytes)


@dataclass(frozen=True)
class Post:
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int  # what the receiver answered

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class FakeReceiver:
    posts: list[Post] = field(default_factory=list)  # every POST, in order, whatever it was answered
    # the next POSTs' answers: a status, and a Retry-After or None
    answers: list[tuple[int, str | None]] = field(default_factory=list)
    gone: bool = False  # 410 Gone from now on
    base_url: str = ""
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks/newsalert"

    def received(self, kind: str | None = None) -> list[Post]:
        """The POSTs answered 2xx, of this type (alert.created...) or all."""
        return [p for p in self.posts if p.status < 300 and (kind is None or p.json["type"] == kind)]

    async def start(self) -> FakeReceiver:
        app = web.Application()
        app.router.add_post("/hooks/newsalert", self._receive)
        self._runner, port = await start_web(app, "127.0.0.1", 0)
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        status, wait = (410, None) if self.gone else self.answers.pop(0) if self.answers else (200, None)
        self.posts.append(
            Post({k.lower(): v for k, v in request.headers.items()}, await request.read(), status)
        )
        headers = {"Retry-After": wait} if wait else {}
        if 300 <= status < 400:  # a redirect to itself: followed, it would be a second POST here
            headers["Location"] = str(request.url)
        return web.Response(status=status, headers=headers)
