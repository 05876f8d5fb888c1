"""The optional embeddings similarity (summary.llm.embeddings_model): each text's vector from the
endpoint, each text embedded once, and None (the lexical score stands) whenever the endpoint cannot help;
then through the bot: a poll's articles embedded, their vectors kept, and two reports worded apart made
one story by them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import LlmSettings, Settings, load_settings
from bot.errors import ConfigError
from bot.summary.embeddings import BATCH, MAX_TEXT_CHARS, Embedder, InMemory, cosine, story_text, text_hash
from tests.fakes.llm_api import API_KEY, FakeLlm, word_vector
from tests.test_cli import console_alerts

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


def test_an_endpoint_without_a_model_to_ask_is_refused_with_what_to_set():
    """Summaries by a model are on when `model` is set, embeddings when `embeddings_model` is: an endpoint
    with neither would do nothing (it once meant summaries by gpt-4o-mini)."""
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"NEWSALERT_LLM_BASE_URL": "http://127.0.0.1:1/v1"})
    assert "set model (summaries, e.g. gpt-4o-mini) or embeddings_model (stories)" in str(caught.value)
    only_embeddings = {
        "NEWSALERT_LLM_BASE_URL": "http://127.0.0.1:1/v1",
        "NEWSALERT_LLM_EMBEDDINGS_MODEL": "m",
    }
    assert load_settings(None, only_embeddings).summary.llm.model is None


# Two outlets' own words for one event: few words in common but a name and the common ones (a cosine of
# their headlines and leads of 0.29, where one story takes 0.40), while the fake model's vectors (words
# hashed, common words and all) have a cosine of 0.80, past the bar of 0.77.
ENVOY = (
    "Zorvian envoy quits after a row with Quelland",
    "The envoy of Zorvia to Quelland quit on Tuesday after a row over the border, and the government in "
    "the capital said it would name a new one within the week.",
)
AMBASSADOR = (
    "Mandrake steps down as Quelland ambassador",
    "Mandrake stepped down on Tuesday from the embassy in Quelland after a dispute about the frontier, and "
    "the ministry in the capital said it would pick a successor within the week.",
)


def one_item(outlet: str, n: int, title: str, text: str) -> bytes:
    return feed_of(
        outlet,
        f"<item><guid>{outlet}-{n}</guid><title>{title}</title><link>https://{outlet}.test/{n}</link>"
        f"<pubDate>Sun, 01 Mar 2026 10:00:00 GMT</pubDate><description>{text}</description></item>",
    )


def feed_of(outlet: str, items: str = "") -> bytes:
    channel = f"<channel><title>{outlet}</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


@pytest.fixture
def with_embeddings(feed_server, make_settings, start_app, llm):
    """A bot with the two reports in two feeds and a third feed empty yet, embeddings on (and no summaries
    by a model); polled and delivered once."""

    async def start():
        feed_server.files["/alpha.xml"] = one_item("Alpha", 1, *ENVOY)
        feed_server.files["/beta.xml"] = one_item("Beta", 1, *AMBASSADOR)
        feed_server.files["/gamma.xml"] = feed_of("Gamma")
        feeds = "".join(
            f"  - url: {feed_server.url(f'/{name}.xml')}\n    backfill: all\n"
            for name in ("alpha", "beta", "gamma")
        )
        settings = make_settings(
            f"summary:\n  llm:\n    base_url: {llm.base_url}\n    embeddings_model: mini\n    timeout: 1s\n"
            f"feeds:\n{feeds}subscriptions:\n  - channel: console\n    rules: [Quelland]\n",
            {"NEWSALERT_LLM_API_KEY": API_KEY},
        )
        app, out = await start_app(settings)
        await app.poll_due()
        await app.deliver_due()
        return app, out

    return start


async def test_two_reports_worded_apart_are_one_alert_by_their_embeddings(with_embeddings, llm):
    _app, out = await with_embeddings()
    [(_title, _link, outlets)] = console_alerts(out.getvalue())
    assert outlets == {"Alpha", "Beta"}, "one alert, also in the other outlet"
    sent = sorted(text for request in llm.embedded for text in request)
    assert sent == sorted([story_text(*ENVOY), story_text(*AMBASSADOR)]), "headline and first words"
    assert llm.requests == [], "embeddings alone: no summary is asked of a model"


async def test_a_stored_articles_text_is_not_embedded_again(with_embeddings, llm, feed_server, clock):
    app, _out = await with_embeddings()
    asked = len(llm.embedded)
    feed_server.files["/gamma.xml"] = one_item("Gamma", 1, *ENVOY)  # a copy of the first outlet's text
    clock.advance(timedelta(minutes=10))
    [report] = [r for r in await app.poll_due() if r.new]
    assert report.new == 1 and len(llm.embedded) == asked, "its vector is the stored copy's"
    kept = await app.store.cached_embeddings([text_hash("mini", story_text(*ENVOY))])
    assert list(kept.values()) == [word_vector(story_text(*ENVOY))], "kept with the articles, as float32"


@pytest.mark.parametrize("trouble", ["status", "short"])
async def test_the_words_alone_decide_when_the_endpoint_cannot_help(with_embeddings, llm, trouble):
    setattr(llm, trouble, 503 if trouble == "status" else True)
    app, out = await with_embeddings()
    alerts = console_alerts(out.getvalue())
    assert sorted(sorted(outlets) for *_, outlets in alerts) == [["Alpha"], ["Beta"]], "two alerts, none lost"
    assert await app.store.cached_embeddings([text_hash("mini", story_text(*ENVOY))]) == {}
