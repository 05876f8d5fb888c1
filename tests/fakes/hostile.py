"""Hostile feeds: one RSS feed per kind of input that once took quadratic time, at any size, and plain
prose of the same size to compare with. For tests and bench/hostile_bench.py."""

from __future__ import annotations

from xml.sax.saxutils import escape

PROSE = "Ministers met in Brussels on Tuesday to discuss the plan, officials said. "

# kind -> (where the repeated text goes, the text): in an entry's HTML, in the channel, or in an item
KINDS: dict[str, tuple[str, str]] = {
    "comment": ("html", "<!-- a comment never closed "),
    "script": ("html", "<script>var never_closed = 1; "),
    "style": ("html", "<style>p { never: closed } "),
    "attribute quote": ("html", '<a href="https://example.org/never-closed '),
    "skipHours": ("channel", "<skipHours><hour>3</hour> "),
    "image": ("item", "<image><url>https://example.org/never-closed.png</url> "),
    "byline": ("html", "By Xyand"),  # an "and" inside a word: a name, or a name and a separator?
    "NEAR": ("html", "minister vote "),  # for the rule minister NEAR/5 vote: every pair is near
}


def hostile_feed(kind: str, size: int, guid: str = "hostile-1") -> bytes:
    """A feed of about `size` bytes whose one item (or channel) repeats the kind's text (never closed,
    and at the start of the item's text), beside a good item about the NATO-Russia Council."""
    where, text = KINDS[kind]
    repeated = text * max(1, size // len(text))
    html = (repeated if where == "html" else "") + PROSE
    return _feed(
        channel=repeated if where == "channel" else "",
        item=f"<title>Hostile {escape(guid)}</title><link>https://example.org/{escape(guid)}</link>"
        f"<description>{escape(html)}</description>" + (repeated if where == "item" else ""),
        guid=guid,
    )


def plain_feed(size: int, guid: str = "plain-1") -> bytes:
    """The control: a feed of about `size` bytes whose one item is plain prose."""
    prose = PROSE * max(1, size // len(PROSE))
    return _feed(
        channel="",
        item=f"<title>Plain {guid}</title><link>https://example.org/{guid}</link>"
        f"<guid>{guid}</guid><description>{escape(prose)}</description>",
        guid=guid,
    )


def all_kinds_feed(size: int, guid: str) -> bytes:
    """Every kind at once in about `size` bytes: what the liveness test serves."""
    share = size // len(KINDS)
    channel = "".join(text * (share // len(text)) for where, text in KINDS.values() if where == "channel")
    html = PROSE + "".join(text * (share // len(text)) for where, text in KINDS.values() if where == "html")
    extra = "".join(text * (share // len(text)) for where, text in KINDS.values() if where == "item")
    return _feed(
        channel=channel,
        item=f"<title>Hostile {guid}</title><link>https://example.org/{guid}</link>"
        f"<description>{escape(html)}</description>{extra}",
        guid=guid,
    )


def _feed(channel: str, item: str, guid: str) -> bytes:
    good = (
        "<item><title>NATO-Russia Council meets again</title><link>https://example.org/nrc</link>"
        "<guid>https://example.org/nrc</guid><description>The NATO-Russia Council met in Brussels on "
        "Tuesday for the first time in a year, diplomats said.</description></item>"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Hostile</title>'
        f"<link>https://example.org/</link>{channel}<item>{item}</item>{good}</channel></rss>"
    ).encode()
