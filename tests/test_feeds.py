"""Parsing feeds into clean Articles, and fetching them over real loopback HTTP."""

from datetime import UTC, datetime

import pytest
from aiohttp import web

from bot.errors import FetchError
from bot.feeds.fetch import Fetcher, FetchLimits, open_session
from bot.feeds.markup import html_to_text
from bot.feeds.parse import only_entries, parse_feed, raw_entries
from tests.conftest import SAMPLES, SEED_TITLE


def test_sample_feed_parses_oldest_first_into_plain_text():
    parsed = parse_feed((SAMPLES / "world-news.xml").read_bytes())
    assert parsed.title == "World Desk (sample)"
    assert len(parsed.articles) == 7
    dates = [a.published_at for a in parsed.articles]
    assert dates == sorted(dates)
    seed = next(a for a in parsed.articles if a.title == SEED_TITLE)
    assert seed.published_at == datetime(2008, 12, 2, 14, 0, tzinfo=UTC)
    assert seed.guid == seed.link == "https://world.example.org/news/nato-agrees-to-re-engage-russia"
    assert "<p>" not in seed.text and "operational meetings of the NATO-Russia Council" in seed.text
    assert seed.text.splitlines()[0] == "Get the latest updates as we post them \u2014 right on your browser"


def test_atom_feed_parses_too():
    parsed = parse_feed((SAMPLES / "science-tech.xml").read_bytes())
    assert parsed.title == "Science & Tech Desk (sample)"
    assert len(parsed.articles) == 6
    assert all(a.guid and a.link.startswith("https://science.example.org/") for a in parsed.articles)


def test_html_becomes_paragraph_lines_without_scripts_or_entities():
    markup = "<p>One &amp; two</p><script>alert(1)</script><div>Three<br>four  \n five</div>"
    assert html_to_text(markup) == "One & two\nThree\nfour five"


def test_undated_entries_keep_feed_order_reversed():
    body = b"""<rss version="2.0"><channel><title>t</title>
    <item><title>newest</title><link>https://x.test/3</link></item>
    <item><title>older</title><link>https://x.test/2</link></item>
    </channel></rss>"""
    assert [a.title for a in parse_feed(body).articles] == ["older", "newest"]


async def serve(handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/feed", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/feed"


async def test_conditional_get_sends_validators_and_understands_304(feed_server):
    feed_server.files["/f.xml"] = b"<rss/>"
    async with open_session() as session:
        fetcher = Fetcher(session)
        first = await fetcher.fetch(feed_server.url("/f.xml"))
        assert first.body == b"<rss/>" and first.etag
        second = await fetcher.fetch(feed_server.url("/f.xml"), first.etag, None)
    assert second.body is None and second.etag == first.etag
    assert feed_server.requests[-1].headers["If-None-Match"] == first.etag
    assert feed_server.requests[-1].headers["User-Agent"].startswith("newsalert/")


async def test_a_body_over_the_cap_is_refused_even_when_compressed():
    async def huge(request: web.Request) -> web.Response:
        response = web.Response(body=b"<" * 2_000_000)
        response.enable_compression()  # 2 MB of "<" compresses to a few KB on the wire
        return response

    runner, url = await serve(huge)
    try:
        async with open_session() as session:
            with pytest.raises(FetchError) as caught:
                await Fetcher(session, FetchLimits(max_bytes=100_000)).fetch(url)
    finally:
        await runner.cleanup()
    assert caught.value.kind == "too_large"


async def test_http_errors_and_unreachable_hosts_are_fetch_errors(feed_server):
    async with open_session() as session:
        fetcher = Fetcher(session)
        with pytest.raises(FetchError) as missing:
            await fetcher.fetch(feed_server.url("/nothing.xml"))
        await feed_server.stop()
        with pytest.raises(FetchError) as down:
            await fetcher.fetch(feed_server.url("/nothing.xml"))
    assert (missing.value.kind, missing.value.status) == ("http", 404)
    assert down.value.kind == "network" and "127.0.0.1" in str(down.value)


async def test_files_named_in_the_config_are_read_from_disk(tmp_path):
    async with open_session() as session:
        fetcher = Fetcher(session)
        result = await fetcher.fetch((SAMPLES / "world-news.xml").as_uri())
        assert result.body.startswith(b"<?xml")
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch((tmp_path / "absent.xml").as_uri())
    assert caught.value.kind == "file"


def test_an_impossible_date_loses_the_date_not_the_feed():
    body = b"""<rss version="2.0"><channel><title>t</title>
    <item><title>zero date</title><link>https://x.test/0</link><pubDate>0000-00-00 00:00:00</pubDate></item>
    <item><title>fine</title><link>https://x.test/1</link>
      <pubDate>Tue, 02 Dec 2008 14:00:00 GMT</pubDate></item>
    </channel></rss>"""
    parsed = parse_feed(body)
    assert sorted(a.title for a in parsed.articles) == ["fine", "zero date"]
    assert [a.published_at for a in parsed.articles if a.title == "zero date"] == [None]


def test_an_html_page_is_not_a_feed():
    parsed = parse_feed(b"<html><body><p>Welcome to our site <b>unclosed</p></html>")
    assert parsed.articles == [] and not parsed.is_feed
    assert parse_feed(b'<rss version="2.0"><channel><title>empty</title></channel></rss>').is_feed


def test_raw_entries_match_what_parsing_gives_and_select_entries():
    for sample in ("world-news.xml", "science-tech.xml"):
        body = (SAMPLES / sample).read_bytes()
        entries = raw_entries(body)
        assert sorted(e.identity for e in entries) == sorted(a.identity for a in parse_feed(body).articles)
        part = parse_feed(only_entries(body, entries, [entries[0], entries[2]]))
        assert {a.identity for a in part.articles} == {entries[0].identity, entries[2].identity}
        assert part.title == parse_feed(body).title


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (
            "<item><guid><![CDATA[ a&b ]]></guid></item><item><guid>x&amp;y</guid></item>",
            ["guid:a&b", "guid:x&y"],
        ),
        (
            "<item><guid>a</guid></item><item><link>https://x.test/no-guid</link></item>",
            ["guid:a", "link:https://x.test/no-guid"],
        ),
        (
            "<item><link>https://x.test/1</link><image><link>https://x.test/</link></image></item>"
            "<item><image><url>https://x.test/i.png</url><link>https://x.test/</link></image>"
            "<link>https://x.test/2</link></item>",
            ["link:https://x.test/1", "link:https://x.test/2"],
        ),
        ("<item><link>https://x.test/1</link><link>https://x.test/2</link></item>", None),
        ("<item><link>/relative</link></item>", None),
        ("<item><guid>a</guid><guid>b</guid></item>", None),
        ("<item><guid>a</guid></item><item><guid>b</guid>", None),
        # markup inside a comment or CDATA section is text: it ends no entry
        ("<item><guid>a</guid><!-- </item> --></item>", ["guid:a"]),
        ("<item><guid>a</guid><description><![CDATA[x</item><item>]]></description></item>", ["guid:a"]),
        ("<item><guid>a</guid><description><![CDATA[x</item></channel></rss>", None),  # never closed
        ("<item><guid>a</guid><!-- </item></channel></rss>", None),
        ("<item><guid>a<b/></guid></item>", None),  # markup in the id
        ("<item><guid>a</guid><item><guid>b</guid></item></item>", None),  # an entry inside another
        ("<item><guid>a</guid></entry>", None),
        (
            "<item><image url='https://x.test/i.png'/><link>https://x.test/1</link></item>",
            ["link:https://x.test/1"],
        ),
        ("<item><guid>a</guid><!-- c --><description><![CDATA[x]]></description></item>", ["guid:a"]),
        ("", None),
    ],
)
def test_raw_entries_give_up_on_anything_unusual(items, expected):
    body = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    entries = raw_entries(body)
    assert (entries and [e.identity for e in entries]) == expected
    if entries:
        assert sorted(e.identity for e in entries) == sorted(a.identity for a in parse_feed(body).articles)


def test_raw_entries_leave_other_encodings_to_the_full_parse():
    body = '<rss version="2.0"><channel><item><guid>a</guid><title>Путин</title></item></channel></rss>'
    assert raw_entries(body.encode("cp1251")) is None
    assert [e.identity for e in raw_entries(body.encode("utf-8"))] == ["guid:a"]
