"""A fake OpenAI-compatible endpoint (chat completions, embeddings) on a free loopback port."""

from __future__ import annotations

import asyncio
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.web import start_web

API_KEY = "sk-test-key-that-must-never-be-logged"
DIMENSIONS = 64


def word_vector(text: str) -> list[float]:
    """A deterministic stand-in for a model's embedding: the text's words hashed into DIMENSIONS counts,
    so texts sharing words point alike and texts sharing none are at right angles, or nearly."""
    vector = [0.0] * DIMENSIONS
    for word in re.findall(r"\w+", text.lower()):
        vector[zlib.crc32(word.encode()) % DIMENSIONS] += 1.0
    return vector


@dataclass
class FakeLlm:
    answer: str = "NATO will gradually resume contacts with Russia, its ministers agreed in Brussels."
    tokens: int = 120
    status: int = 200
    hang: bool = False  # never answer: the bot's timeout must end the wait
    requests: list[dict[str, Any]] = field(default_factory=list)
    embedded: list[list[str]] = field(default_factory=list)  # each embeddings request's texts
    short: bool = False  # an embeddings answer with one vector fewer than the texts sent
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _never: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> FakeLlm:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_post("/v1/embeddings", self._embed)
        self._runner, port = await start_web(app, "127.0.0.1", 0)
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def stop(self) -> None:
        self._never.set()
        if self._runner:
            await self._runner.cleanup()

    async def _complete(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        self.requests.append(await request.json())
        if self.hang:
            await self._never.wait()
        if self.status != 200:
            return web.json_response({"error": {"message": "overloaded"}}, status=self.status)
        return web.json_response(
            {
                "choices": [{"index": 0, "message": {"role": "assistant", "content": self.answer}}],
                "usage": {
                    "prompt_tokens": self.tokens - 20,
                    "completion_tokens": 20,
                    "total_tokens": self.tokens,
                },
            }
        )

    async def _embed(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        texts = (await request.json())["input"]
        self.embedded.append(texts)
        if self.hang:
            await self._never.wait()
        if self.status != 200:
            return web.json_response({"error": {"message": "overloaded"}}, status=self.status)
        rows = [{"object": "embedding", "index": i, "embedding": word_vector(t)} for i, t in enumerate(texts)]
        rows.reverse()  # the order is the index's, not the list's: a client must read it
        return web.json_response(
            {
                "object": "list",
                "data": rows[1:] if self.short else rows,
                "usage": {"total_tokens": len(texts)},
            }
        )
