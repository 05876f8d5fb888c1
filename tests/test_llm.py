"""The optional LLM summary: grounded in the article, cached, within budget, and the extractive
summary whenever the endpoint fails, is slow or the budget is spent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.summary.llm import messages, month_start, usable
from tests.conftest import SAMPLES
from tests.fakes.llm_api import API_KEY, FakeLlm

WORLD = (SAMPLES / "world-news.xml").read_bytes()
EXTRACTIVE = "NATO on Tuesday agreed to gradually resume contacts with Russia"


@pytest.fixture
async def llm():
    server = await FakeLlm().start()
    yield server
    await server.stop()


@pytest.fixture
def with_llm(feed_server, make_settings, start_app, llm, tmp_path):
    async def start(extra: str = ""):
        feed_server.files["/world.xml"] = WORLD
        key_file = tmp_path / "llm-key"
        key_file.write_text(API_KEY + "\n")
        settings = make_settings(
            f"summary:\n  llm:\n    base_url: {llm.base_url}\n    model: tiny\n    timeout: 1s\n{extra}"
            f"feeds:\n  - url: {feed_server.url('/world.xml')}\n    backfill: all\n"
            "subscriptions:\n  - channel: console\n    rules: [Membership Action Plan]\n",
            {"NEWSALERT_LLM_API_KEY_FILE": str(key_file)},
        )
        app, out = await start_app(settings)
        await app.poll_due()
        await app.deliver_due()
        return app, out

    return start


async def test_an_alert_carries_the_models_summary_of_that_article_only(with_llm, llm):
    _app, out = await with_llm()
    assert llm.answer in out.getvalue() and EXTRACTIVE not in out.getvalue()
    [request] = llm.requests  # only the story that alerts is summarized
    assert request["model"] == "tiny" and request["temperature"] == 0
    system, user = request["messages"]
    assert "only facts stated in the article" in system["content"] and "at most 60 words" in system["content"]
    assert user["content"].startswith("Title: NATO Agrees to Re-engage Russia\n\nNATO on Tuesday agreed")


async def test_the_same_text_is_never_summarized_twice(with_llm, llm, clock):
    app, _out = await with_llm()
    article = await app.store.recent_articles(clock.now() - timedelta(days=1))
    seed = next(a for a in article if a.title == "NATO Agrees to Re-engage Russia")
    again = await app.poller.llm.summarize(seed.title, seed.body, 60, clock.now())
    assert again == llm.answer and len(llm.requests) == 1, "from the cache, by the text's hash"


@pytest.mark.parametrize("trouble", ["status", "hang", "budget"])
async def test_the_extractive_summary_stands_when_the_model_cannot_help(with_llm, llm, trouble):
    if trouble == "status":
        llm.status = 503
    elif trouble == "hang":
        llm.hang = True
    app, out = await with_llm("    monthly_tokens: 0\n" if trouble == "budget" else "")
    assert EXTRACTIVE in out.getvalue(), "the alert still goes out, with the extractive summary"
    assert len(llm.requests) == (0 if trouble == "budget" else 1)


def test_an_answer_is_cut_to_the_word_limit_at_a_sentence():
    assert usable("One two three. Four five six seven.", 5) == "One two three."
    assert usable("  ", 5) is None
    assert usable("One two\nthree", 5) == "One two three"


def test_the_budget_is_counted_from_the_first_of_the_month():
    assert month_start(datetime(2026, 11, 28, 9, 30, tzinfo=UTC)) == datetime(2026, 11, 1, tzinfo=UTC)


def test_a_long_article_is_cut_before_it_is_sent():
    assert len(messages("T", "word " * 10_000, 60)[1]["content"]) < 12_100
