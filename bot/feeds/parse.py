"""Feed bytes -> ParsedFeed of Articles (plain text, clean) via feedparser. Pure, no I/O."""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import feedparser

from bot.domain import Article
from bot.feeds.encoding import as_utf8_xml, decode_feed, reads_the_same, unreadable, utf8_beyond_ascii
from bot.feeds.fastparse import parse_simple
from bot.feeds.markup import html_to_text


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    articles: list[Article]  # oldest first
    bozo: str | None  # feedparser's complaint about malformed input, if any
    version: str = ""  # "rss20", "atom10"...; empty when feedparser saw no feed at all
    ttl: timedelta | None = None  # RSS <ttl>: how long the feed may be cached
    skip_hours: frozenset[int] = frozenset()  # RSS <skipHours>: hours (UTC) not worth a poll

    @property
    def is_feed(self) -> bool:
        """False for a body feedparser could make nothing of (an HTML page, broken XML)."""
        return bool(self.articles or self.version)


def _entry_text(entry: dict) -> str:
    bodies = [c.get("value", "") for c in entry.get("content", [])]
    bodies.append(entry.get("summary", ""))
    return html_to_text(max(bodies, key=len))


def _entry_time(entry: dict) -> datetime | None:
    # dict.get: FeedParserDict.get("updated_parsed") falls back to a None published_parsed with a warning
    parsed = entry.get("published_parsed") or dict.get(entry, "updated_parsed")
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC) if parsed else None
    except (ValueError, OverflowError, OSError):  # "0000-00-00" and other impossible dates
        return None


def content_hash(title: str, text: str) -> str:
    return hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()


def to_article(entry: dict) -> Article:
    title = html_to_text(entry.get("title", "")).replace("\n", " ")
    text = _entry_text(entry)
    return Article(
        title=title,
        link=entry.get("link", "").strip(),
        guid=(entry.get("id") or "").strip() or None,
        text=text,
        published_at=_entry_time(entry),
        content_hash=content_hash(title, text),
    )


def parse_feed(
    body: bytes, url: str = "", content_type: str | None = None, *, fast: bool = True
) -> ParsedFeed:
    """Parse with feedparser; if decode_feed reads the bytes differently, parse that too, keep the better.
    Valid UTF-8 beyond ASCII is parsed once, as UTF-8: no label can read it better.

    fast: try fastparse first, which reads plain well-formed feeds as feedparser does, 20 times faster,
    and leaves the rest to feedparser (False: feedparser only, as the agreement test compares).
    """
    parse = _fast_or_feedparser if fast else _feedparser
    text = utf8_beyond_ascii(body)
    if text is not None:
        parsed = parse(as_utf8_xml(text), url, "application/xml; charset=utf-8")
    else:
        text = decode_feed(body, content_type)
        parsed = _better_reading(parse, body, text, url, content_type)
    articles = [to_article(e) for e in parsed["entries"] if e.get("title") or e.get("link")]
    bozo = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    title = html_to_text(parsed["feed"].get("title", ""))
    ttl = str(parsed["feed"].get("ttl", "")).strip()
    return ParsedFeed(
        title,
        oldest_first(articles),
        bozo,
        parsed.get("version", ""),
        timedelta(minutes=int(ttl)) if ttl.isdigit() and 0 < int(ttl) < 100_000 else None,
        skip_hours(text),
    )


_Parse = Callable[[bytes, str, "str | None"], Any]  # bytes, url, content type -> feedparser's result
_SKIP_HOURS = re.compile(r"<skipHours>(.*?)</skipHours>", re.DOTALL | re.IGNORECASE)
_HOUR = re.compile(r"<hour>\s*(\d{1,2})\s*</hour>", re.IGNORECASE)


def skip_hours(text: str) -> frozenset[int]:
    """RSS 2.0 <skipHours> (feedparser keeps only the last <hour>). Specs: rssboard.org/skip-hours-days"""
    block = _SKIP_HOURS.search(text)
    hours = (int(h) for h in _HOUR.findall(block.group(1))) if block else ()
    return frozenset(h % 24 for h in hours if 0 <= h <= 24)


def _better_reading(parse: _Parse, body: bytes, text: str, url: str, content_type: str | None) -> dict:
    """feedparser's reading of the bytes, or ours (text) if it reads better."""
    parsed = parse(body, url, content_type)
    if reads_the_same(body, parsed.get("encoding", ""), text):
        return parsed
    # feedparser trusts RFC 3023 (text/xml means us-ascii, no header means iso-8859-1) and a lying
    # XML declaration, then falls back blindly to windows-1252; decode_feed also detects. Both can
    # be wrong, so we parse our text too and keep whichever reads better (ties go to ours).
    ours = parse(as_utf8_xml(text), url, "application/xml; charset=utf-8")
    if unreadable(ours) > unreadable(parsed):
        return parsed
    if parsed.get("bozo") and not ours.get("bozo"):  # still say what was wrong with the bytes
        ours["bozo"], ours["bozo_exception"] = True, parsed.get("bozo_exception")
    return ours


def _fast_or_feedparser(body: bytes, url: str, content_type: str | None) -> dict:
    return parse_simple(body, url, content_type) or _feedparser(body, url, content_type)


def _feedparser(body: bytes, url: str, content_type: str | None) -> feedparser.FeedParserDict:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # A stream, not bytes: given bytes or str, feedparser first tries open() on them as a file name
    # (and fetches a str that looks like a URL), so a body like b"/etc/passwd" would be read from disk.
    # No sanitizing and no resolving of links inside the HTML: we keep only its text (html_to_text drops
    # script and style), so that work (half of feedparser's time) would be thrown away.
    return feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )


# -- Changed feeds, few new entries: find which entries are new without parsing them all ----------

# One pass over the body, token by token. CDATA sections and comments are taken whole, so that markup
# inside them ("</item>" in a description) is text; an id is taken with its text, which may be CDATA
# but no other markup. We give up on a CDATA section or comment never closed ("unsure") and on an id
# with markup inside ("bad_id").
_CDATA_SECTION = rb"!\[CDATA\[[^\]]*(?:\](?!\]>)[^\]]*)*\]\]>"  # "<![CDATA[...]]>" without its "<"
_TEXT = rb"[^<]*(?:<" + _CDATA_SECTION + rb"[^<]*)*"
_TOKEN = re.compile(  # "<", then a branch for each character that may follow it: re scans quickly
    rb"<(?:(?P<skip>" + _CDATA_SECTION + rb"|!--[^-]*(?:-(?!->)[^-]*)*-->)|(?P<unsure>!\[CDATA\[|!--)"
    rb"|(?P<open>(?P<opening>item|entry)[\s>])|(?P<close>/(?P<closing>item|entry)\s*>)"
    rb"|(?P<id>(?P<tag>guid|id)(?:\s[^>]*)?>(?P<text>" + _TEXT + rb")</(?P=tag)\s*>)"
    rb"|(?P<bad_id>(?:guid|id)[\s>]))",
)
_ITEM_LINK = re.compile(rb"<link(?:\s[^>]*)?(?<!/)>(" + _TEXT + rb")</link\s*>")
_IMAGE = re.compile(rb"<image(?:\s[^>]*)?/>|<image[\s>].*?</image\s*>", re.DOTALL)
_CDATA = re.compile(r"^<!\[CDATA\[(.*)\]\]>$", re.DOTALL)


class RawEntry(NamedTuple):
    span: tuple[int, int]  # where it is in the body, its tags included
    identity: str  # as Article.identity


def raw_entries(body: bytes) -> list[RawEntry] | None:
    """Each entry's place and identity read straight from the XML, in order; None when the body cannot
    be read that simply (no entries, an entry not closed or inside another, an entry without exactly
    one guid or id, or without a guid and exactly one absolute <link>, odd markup, not UTF-8): then the
    whole feed is parsed."""
    try:
        body.decode("utf-8")  # other encodings may be detected from the whole body: parse it whole
    except UnicodeDecodeError:
        return None
    entries: list[RawEntry] = []
    start, name, ids = -1, b"", []  # the entry being read: where it opened, its tag, its ids' texts
    for token in _TOKEN.finditer(body):
        kind = token.lastgroup
        if kind == "skip" or (kind == "id" and start < 0):  # a feed's own <id> is not an entry's
            continue
        if kind == "id":
            ids.append(token["text"])
        elif kind == "open" and start < 0:
            start, name, ids = token.start(), token["opening"], []
        elif kind == "close" and start >= 0 and token["closing"] == name:
            identity = _identity(body, start, token.end(), ids)
            if identity is None:
                return None
            entries.append(RawEntry((start, token.end()), identity))
            start = -1
        else:  # unsure, an id with markup, an entry inside another, a closing without its opening
            return None
    return entries if entries and start < 0 else None


def _identity(body: bytes, start: int, end: int, ids: list[bytes]) -> str | None:
    """guid:<its one guid or id>; an RSS 2.0 <item> without one is link:<its one absolute link> (an
    RSS 1.0 one, <item rdf:about=...>, is not)."""
    links = [] if ids or not body.startswith(b"<item>", start) else _own_links(body, start, end)
    if len(ids) + len(links) != 1:
        return None
    text = _xml_text(ids[0] if ids else links[0])
    if not text or "<" in text or (links and not text.startswith(("http://", "https://"))):
        return None
    return f"guid:{text}" if ids else f"link:{text}"


def _own_links(body: bytes, start: int, end: int) -> list[bytes]:
    """An RSS item's <link> texts, less those of an <image> inside it (some feeds give items one)."""
    images = [m.span() for m in _IMAGE.finditer(body, start, end)]
    return [
        m[1] for m in _ITEM_LINK.finditer(body, start, end) if not any(a <= m.start() < b for a, b in images)
    ]


def _xml_text(raw: bytes) -> str:
    text = raw.decode("utf-8").strip()
    if text.startswith("<!["):
        text = _CDATA.sub(r"\1", text)
    return html.unescape(text).strip() if "&" in text else text


def only_entries(body: bytes, entries: list[RawEntry], wanted: list[RawEntry]) -> bytes:
    """The feed with only the wanted entries: its head and tail, those entries between."""
    head, tail = body[: entries[0].span[0]], body[entries[-1].span[1] :]
    return head + b"\n".join(body[slice(*entry.span)] for entry in wanted) + tail


def oldest_first(articles: list[Article]) -> list[Article]:
    """By date when every entry has one; else reversed, as feeds list newest first."""
    if all(a.published_at for a in articles):
        return sorted(articles, key=lambda a: a.published_at)  # type: ignore[arg-type,return-value]
    return articles[::-1]
