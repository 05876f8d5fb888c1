"""OPML, the feed-list format of every feed reader: a document -> (url, title) pairs, and back. No I/O.

Readers write it in their own ways: outlines nested in categories (miniflux puts every feed in one),
`xmlUrl` spelled `xmlurl` or `XMLURL`, the name in `title` or only in `text` (RSS-to-Telegram-Bot
keeps the feed's own title in `text` and a name the user gave it in `title`). All of them import.
Spec: http://opml.org/spec2.opml
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime

from lxml import etree

from bot.errors import OpmlError

Outline = tuple[str, str]  # (feed URL, title; "" when the file gives none)

# no DTDs, no entities, no network: an OPML file from a chat cannot make us read anything else
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_opml(data: bytes) -> list[Outline]:
    """Every feed in the document, in document order, each URL once; OpmlError when it is not OPML."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as error:
        raise OpmlError(f"this is not an OPML file (XML error: {error.msg})") from None
    if root is None or etree.QName(root).localname.lower() != "opml":
        raise OpmlError("this is not an OPML file (no <opml> element)")
    feeds: dict[str, str] = {}
    for outline in root.iter("{*}outline"):
        attributes = {str(name).lower(): value.strip() for name, value in outline.attrib.items()}
        url = attributes.get("xmlurl", "")
        if url and url not in feeds:
            feeds[url] = attributes.get("title") or attributes.get("text") or ""
    return list(feeds.items())


def write_opml(feeds: Sequence[Outline], now: datetime, title: str = "newsalert feeds") -> bytes:
    """An OPML 2.0 document listing these feeds, flat, as every reader imports it."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(now)
    body = etree.SubElement(root, "body")
    for url, name in feeds:
        etree.SubElement(body, "outline", type="rss", text=name or url, title=name or url, xmlUrl=url)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
