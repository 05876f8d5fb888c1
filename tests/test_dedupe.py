"""One alert per story across outlets: canonical links, the story key, and the whole path from five
feeds carrying one wire story to one Telegram alert edited to name them all (the decider's own table
tests are in test_stories.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

import pytest

from bot.dedupe import canonical_url, story_key, title_key, url_key
from tests.data.wire_story import OUTLETS, SAME_TOPIC
from tests.fakes.telegram_api import TOKEN

DAY = datetime(2008, 12, 2, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("link", "shown", "key"),
    [
        ("https://www.reuters.com/world/x?utm_source=rss&utm_medium=feed&id=5#comments",
         "https://www.reuters.com/world/x?id=5", "reuters.com/world/x?id=5"),
        ("http://m.example.org/world/x/amp/?ocid=socialflow",
         "http://m.example.org/world/x", "example.org/world/x"),
        ("https://amp.example.org/amp/world/x.amp.html?outputType=amp&fbclid=1",
         "https://amp.example.org/world/x.html", "example.org/world/x.html"),
        ("https://Example.org:443/a/?b=2&a=1", "https://example.org:443/a/?a=1&b=2", "example.org/a?a=1&b=2"),
        ("file:///srv/feeds/a.xml", "file:///srv/feeds/a.xml", "file:///srv/feeds/a.xml"),
        ("not a link", "not a link", "not a link"),
        ("https://example.org:abc/x", "https://example.org:abc/x", "https://example.org:abc/x"),  # no port
    ],
)  # fmt: skip
def test_links_lose_what_only_says_how_you_got_there(link, shown, key):
    assert canonical_url(link) == shown
    assert url_key(link) == key


def test_a_headline_is_compared_without_its_own_feeds_name_only():
    assert title_key(
        "NATO agrees to resume contacts with Russia - Reuters", "Reuters World News"
    ) == title_key("Nato agrees to resume contacts with Russia | Daily Planet", "Daily Planet")
    baltic = title_key("NATO foreign ministers meet in Brussels - Baltic air policing", "NATO News")
    cyber = title_key("NATO foreign ministers meet in Brussels - cyber defence review", "NATO News")
    assert baltic != cyber, "a subtitle is the headline's own"
    assert title_key("ASP.NET Identity 2.0 Tutorial - Password Reset and Roles", "Eliot's blog") != title_key(
        "ASP.NET Identity 2.0 Tutorial - Entity Framework Free", "Eliot's blog"
    )
    assert title_key("Russia warns NATO: missile defence", "Reuters") != title_key(
        "Russia warns NATO", "Reuters"
    )


def test_a_headline_with_a_long_run_of_spaces_is_compared_like_an_ordinary_one():
    run = " " * 50_000
    assert title_key(
        "NATO agrees to resume contacts with Russia" + run + "- Reuters", "Reuters"
    ) == title_key("NATO agrees to resume contacts with Russia - Reuters", "Reuters")
    assert story_key("https://example.org/x", "Talks" + run + "resume", "Talks resume.").title == title_key(
        "Talks resume"
    )


def test_the_key_holds_the_words_of_headline_and_lead_once_each():
    key = story_key(
        "https://a.example/x?utm_source=rss",
        "Peru's Congress removes interim President Jerí - Daily Planet",
        "Peru's Congress voted on Tuesday to remove interim President José Jerí. " + "More words. " * 100,
        "Daily Planet",
    )
    assert key.url == "a.example/x"
    assert key.title_terms == ("peru", "congress", "remov", "interim", "presid", "jeri")
    assert key.lead_terms[:4] == ("vote", "on", "tuesday", "to")
    assert "planet" not in key.title_terms + key.lead_terms, "the feed's own name is not the story's"
    assert len(key.lead_terms) < 60, "the lead only, each word once"


def feed_xml(name: str, items: list[tuple[str, str, str, str]]) -> bytes:
    entries = "".join(
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        f"<pubDate>{format_datetime(DAY)}</pubDate><description>{escape(body)}</description></item>"
        for _, link, title, body in items
    )
    channel = f"<channel><title>{name}</title>{entries}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


async def test_one_alert_per_story_edited_to_name_every_outlet(
    feed_server, make_settings, start_app, telegram, clock
):
    for name, *_ in OUTLETS:
        feed_server.files[f"/{name}.xml"] = feed_xml(name, [])
    feeds = "".join(f"  - url: {feed_server.url(f'/{n}.xml')}\n    name: {n}\n" for n, *_ in OUTLETS)
    settings = make_settings(
        f"telegram:\n  token: {TOKEN}\n  api_url: {telegram.api_url}\nfeeds:\n{feeds}"
        "subscriptions:\n  - channel: telegram\n    address: '1001'\n    rules: [NATO-Russia Council]\n"
    )
    app, _out = await start_app(settings)
    await app.poll_due()  # every feed known, empty: from now on every new item may alert

    reuters, *others = OUTLETS
    feed_server.files["/Reuters.xml"] = feed_xml("Reuters", [reuters])
    clock.advance(timedelta(minutes=6))
    await app.poll_due()
    await app.deliver_due()
    [alert] = telegram.to(1001)
    assert alert["html"].startswith('<b><a href="https://www.reuters.com/world/nato-russia-contacts">')
    assert "Also in" not in alert["text"]

    for item in others:
        feed_server.files[f"/{item[0]}.xml"] = feed_xml(item[0], [item])
    feed_server.files["/Reuters.xml"] = feed_xml("Reuters", [reuters, *SAME_TOPIC])
    clock.advance(timedelta(minutes=6))
    await app.poll_due()
    for _ in range(3):  # a private chat takes a message a second
        await app.deliver_due()
        clock.advance(timedelta(seconds=1))
    alerts = telegram.to(1001)
    assert len(alerts) == 3, "the wire story once; the two other stories on the topic each once"
    assert {a["text"].split("\n")[0] for a in alerts[1:]} == {title for _, _, title, _ in SAME_TOPIC}
    assert telegram.edits[-1]["message_id"] == alert["message_id"]
    [also_in] = [line for line in telegram.edits[-1]["text"].split("\n") if line.startswith("Also in: ")]
    assert sorted(also_in.removeprefix("Also in: ").split(", ")) == ["AP", "Daily Planet", "Globe", "Herald"]
    assert len(telegram.edits) == 1, "one edit for the four outlets that came in one tick"
