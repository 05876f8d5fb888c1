"""A real HTTP feed server on a free loopback port, with ETag support, a request log, and knobs:
any path can instead be answered by a handler (redirects, 410, 429 + Retry-After, slow drip...)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from bot.web import start_web


@dataclass
class FeedServer:
    files: dict[str, bytes] = field(default_factory=dict)  # path -> body
    handlers: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # extra headers on every file response
    requests: list[web.Request] = field(default_factory=list)
    etags: bool = True
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _new_request: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def hits(self, path: str) -> int:
        return sum(r.path == path for r in self.requests)

    async def until(self, condition: Callable[[list[web.Request]], bool]) -> None:
        """Until the requests served meet the condition: for a bot in another process."""
        while not condition(self.requests):
            self._new_request.clear()
            await self._new_request.wait()

    async def start(self) -> FeedServer:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._serve)
        self._runner, port = await start_web(app, "127.0.0.1", 0)
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _serve(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        self._new_request.set()
        if request.path in self.handlers:
            return await self.handlers[request.path](request)
        body = self.files.get(request.path)
        if body is None:
            return web.Response(status=404)
        headers = {"Content-Type": "application/rss+xml; charset=utf-8", **self.headers}
        if self.etags:
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            headers["ETag"] = etag
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers=headers)
