"""One alert per story across outlets: canonical links (trackers and the feed's own parameters gone),
the story key, and the whole path from five feeds carrying one wire story to one Telegram alert
edited to name them all (the decider's own table tests are in test_stories.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from bot.dedupe import canonical_url, feed_parameters, story_key, title_key, url_key
from bot.feeds.parse import only_entries, parse_feed, raw_entries
from bot.pipeline import parameters_in_entries
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
        # courlan's tracker list: a name that ends in _source, _medium or _campaign says where you came from
        ("https://news.example/a/1?traffic_source=rss", "https://news.example/a/1", "news.example/a/1"),
        ("https://news.example/a/1?at_medium=RSS&at_campaign=rss", "https://news.example/a/1",
         "news.example/a/1"),
        # what names the article stays, spelled as it was: courlan's strict mode would drop ?article=9
        ("https://news.example/read?article=9&utm_campaign=x", "https://news.example/read?article=9",
         "news.example/read?article=9"),
        ("https://news.example/q?tag=a%2Cb+c&x=%7E", "https://news.example/q?tag=a%2Cb+c&x=%7E",
         "news.example/q?tag=a%2Cb+c&x=%7E"),
        ("https://news.example/a/2#publisher=newsstand", "https://news.example/a/2", "news.example/a/2"),
    ],
)  # fmt: skip
def test_links_lose_what_only_says_how_you_got_there(link, shown, key):
    assert canonical_url(link) == shown
    assert url_key(link) == key
    assert canonical_url(shown) == shown, "cleaning a clean link changes nothing"


@pytest.mark.parametrize(
    ("links", "feeds_own"),
    [
        (["https://w.example/a/1?maca=en-rss-all", "https://w.example/b/2?maca=en-rss-all",
          "https://w.example/c/3?maca=en-rss-all"], {"maca=en-rss-all"}),
        # the value names the article: it differs from one to the next
        (["https://w.example/read?story=1&via=rss", "https://w.example/read?story=2&via=rss",
          "https://w.example/read?story=3&via=rss"], {"via=rss"}),
        # two links are too few to tell a feed's parameter from a coincidence
        (["https://w.example/a?via=rss", "https://w.example/b?via=rss"], set()),
        # one item repeated three times is one link, not three
        (["https://w.example/a?via=rss"] * 3, set()),
        # one link without it: not every link has it
        (["https://w.example/a?via=rss", "https://w.example/b?via=rss", "https://w.example/c"], set()),
        # a parameter that names the page or its language is kept, even when every link has the same
        (["https://w.example/x.php?id=7&lang=fr&p=2&a=1", "https://w.example/x.php?id=7&lang=fr&p=2&a=2",
          "https://w.example/x.php?id=7&lang=fr&p=2&a=3"], set()),
        (["not a link", "file:///a?x=1", ""], set()),
    ],
)  # fmt: skip
def test_a_parameter_on_every_link_of_a_feed_names_the_feed_not_the_article(links, feeds_own):
    assert feed_parameters(links) == feeds_own
    shown = [canonical_url(link, feed_parameters(links)) for link in links]
    assert not any(p in link for p in feeds_own for link in shown)


def items_xml(links: list[str], *, atom: bool = False) -> bytes:
    """A feed of one item a link, no guid (so its identity is its link), in RSS 2.0 or Atom."""
    if atom:
        entries = "".join(
            f'<entry><id>urn:{i}</id><title>Item {i}</title><link rel="alternate" href="{escape(link)}"/>'
            f"<updated>2024-01-0{i + 1}T00:00:00Z</updated></entry>"
            for i, link in enumerate(links)
        )
        return f'<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title>{entries}</feed>'.encode()
    entries = "".join(
        f"<item><title>Item {i}</title><link>{escape(link)}</link><description>Text {i}.</description></item>"
        for i, link in enumerate(links)
    )
    channel = f"<channel><title>F</title>{entries}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


def shown_both_ways(body: bytes) -> list[tuple[str, str]]:
    """Each entry's shown link with the whole feed parsed, and with only that entry parsed (a poll
    that finds one new entry reads only it: the parameters are then looked for in the raw XML)."""
    whole = parse_feed(body, "http://f.example/feed")
    plain = feed_parameters([a.link for a in whole.articles])
    entries = raw_entries(body)
    assert entries is not None, "the fast path reads this feed"
    result = []
    for entry in entries:
        [article] = parse_feed(only_entries(body, entries, [entry]), "http://f.example/feed").articles
        fast = parameters_in_entries(body, entries, [article.link])
        result.append((canonical_url(article.link, plain), canonical_url(article.link, fast)))
    return result


@pytest.mark.parametrize("atom", [False, True])
@pytest.mark.parametrize(
    "links",
    [
        [f"https://w.example/a/{i}?maca=en-rss&utm_source=rss" for i in range(4)],
        [f"https://w.example/read?story={i}&via=rss&p=1" for i in range(3)],
        [f"https://w.example/read?story=1{i}&via=rss" for i in range(3)]
        + ["https://w.example/other?story=1"],
        # "story=1" is in every entry's XML, but inside story=10, 11...: not standing alone
        [
            "https://w.example/read?story=1",
            "https://w.example/read?story=10",
            "https://w.example/read?story=11",
        ],
    ],
)
def test_a_poll_that_parses_only_its_new_entries_shows_the_links_a_whole_parse_shows(links, atom):
    for whole, fast in shown_both_ways(items_xml(links, atom=atom)):
        assert fast == whole


CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real-feeds"


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no feed corpus at {CORPUS}")
def test_on_the_real_feeds_the_fast_path_shows_the_links_a_whole_parse_shows():
    compared = 0
    for line in (CORPUS / "MANIFEST.jsonl").read_text().splitlines():
        body = (CORPUS / json.loads(line)["file"]).read_bytes()
        if raw_entries(body) is None:
            continue
        pairs = shown_both_ways(body)
        assert [fast for _, fast in pairs] == [whole for whole, _ in pairs]
        compared += len(pairs)
    assert compared > 1000


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


def shown_links(console: str) -> list[str]:
    return [line for line in console.splitlines() if line.startswith("https://")]


async def test_alerts_link_to_the_article_alone_and_old_items_never_alert_again(
    feed_server, make_settings, start_app, clock
):
    def link(n: int) -> str:
        return f"https://w.example/world/nato-{n}?maca=en-rss-world&utm_source=rss"

    feed_server.files["/w.xml"] = items_xml([link(n) for n in range(3)])
    settings = make_settings(
        f"feeds:\n  - url: {feed_server.url('/w.xml')}\n    backfill: all\n"
        "subscriptions:\n  - channel: console\n    rules: [Item]\n"
    )
    app, out = await start_app(settings)
    await app.poll_due()  # the whole feed parsed: every link tells what the feed adds to each
    await app.deliver_due()
    assert sorted(shown_links(out.getvalue())) == [f"https://w.example/world/nato-{n}" for n in range(3)]

    feed_server.files["/w.xml"] = items_xml([link(n) for n in range(4)])  # one new item: read alone
    clock.advance(timedelta(minutes=6))
    await app.poll_due()
    await app.deliver_due()
    assert shown_links(out.getvalue())[3:] == ["https://w.example/world/nato-3"]
    assert "maca" not in out.getvalue() and "utm_" not in out.getvalue()

    feed_server.files["/w.xml"] = items_xml([link(n) for n in range(4)]) + b"\n"  # changed, nothing new
    clock.advance(timedelta(minutes=6))
    await app.poll_due()
    await app.deliver_due()
    assert len(shown_links(out.getvalue())) == 4, "each item is known by its link as its feed gives it"
