"""An optional similarity of two articles: their texts' embeddings, from the `summary.llm` endpoint.

Off unless `summary.llm.embeddings_model` names a model. What is embedded of an article is its headline
and first words (story_text). Each text is embedded once (cached by the hash of the model and the text,
in a small cache protocol: no store here), texts not cached go in batches, and on any error, timeout or
malformed answer `embed` returns None: the caller keeps the lexical score, and no article is lost or held
back for it. bench/embeddings_eval.py measures it against the lexical score.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

import aiohttp

from bot.config import LlmSettings
from bot.domain import Embedding
from bot.summary.llm import endpoint_session

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2_000  # a headline and lead; small models read no more than about 256 tokens anyway
BATCH = 64  # texts a request: well under every OpenAI-compatible server's limit (OpenAI's is 2,048)
# An article's first words embedded after its headline: what all-MiniLM-L6-v2 reads (256 tokens), and the
# text bench/embeddings_eval.py measured best (against the headline alone, and headline and 60 words).
STORY_WORDS = 150

Vector = list[float]


def story_text(headline: str, body: str, words: int = STORY_WORDS) -> str:
    """What is embedded of an article: its headline (without the outlet's own name after it, as
    dedupe.without_own_name cuts it), a newline, and the first `words` words of its cleaned text (read
    from its first words × 8 characters, 1,000 at least)."""
    if not words:
        return headline
    lead = " ".join(body[: max(1_000, words * 8)].split()[:words])
    return f"{headline}\n{lead}".strip()


def text_hash(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\n{text}".encode()).hexdigest()


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """How alike two embeddings are: 1 the same direction, 0 unrelated."""
    length = math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / length if length else 0.0


class EmbeddingsCache(Protocol):
    """Where the embeddings are kept, by the hash of the model and the text (the Store, when wired)."""

    async def cached_embeddings(self, hashes: Sequence[str]) -> Mapping[str, Vector]:
        """Those of these hashes that are kept, with their vectors."""
        ...

    async def save_embeddings(self, vectors: Mapping[str, Vector], tokens: int, now: datetime) -> None: ...


class Embedder:
    """`embed(texts)` through the endpoint's /embeddings (OpenAI's request and answer)."""

    def __init__(self, settings: LlmSettings, cache: EmbeddingsCache):
        assert settings.base_url and settings.embeddings_model
        self.model = settings.embeddings_model
        self.cache = cache
        self.url = settings.base_url.rstrip("/") + "/embeddings"
        self.session = endpoint_session(settings)

    async def close(self) -> None:
        await self.session.close()

    async def embeddings(self, texts: Sequence[str], now: datetime) -> list[Embedding] | None:
        """`embed`, each vector with the model and the hash the cache knows its text by."""
        vectors = await self.embed(texts, now)
        if vectors is None:
            return None
        return [
            Embedding(self.model, text_hash(self.model, text[:MAX_TEXT_CHARS]), tuple(vector))
            for text, vector in zip(texts, vectors, strict=True)
        ]

    async def embed(self, texts: Sequence[str], now: datetime) -> list[Vector] | None:
        """Each text's vector, in order; None when the endpoint cannot give them all (the caller then
        compares the texts lexically)."""
        texts = [text[:MAX_TEXT_CHARS] for text in texts]
        keys = [text_hash(self.model, text) for text in texts]
        found = dict(await self.cache.cached_embeddings(sorted(set(keys))))
        wanted = list({key: text for key, text in zip(keys, texts, strict=True) if key not in found}.items())
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start : start + BATCH]
            answer = await self._ask([text for _, text in batch])
            if answer is None:
                return None
            vectors, tokens = answer
            made = {key: vector for (key, _), vector in zip(batch, vectors, strict=True)}
            await self.cache.save_embeddings(made, tokens, now)
            found.update(made)
        return [found[key] for key in keys]

    async def _ask(self, texts: list[str]) -> tuple[list[Vector], int] | None:
        """The vectors of these texts in their order, and the tokens they cost; None on any failure."""
        try:
            async with self.session.post(self.url, json={"model": self.model, "input": texts}) as response:
                if response.status != 200:
                    log.warning("embeddings failed: HTTP %d from %s", response.status, self.url)
                    return None
                answer = await response.json(content_type=None)
            rows = sorted(answer["data"], key=lambda row: int(row["index"]))
            vectors = [[float(x) for x in row["embedding"]] for row in rows]
            tokens = int((answer.get("usage") or {}).get("total_tokens") or 0)
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as error:
            log.warning("embeddings failed (%s); the lexical similarity stands", type(error).__name__)
            return None
        if [int(row["index"]) for row in rows] != list(range(len(texts))) or not _usable(vectors):
            log.warning("embeddings failed: %s did not answer one vector a text, all of one size", self.url)
            return None
        return vectors, tokens


def _usable(vectors: list[Vector]) -> bool:
    """One size, not empty, every number finite."""
    size = len(vectors[0]) if vectors else 0
    return size > 0 and all(len(v) == size and all(map(math.isfinite, v)) for v in vectors)


class InMemory:
    """The cache for a run without a database (`newsalert check`, the bench): forgotten at exit."""

    def __init__(self) -> None:
        self.vectors: dict[str, Vector] = {}
        self.tokens = 0

    async def cached_embeddings(self, hashes: Sequence[str]) -> Mapping[str, Vector]:
        return {key: self.vectors[key] for key in hashes if key in self.vectors}

    async def save_embeddings(self, vectors: Mapping[str, Vector], tokens: int, now: datetime) -> None:
        self.vectors.update(vectors)
        self.tokens += tokens
