"""The optional embeddings similarity (summary.llm.embeddings_model): each text's vector from the
endpoint, each text embedded once, and None (the lexical score stands) whenever the endpoint cannot help."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import LlmSettings, Settings, load_settings
from bot.errors import ConfigError
from bot.summary.embeddings import BATCH, MAX_TEXT_CHARS, Embedder, InMemory, cosine
from tests.fakes.llm_api import API_KEY, FakeLlm, word_vector

NOW = datetime(2026, 2, 18, 12, tzinfo=UTC)
TALKS = "US and Iran reach guiding principles in Geneva nuclear talks"
TALKS_AGAIN = "Iran nuclear talks in Geneva end with guiding principles, no breakthrough"
SWIFT = "Man charged over plot against Taylor Swift concert in Vienna"


def settings_for(llm: FakeLlm, timeout: timedelta = timedelta(seconds=20)) -> LlmSettings:
    environ = {
        "NEWSALERT_LLM_BASE_URL": llm.base_url,
        "NEWSALERT_LLM_EMBEDDINGS_MODEL": "mini",
        "NEWSALERT_LLM_API_KEY": API_KEY,
    }
    return load_settings(None, environ).summary.llm.model_copy(update={"timeout": timeout})


@pytest.fixture
async def llm():
    server = await FakeLlm().start()
    yield server
    await server.stop()


@pytest.fixture
async def embedder(llm):
    made = Embedder(settings_for(llm), InMemory())
    yield made
    await made.close()


async def test_each_text_gets_its_own_vector_in_order_from_the_named_model(embedder, llm):
    vectors = await embedder.embed([TALKS, TALKS_AGAIN, SWIFT], NOW)
    assert vectors == [word_vector(TALKS), word_vector(TALKS_AGAIN), word_vector(SWIFT)]
    assert llm.embedded == [[TALKS, TALKS_AGAIN, SWIFT]]
    assert cosine(vectors[0], vectors[1]) > 0.5 > cosine(vectors[0], vectors[2])
    assert llm.requests == [], "embedding asks for no summary"


async def test_a_text_is_embedded_once(embedder, llm):
    await embedder.embed([TALKS, SWIFT, TALKS], NOW)
    again = await embedder.embed([SWIFT, TALKS_AGAIN, TALKS], NOW)
    assert again == [word_vector(SWIFT), word_vector(TALKS_AGAIN), word_vector(TALKS)]
    assert llm.embedded == [[TALKS, SWIFT], [TALKS_AGAIN]], "only the text not seen before is sent"
    assert embedder.cache.tokens == 3


async def test_many_texts_go_in_batches_and_a_long_one_is_cut(embedder, llm):
    texts = [f"story number {i}" for i in range(2 * BATCH + 5)] + ["word " * 5_000]
    vectors = await embedder.embed(texts, NOW)
    assert vectors is not None and len(vectors) == len(texts)
    assert [len(batch) for batch in llm.embedded] == [BATCH, BATCH, 6]
    assert len(llm.embedded[-1][-1]) == MAX_TEXT_CHARS


@pytest.mark.parametrize("trouble", ["status", "hang", "short"])
async def test_the_lexical_score_stands_when_the_endpoint_cannot_help(llm, trouble, caplog):
    setattr(llm, trouble, 503 if trouble == "status" else True)
    embedder = Embedder(settings_for(llm, timedelta(seconds=1)), InMemory())
    with caplog.at_level(logging.WARNING):
        assert await embedder.embed([TALKS, SWIFT], NOW) is None, "no vectors: the caller compares words"
    await embedder.close()
    assert embedder.cache.vectors == {}, "nothing half-made is kept: the next poll asks again"
    assert "embeddings failed" in caplog.text and API_KEY not in caplog.text


def test_off_unless_a_model_is_named_and_the_key_stays_secret():
    assert Settings().summary.llm.embeddings_model is None
    settings = load_settings(
        None,
        {
            "NEWSALERT_LLM_BASE_URL": "http://127.0.0.1:1/v1",
            "NEWSALERT_LLM_EMBEDDINGS_MODEL": "text-embedding-3-small",
            "NEWSALERT_LLM_API_KEY": API_KEY,
        },
    )
    shown = settings.redacted()["summary"]["llm"]
    assert shown["embeddings_model"] == "text-embedding-3-small" and shown["api_key"] == "**********"
    assert API_KEY not in str(settings.redacted()) + repr(settings)
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"NEWSALERT_LLM_EMBEDDINGS_MODEL": "text-embedding-3-small"})
    assert str(caught.value) == "summary.llm: embeddings_model needs base_url: the endpoint that serves it"
