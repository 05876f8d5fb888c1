"""An optional summary by a language model, through any OpenAI-compatible endpoint.

Grounded in the article's own text and nothing else; cached by the text's hash so nothing is
summarized twice; within a monthly token budget; and on any error, timeout or an exhausted budget
the extractive summary stands.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Protocol

import aiohttp

from bot.config import LlmSettings

log = logging.getLogger(__name__)

MAX_INPUT_CHARS = 12_000  # about 3,000 tokens of article: enough for the news, cheap to send


def content_hash(model: str, max_words: int, title: str, body: str) -> str:
    return hashlib.sha256(f"{model}\n{max_words}\n{title}\n{body}".encode()).hexdigest()


def messages(title: str, body: str, max_words: int) -> list[dict[str, str]]:
    """The request: summarize this article, from this article only."""
    return [
        {
            "role": "system",
            "content": (
                f"You summarize news articles in at most {max_words} words, in the article's language. "
                "Use only facts stated in the article below; never add background, opinion or anything "
                "not in it. Plain sentences, no headings, no lists, no preamble."
            ),
        },
        {"role": "user", "content": f"Title: {title}\n\n{body[:MAX_INPUT_CHARS]}"},
    ]


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def usable(text: str, max_words: int) -> str | None:
    """The model's answer as a summary, cut to the word limit at a sentence; None if there is none."""
    words = " ".join(text.split()).split(" ")
    if not text.strip():
        return None
    if len(words) <= max_words:
        return " ".join(words)
    cut = " ".join(words[:max_words])
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    return cut[: end + 1] if end > 0 else cut + "\u2026"


class SummaryCache(Protocol):
    """Where the model's summaries are kept, by the hash of what it read, and what they cost (the Store)."""

    async def cached_summary(self, content_hash: str) -> str | None: ...

    async def summary_tokens_since(self, since: datetime) -> int:
        """Tokens spent on the summaries kept since then."""
        ...

    async def save_summary(self, content_hash: str, summary: str, tokens: int, now: datetime) -> None: ...


def endpoint_session(settings: LlmSettings) -> aiohttp.ClientSession:
    """A session for the endpoint: its key as a bearer token, if any, and the settings' timeout."""
    headers = {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"} if settings.api_key else {}
    return aiohttp.ClientSession(
        headers=headers, timeout=aiohttp.ClientTimeout(total=settings.timeout.total_seconds())
    )


class LlmSummarizer:
    def __init__(self, settings: LlmSettings, cache: SummaryCache):
        assert settings.base_url and settings.model
        self.settings = settings
        self.cache = cache
        self.url = settings.base_url.rstrip("/") + "/chat/completions"
        self.session = endpoint_session(settings)

    async def close(self) -> None:
        await self.session.close()

    async def summarize(self, title: str, body: str, max_words: int, now: datetime) -> str | None:
        """The model's summary of this article, or None: the caller keeps the extractive one."""
        key = content_hash(self.settings.model, max_words, title, body)
        cached = await self.cache.cached_summary(key)
        if cached is not None:
            return cached
        if await self.cache.summary_tokens_since(month_start(now)) >= self.settings.monthly_tokens:
            log.info("summary.llm.monthly_tokens reached: extractive summaries until next month")
            return None
        request = {
            "model": self.settings.model,
            "messages": messages(title, body, max_words),
            "temperature": 0,
        }
        try:
            async with self.session.post(self.url, json=request) as response:
                if response.status != 200:
                    log.warning("LLM summary failed: HTTP %d from %s", response.status, self.url)
                    return None
                answer = await response.json(content_type=None)
            text = usable(str(answer["choices"][0]["message"]["content"]), max_words)
            tokens = int((answer.get("usage") or {}).get("total_tokens") or 0)
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, IndexError, TypeError) as error:
            log.warning("LLM summary failed (%s); the extractive summary stands", type(error).__name__)
            return None
        if text is None:
            return None
        await self.cache.save_summary(key, text, tokens, now)
        return text
