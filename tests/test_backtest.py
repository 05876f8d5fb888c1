"""Backtesting a rule on stored stories: hits per day and examples, nothing saved."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot import commands
from bot.errors import QueryError
from tests.conftest import SAMPLES, SEED_TITLE
from tests.test_cli import newsalert, write_config

WORLD = (SAMPLES / "world-news.xml").read_bytes()
LATER_ITEM = b"""    <item>
      <title>Ukraine asks again for a Membership Action Plan</title>
      <link>https://world.example.org/news/ukraine-map</link>
      <description>Kiev renewed its request for a Membership Action Plan on Wednesday.</description>
    </item>
"""


@pytest.fixture
async def app_with_history(feed_server, make_settings, start_app, clock):
    """Stories fetched on two different days: the sample feed, then one more story two days on."""
    feed_server.files["/world.xml"] = WORLD
    settings = make_settings(
        f"feeds:\n  - url: {feed_server.url('/world.xml')}\n    name: World Desk\n"
        "subscriptions:\n  - channel: console\n    rules: [Georgia]\n"
    )
    app, _out = await start_app(settings)
    await app.poll_due()
    feed_server.files["/world.xml"] = WORLD.replace(b"    <item>", LATER_ITEM + b"    <item>", 1)
    clock.advance(timedelta(days=2))
    await app.poll_due()
    return app


async def test_backtest_counts_hits_per_day_and_shows_examples(app_with_history, clock):
    before = await app_with_history.store.count_outbox()
    result = await commands.test_rule(
        app_with_history.store, "Membership Action Plan", now=clock.now(), days=7
    )
    assert result.rule == '"Membership Action Plan"'
    assert result.checked == 8
    assert [count for _, count in result.days] == [0, 0, 0, 0, 1, 0, 1]
    assert result.days[-1][0] == clock.now().date()
    assert result.samples == (
        ("Ukraine asks again for a Membership Action Plan", "World Desk"),
        (SEED_TITLE, "World Desk"),
    )
    assert await app_with_history.store.count_outbox() == before, "a backtest saves and sends nothing"
    text = commands.describe_backtest(result)
    assert text.splitlines()[:2] == [
        'Rule as understood: "Membership Action Plan"',
        "Over the last 7 days it matched 2 of 8 stories.",
    ]
    assert "  - Ukraine asks again for a Membership Action Plan (World Desk)" in text


async def test_a_backtest_says_it_sees_no_further_back_than_the_stories_kept(app_with_history, clock):
    first = clock.now() - timedelta(days=2)
    week = await commands.test_rule(app_with_history.store, "Membership Action Plan", now=clock.now())
    assert week.heading()[2] == f"Stories are stored since {first:%d %b %Y}: none older to look at."
    days = await commands.test_rule(app_with_history.store, "Membership Action Plan", now=clock.now(), days=2)
    assert len(days.heading()) == 2, "all it looks at is stored"

    clock.advance(timedelta(days=89))  # retention.articles (90d): the sample feed's first stories go
    await app_with_history.prune_due()
    result = await commands.test_rule(
        app_with_history.store, "Membership Action Plan", now=clock.now(), days=91
    )
    assert result.heading() == [
        'Rule as understood: "Membership Action Plan"',
        "Over the last 91 days it matched 1 of 1 stories.",
        f"Stories are stored since {clock.now() - timedelta(days=89):%d %b %Y}: none older to look at.",
    ]


async def test_backtest_window_and_bad_rules(app_with_history, clock):
    recent = await commands.test_rule(
        app_with_history.store, "title:Ukraine -feed:Sport", now=clock.now(), days=1
    )
    assert (recent.hits, recent.checked) == (1, 1)
    with pytest.raises(QueryError, match="unclosed quote at 0"):
        await commands.test_rule(app_with_history.store, '"Membership', now=clock.now())


def test_rules_test_on_the_command_line(tmp_path):
    config = str(write_config(tmp_path))
    assert newsalert("run", "--once", "--config", config, cwd=tmp_path).returncode == 0
    result = newsalert("rules", "test", "case:MAPs OR title:Bucharest", "--config", config, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        'Rule as understood: case:"MAPs" OR title:"Bucharest"',
        "Over the last 7 days it matched 1 of 13 stories.",
    ]
    assert f"  - {SEED_TITLE} (World Desk)" in result.stdout
    refused = newsalert("rules", "test", "NATO AND", "--config", config, cwd=tmp_path)
    assert refused.returncode == 2
    assert (
        refused.stderr.strip() == "newsalert: cannot use that rule: the rule ends where a word was expected "
        "at character 9: NATO AND\u25b6"
    )
