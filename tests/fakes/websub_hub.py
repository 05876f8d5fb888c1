"""A WebSub hub on a free loopback port: it keeps the subscription requests it gets, answers them with
`answer` (202 by default), and a test makes it check a subscriber's intent (`verify`) and push content
(`publish`), signed as the spec says. `auto_verify` checks intent before answering, as some hubs do.

`public` and `reaches` stand for a reverse proxy: callbacks under http.public_url are called at the
subscriber's real loopback address instead."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from bot.web import start_web


@dataclass
class FakeHub:
    public: str = ""  # the subscriber's http.public_url
    reaches: str = ""  # where the subscriber really listens (http://127.0.0.1:PORT)
    answer: int = 202
    auto_verify: bool = False
    requests: list[dict[str, str]] = field(default_factory=list)  # each (un)subscription's form
    url: str = ""
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    async def start(self) -> FakeHub:
        app = web.Application()
        app.router.add_post("/", self._subscription)
        self._runner, port = await start_web(app, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{port}/"
        self._session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        if self._session:
            await self._session.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def last(self) -> dict[str, str]:
        return self.requests[-1]

    async def _subscription(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.requests.append({k: str(v) for k, v in form.items()})
        if self.auto_verify and self.answer < 300:
            status, _ = await self.verify()
            if status != 200:
                return web.Response(status=409, text="the callback did not confirm")
        return web.Response(status=self.answer, text="" if self.answer < 300 else "topic not allowed here")

    def _callback(self, form: dict[str, str]) -> str:
        return form["hub.callback"].replace(self.public, self.reaches, 1)

    async def verify(
        self, form: dict[str, str] | None = None, *, lease: int | None = 3600, **changes: str
    ) -> tuple[int, str]:
        """GET the callback of a request (the last by default) with a challenge, as a hub checks intent;
        the status and body it answered. `changes` replace query parameters (hub_topic=... for hub.topic)."""
        form = form or self.last
        query = {"hub.mode": form["hub.mode"], "hub.topic": form["hub.topic"], "hub.challenge": "ch-42"}
        query |= {"hub.lease_seconds": str(lease)} if lease is not None else {}
        query |= {key.replace("_", "."): value for key, value in changes.items()}
        assert self._session
        async with self._session.get(self._callback(form), params=query) as response:
            return response.status, await response.text()

    async def deny(self, form: dict[str, str] | None = None) -> int:
        form = form or self.last
        query = {"hub.mode": "denied", "hub.topic": form["hub.topic"], "hub.reason": "not on this hub"}
        assert self._session
        async with self._session.get(self._callback(form), params=query) as response:
            return response.status

    async def publish(
        self,
        body: bytes,
        form: dict[str, str] | None = None,
        *,
        method: str = "sha256",
        secret: str | None = None,
        signature: str | None = None,
    ) -> int:
        """POST content to a subscriber's callback, signed with its secret (or `secret`), or with the
        given X-Hub-Signature; the status it answered."""
        form = form or next(f for f in reversed(self.requests) if f["hub.mode"] == "subscribe")
        key = (secret if secret is not None else form["hub.secret"]).encode()
        if signature is None:
            signature = f"{method}={hmac.new(key, body, getattr(hashlib, method)).hexdigest()}"
        headers = {"Content-Type": "application/rss+xml", "X-Hub-Signature": signature}
        headers["Link"] = f'<{self.url}>; rel="hub", <{form["hub.topic"]}>; rel="self"'
        assert self._session
        async with self._session.post(self._callback(form), data=body, headers=headers) as response:
            return response.status
