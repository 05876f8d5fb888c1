"""The fast path reads feeds exactly as feedparser does wherever it answers, and answers for most."""

import pytest

from bot.feeds.fastparse import parse_simple
from bot.feeds.parse import parse_feed
from tests.test_parse_corpus import CORPUS, REAL, feed_files, needs_corpus, served_content_type

URL = "http://example.test/feed"


def disagreements(folder: str, with_served_type: bool) -> tuple[int, int, list[str]]:
    """(files, files the fast path answered, how it disagreed with feedparser on each)."""
    files, answered, problems = 0, 0, []
    for path in feed_files(CORPUS / folder):
        body = path.read_bytes()
        content_type = served_content_type(body) if with_served_type else None
        files += 1
        if parse_simple(body, URL, content_type) is None:
            continue
        answered += 1
        fast = parse_feed(body, URL, content_type)
        reference = parse_feed(body, URL, content_type, fast=False)
        if fast != reference:
            problems.append(f"{path.relative_to(CORPUS)}: {first_difference(fast, reference)}")
    return files, answered, problems


def first_difference(fast, reference) -> str:
    for name in ("title", "bozo", "version", "ttl", "skip_hours"):
        if getattr(fast, name) != getattr(reference, name):
            return f"{name}: {getattr(fast, name)!r} != {getattr(reference, name)!r}"
    if len(fast.articles) != len(reference.articles):
        return f"{len(fast.articles)} articles != {len(reference.articles)}"
    for ours, theirs in zip(fast.articles, reference.articles, strict=True):
        if ours != theirs:
            return f"{ours} != {theirs}"
    return "?"


@needs_corpus
def test_the_fast_path_agrees_with_feedparser_on_every_real_feed_it_answers_and_answers_most():
    files, answered, problems = disagreements("real-feeds", with_served_type=False)
    assert not problems, "\n".join(problems)
    assert answered >= 0.8 * files, f"answered only {answered} of {files}"


@needs_corpus
@pytest.mark.parametrize(
    "folder",
    ["feedparser-tests/encoding", "feedparser-tests/entities", "feedparser-tests/illformed"]
    + ["feedparser-tests/wellformed", "feedparser-tests/json"],
)
def test_on_feedparser_edge_cases_the_fast_path_agrees_or_steps_aside(folder):
    _, _, problems = disagreements(folder, with_served_type=True)
    assert not problems, "\n".join(problems)


@needs_corpus
def test_the_fast_path_steps_aside_for_broken_xml_doctype_and_xml_base():
    for name in ("fastfeedparser/oddity-dylanharris-broken-xml.rss", "fastfeedparser/al-monitor.rss"):
        assert parse_simple((REAL / name).read_bytes(), URL, None) is None, name


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>T</title>{extra}
<item><title>One &amp; two</title><link>http://example.test/a?x=1&amp;y=2</link>
<guid isPermaLink="false">id-1</guid><pubDate>Sun, 01 Mar 2026 12:00:00 GMT</pubDate>
<description>&lt;p&gt;Body&lt;/p&gt;</description></item></channel></rss>"""


@pytest.mark.parametrize(
    ("extra", "answers"),
    [
        ("", True),
        ("<ttl>30</ttl>", True),
        ('<itunes:image xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" href="x"/>', False),
        ("<!-- a comment is fine between elements -->", True),
    ],
)
def test_a_small_feed_is_read_as_feedparser_reads_it(extra, answers):
    body = RSS.format(extra=extra).encode()
    assert (parse_simple(body, URL, "application/rss+xml") is not None) == answers
    assert parse_feed(body, URL, "application/rss+xml") == parse_feed(
        body, URL, "application/rss+xml", fast=False
    )


@pytest.mark.parametrize(
    "body",
    [
        RSS.format(extra="").replace("<title>One", "<title><b>One</b>"),  # markup inside a text field
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x "y">]><rss version="2.0"><channel/></rss>',
        RSS.format(extra="").replace("<channel>", '<channel xml:base="http://other.test/">'),
        b"<rss version='2.0'><channel><title>unclosed</channel></rss>",
        b"<html><body>not a feed</body></html>",
    ],
)
def test_the_fast_path_steps_aside_when_unsure(body):
    body = body.encode() if isinstance(body, str) else body
    assert parse_simple(body, URL, "application/rss+xml") is None
