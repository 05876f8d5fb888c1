"""Captions apart from an item's text: feedparser reading media:description as a caption, not as the
item's description, and the tests that tell a gallery or a player from a report. Pure, no I/O.

feedparser reads <media:description> (Media RSS: "a short description of the media object", a photo's
caption) as one more <description>: the item's summary when it comes first, its content when the item
already has a summary. Either way a caption became the item's text. Our parsers read it under its own
key, "media_description" (the shallowest one, as feedparser keeps any field), and nothing else changes.
Specs: https://www.rssboard.org/media-rss#media-description
"""

from __future__ import annotations

import contextlib
import io
import re
import xml.sax

from feedparser.api import PREFERRED_XML_PARSERS, LooseFeedParser, StrictFeedParser
from feedparser.encodings import convert_to_utf8
from feedparser.sanitizer import replace_doctype
from feedparser.urls import make_safe_absolute_uri
from feedparser.util import FeedParserDict

from bot.feeds.markup import html_to_text


class _CaptionsApart:
    """media:description read as what it is, a caption: under its own key, never a description."""

    def _start_media_description(self, attrs_d: dict) -> None:
        self.push("media_description", 1)  # type: ignore[attr-defined]

    def _end_media_description(self) -> None:
        self.pop("media_description")  # type: ignore[attr-defined]


class _Strict(_CaptionsApart, StrictFeedParser):
    pass


class _Loose(_CaptionsApart, LooseFeedParser):
    pass


def parse_with_captions_apart(body: bytes, url: str, content_type: str | None) -> FeedParserDict:
    """feedparser.parse(io.BytesIO(body)) with our parsers: the steps of feedparser's api.parse for
    bytes (tests/test_captions.py holds the two equal on every corpus feed without Media RSS). No
    sanitizing and no resolving of links inside the HTML: we keep only its text (html_to_text drops
    script and style), so that work (half of feedparser's time) would be thrown away."""
    headers = {"content-location": url, **({"content-type": content_type} if content_type else {})}
    result = FeedParserDict(bozo=False, entries=[], feed=FeedParserDict(), headers={})
    if not body:
        return result
    result["headers"] = headers
    data = convert_to_utf8(headers, body, result)
    result["version"], data, entities = replace_doctype(data)
    base = make_safe_absolute_uri("", url) or make_safe_absolute_uri(url)
    parser: _Strict | _Loose | None = None
    if result["encoding"]:
        parser = _strict(base, data, result)
    if parser is None:
        parser = _Loose(base, None, "utf-8", entities)
        parser.resolve_relative_uris = parser.sanitize_html = False
        parser.feed(data.decode("utf-8", "replace"))
    result["feed"], result["entries"] = parser.feeddata, parser.entries
    result["version"] = result["version"] or parser.version
    result["namespaces"] = parser.namespaces_in_use
    return result


def _strict(base: str, data: bytes, result: FeedParserDict) -> _Strict | None:
    """The strict (SAX) reading, or None when the XML is not well formed (said in result's bozo)."""
    parser = _Strict(base, None, "utf-8")
    parser.resolve_relative_uris = parser.sanitize_html = False
    sax = xml.sax.make_parser(PREFERRED_XML_PARSERS)
    sax.setFeature(xml.sax.handler.feature_namespaces, 1)
    with contextlib.suppress(xml.sax.SAXNotSupportedException):  # expat supports it: nothing else is read
        sax.setFeature(xml.sax.handler.feature_external_ges, 0)
    sax.setContentHandler(parser)
    sax.setErrorHandler(parser)
    source = xml.sax.xmlreader.InputSource()
    source.setByteStream(io.BytesIO(data))
    try:
        sax.parse(source)
    except xml.sax.SAXException as error:
        result["bozo"], result["bozo_exception"] = 1, parser.exc or error
        return None
    return parser


# -- Galleries and players: content that is not a report ---------------------------------------------

_PLAYER = re.compile(r"<(?:iframe|audio|video|embed|object)[\s/>]", re.IGNORECASE)
_FIGCAPTION_OPEN = re.compile(r"<figcaption[\s/>]", re.IGNORECASE)
_FIGCAPTION_CLOSE = re.compile(r"</figcaption[\s>]", re.IGNORECASE)


def is_gallery(content: str) -> bool:
    """A gallery: figure captions (<figcaption>) hold at least half of the content's words. Its text is
    a run of captions, each about its own picture; the item's description says what the whole is."""
    captions = _figcaptions(content)
    if not captions:
        return False
    captioned = sum(len(html_to_text(caption).split()) for caption in captions)
    return 2 * captioned >= len(html_to_text(content).split()) > 0


def _figcaptions(content: str) -> list[str]:
    """Each <figcaption> element's markup, found by one search forward for each opening and one for its
    end; one never closed runs to the end."""
    captions, at = [], 0
    while opening := _FIGCAPTION_OPEN.search(content, at):
        closing = _FIGCAPTION_CLOSE.search(content, opening.end())
        at = closing.start() if closing else len(content)
        captions.append(content[opening.start() : at])
    return captions


def opens_with_player(content: str) -> bool:
    """An episode or a video: the content opens with an embedded player (<iframe>, <audio>, <video>,
    <embed>, <object>), no text before it. What follows a player is its show notes or a promo for the
    show, not a report; the item's description says what this episode is."""
    player = _PLAYER.search(content)
    return player is not None and not html_to_text(content[: player.start()])
