"""Feed bytes -> ParsedFeed of Articles (plain text, clean) via feedparser. Pure, no I/O."""

from __future__ import annotations

import calendar
import hashlib
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import feedparser

from bot.domain import Article
from bot.errors import FetchError
from bot.feeds.captions import is_gallery, opens_with_player, parse_with_captions_apart
from bot.feeds.encoding import as_utf8_xml, decode_feed, reads_the_same, unreadable, utf8_beyond_ascii
from bot.feeds.fastparse import parse_simple
from bot.feeds.markup import html_to_text
from bot.feeds.schedule import hint_number

MAX_ENTRY_CHARS = 256 * 1024  # of one entry's title, summary or content: the rest is not read
MAX_TTL_MINUTES = 100_000  # a <ttl> beyond this (about 70 days) is not a hint worth taking


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    articles: list[Article]  # oldest first
    bozo: str | None  # feedparser's complaint about malformed input, if any
    version: str = ""  # "rss20", "atom10"...; empty when feedparser saw no feed at all
    ttl: timedelta | None = None  # RSS <ttl>: how long the feed may be cached
    skip_hours: frozenset[int] = frozenset()  # RSS <skipHours>: hours (UTC) not worth a poll
    dropped: tuple[str, ...] = ()  # why each entry that could not be read was left out

    @property
    def is_feed(self) -> bool:
        """False for a body feedparser could make nothing of (an HTML page, broken XML)."""
        return bool(self.articles or self.version)


def _entry_text(entry: dict) -> str:
    """The item's text: the longest of its description and its contents (the full text, when the feed
    gives it). A content that is a gallery of captions or a player's notes stands back for the
    description, when there is one. A caption (media:description) is the text only of an item that has
    no other: there the item is its media (a video, a photo)."""
    contents = [c.get("value", "") for c in entry.get("content", [])]
    reports = [c for c in contents if not _stands_back(c[:MAX_ENTRY_CHARS])]
    for bodies in ([*reports, entry.get("summary", "")], contents, [entry.get("media_description", "")]):
        text = html_to_text(max(bodies, key=len, default="")[:MAX_ENTRY_CHARS])
        if text:
            return text
    return ""


def _stands_back(content: str) -> bool:
    return is_gallery(content) or opens_with_player(content)


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
    title = html_to_text(entry.get("title", "")[:MAX_ENTRY_CHARS]).replace("\n", " ")
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
    """The feed's articles, each entry read on its own: one that breaks feedparser or our reading of it
    is left out, with the reason in `dropped`, and the others are kept.

    fast: try fastparse first, which reads plain well-formed feeds as feedparser does, 20 times faster,
    and leaves the rest to feedparser (False: feedparser only, as the agreement test compares).
    """
    body = tamed(body)
    try:
        return _parse_whole(body, url, content_type, fast)
    except Exception as error:  # feedparser fails on some broken entries (a lone </width>, say)
        return _parse_each(body, url, content_type, fast, _reason(error))


MAX_PROLOG = 8 * 1024  # bytes before a feed's first element; the corpus's feeds have under 1 KB
_FIRST_ELEMENT = re.compile(rb"<\w")  # where feedparser takes the prolog to end


def tamed(body: bytes) -> bytes:
    """The body as feedparser reads it in reasonable time. Its expressions for the prolog take time
    quadratic in the prolog's length (refused past MAX_PROLOG), and the one for the XML declaration time
    cubic in the first line's: so the declaration ends its line (XML reads the newline as the space
    it allows there), and a "<?" not ended in the prolog is broken off at once."""
    first = _FIRST_ELEMENT.search(body)
    if (first.start() if first else len(body)) > MAX_PROLOG:
        raise FetchError("parse", f"the feed has over {MAX_PROLOG // 1024} KB before its first element")
    if not body.startswith(b"<?"):
        return body
    end = body.find(b"?>", 0, MAX_PROLOG)
    at = end + 2 if end >= 0 else 2
    return body if body[at : at + 1] in (b"\n", b"\r") else body[:at] + b"\n" + body[at:]


def _parse_whole(body: bytes, url: str, content_type: str | None, fast: bool) -> ParsedFeed:
    """Parse with feedparser; if decode_feed reads the bytes differently, parse that too, keep the better.
    Valid UTF-8 beyond ASCII is parsed once, as UTF-8: no label can read it better."""
    parse = _fast_or_feedparser if fast else _feedparser
    text = utf8_beyond_ascii(body)
    if text is not None:
        parsed = parse(as_utf8_xml(text), url, "application/xml; charset=utf-8")
    else:
        text = decode_feed(body, content_type)
        parsed = _better_reading(parse, body, text, url, content_type)
    articles, dropped = [], []
    for entry in parsed["entries"]:
        try:
            if entry.get("title") or entry.get("link"):
                articles.append(to_article(entry))
        except Exception as error:
            dropped.append(_reason(error))
    bozo = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    title = html_to_text(str(parsed["feed"].get("title", ""))[:MAX_ENTRY_CHARS])
    ttl = hint_number(str(parsed["feed"].get("ttl", "")), MAX_TTL_MINUTES)
    return ParsedFeed(
        title,
        oldest_first(articles),
        bozo,
        parsed.get("version", ""),
        timedelta(minutes=ttl) if ttl and ttl < MAX_TTL_MINUTES else None,
        skip_hours(text),
        tuple(dropped),
    )


def _parse_each(body: bytes, url: str, content_type: str | None, fast: bool, reason: str) -> ParsedFeed:
    """The feed parsed one entry at a time, when the whole breaks the parser: the feed's own fields from
    what comes before and after its entries, each entry inside the elements it sits in (their start tags
    carry namespaces and xml:base). The entries that break the parser are dropped. When even the feed
    without entries breaks it, the feed cannot be read: FetchError("parse")."""
    unreadable = FetchError("parse", f"the feed cannot be read ({reason})")
    pieces = entry_pieces(body)
    if pieces is None:
        raise unreadable
    head, entries, tail = pieces
    try:
        feed = _parse_whole(head + tail, url, content_type, fast)
    except Exception:
        raise unreadable from None
    opening, closing = _around_entries(head)
    articles, dropped = [], list(feed.dropped)
    for entry in entries:
        try:
            one = _parse_whole(opening + entry + closing, url, content_type, fast)
        except Exception as error:
            dropped.append(_reason(error))
        else:
            articles += one.articles
            dropped += one.dropped
    return replace(feed, articles=oldest_first(articles), dropped=tuple(dropped))


_TAG = re.compile(rb"<(/?)([A-Za-z_][\w:.-]*)[^<>]*?(/?)>")


def _around_entries(head: bytes) -> tuple[bytes, bytes]:
    """The prolog and the start tags still open where the entries begin (the root, the channel), and
    their end tags: an entry's surroundings, without the feed's own fields."""
    still_open: list[re.Match[bytes]] = []
    for tag in _TAG.finditer(head):
        closing, name, empty = tag.groups()
        if empty:
            continue
        if not closing:
            still_open.append(tag)
        elif any(t[2] == name for t in still_open):  # unclosed tags inside it (<br>) end with it
            while still_open.pop()[2] != name:
                pass
    prolog = head[: still_open[0].start()] if still_open else head
    return (
        prolog + b"".join(tag.group() for tag in still_open),
        b"".join(b"</" + tag[2] + b">" for tag in reversed(still_open)),
    )


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"


_ENTRY_START = re.compile(rb"<(?:item|entry)[\s>]", re.IGNORECASE)
_ENTRY_END = re.compile(rb"</(?:item|entry)\s*>", re.IGNORECASE)


def entry_pieces(body: bytes) -> tuple[bytes, list[bytes], bytes] | None:
    """The body cut at its entries' tags: what comes before the first, each entry (from its opening to
    the next one's, the last to the last closing tag), what comes after; None without entries."""
    starts = [m.start() for m in _ENTRY_START.finditer(body)]
    ends = [m.end() for m in _ENTRY_END.finditer(body)]
    if not starts:
        return None
    last = max(ends[-1] if ends else len(body), starts[-1])
    bounds = [*starts, last]
    return body[: starts[0]], [body[a:b] for a, b in zip(bounds, bounds[1:], strict=False)], body[last:]


_Parse = Callable[[bytes, str, "str | None"], Any]  # bytes, url, content type -> feedparser's result
_SKIP_HOURS_OPEN = re.compile(r"<skipHours>", re.IGNORECASE)
_SKIP_HOURS_CLOSE = re.compile(r"</skipHours>", re.IGNORECASE)
_HOUR = re.compile(r"<hour>\s*(\d{1,2})\s*</hour>", re.IGNORECASE)


def skip_hours(text: str) -> frozenset[int]:
    """RSS 2.0 <skipHours> (feedparser keeps only the last <hour>): the first block, found by searching
    forward once for its opening and once for its end. Specs: rssboard.org/skip-hours-days"""
    opening = _SKIP_HOURS_OPEN.search(text)
    closing = _SKIP_HOURS_CLOSE.search(text, opening.end()) if opening else None
    if not (opening and closing):
        return frozenset()
    hours = (int(h) for h in _HOUR.findall(text, opening.end(), closing.start()))
    return frozenset(h % 24 for h in hours if 0 <= h <= 24)


def _better_reading(parse: _Parse, body: bytes, text: str, url: str, content_type: str | None) -> dict:
    """feedparser's reading of the bytes, or ours (text) if it reads better."""
    try:
        parsed = parse(body, url, content_type)
    except UnicodeError:  # a label no codec has: feedparser fails to decode its own name
        return parse(as_utf8_xml(text), url, "application/xml; charset=utf-8")
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
    # Not feedparser.parse: given bytes it first tries open() on them as a file name (a body like
    # b"/etc/passwd" would be read from disk), and it reads a photo's caption as the item's description.
    return parse_with_captions_apart(body, url, content_type)


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
    rb"|(?P<id>(?P<tag>guid|id)(?:\s[^<>]*)?>(?P<text>" + _TEXT + rb")</(?P=tag)\s*>)"
    rb"|(?P<bad_id>(?:guid|id)[\s>]))",
)
# An attribute in XML holds no "<": each expression stops at the next tag, whatever follows.
_ITEM_LINK = re.compile(rb"<link(?:\s[^<>]*)?(?<!/)>(" + _TEXT + rb")</link\s*>")
_IMAGE = re.compile(rb"<image(?:\s[^<>]*)?(?P<empty>/?)>")
_IMAGE_END = re.compile(rb"</image\s*>")
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
    images = _images(body, start, end)
    return [
        m[1] for m in _ITEM_LINK.finditer(body, start, end) if not any(a <= m.start() < b for a, b in images)
    ]


def _images(body: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """Where each <image> element is between start and end: one search forward for each opening and
    one for its end, from where the last image ended (an image never closed ends nothing)."""
    spans = []
    while opening := _IMAGE.search(body, start, end):
        closing = None if opening["empty"] else _IMAGE_END.search(body, opening.end(), end)
        if not (opening["empty"] or closing):
            break
        start = closing.end() if closing else opening.end()
        spans.append((opening.start(), start))
    return spans


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
