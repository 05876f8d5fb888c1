"""A fast path for feedparser: well-formed RSS 2.0, RSS 1.0 and Atom 1.0 read with lxml. Pure, no I/O.

It answers with the few fields parse.py reads (the feed's title and ttl; each entry's title, link, id,
summary, content, caption and dates), as feedparser's strict parser sets them (with media:description
read as a caption, as bot/feeds/captions.py has it read), or None when it is not sure:
then the caller asks feedparser. It walks the tree in document order and keeps feedparser's state
(depths, "in entry", "in image", "has content") for the elements that set those fields, and gives up
on any other element feedparser has a handler for, on markup inside a text field, on xml:base, on a
DOCTYPE, on base64 or XHTML content, and on anything lxml or its error log complains about.
tests/test_fastparse.py holds it to feedparser's answers on the whole real-feeds corpus.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from feedparser.api import StrictFeedParser
from feedparser.datetimes import _parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.html import _cp1252
from feedparser.urls import _urljoin, make_safe_absolute_uri
from lxml import etree

# Every element name feedparser has a handler for; one not below makes us give up.
_HANDLED = {n.split("_", 2)[2] for n in dir(StrictFeedParser) if n.startswith(("_start_", "_end_"))}
_PREFIXES = StrictFeedParser("", None, "utf-8")._matchnamespaces  # namespace (lowercase) -> prefix
_TITLES = {"title", "dc_title", "media_title"}
_DESCRIPTIONS = {"description", "dc_description"}
_CAPTION = "media_description"  # kept apart, as bot/feeds/captions.py has feedparser read it
_SUMMARIES = {"summary", "itunes_summary"}
_CONTENTS = {"content": "text/plain", "content_encoded": "text/html", "fullitem": "text/html"}
_PUBLISHED = {"published", "issued", "pubdate", "dcterms_issued"}
_UPDATED = {"updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"}
_TEXT_FIELDS = _TITLES | _DESCRIPTIONS | _SUMMARIES | _CONTENTS.keys() | _PUBLISHED | _UPDATED | {
    "guid", "id", "abstract", "link", _CAPTION,
}  # fmt: skip
# Handlers that touch none of the fields read here, nor the state that decides them.
_HARMLESS = {
    "author", "contributor", "name", "email", "url", "uri", "homepage", "width", "height", "category",
    "tags", "keywords", "enclosure", "rights", "copyright", "language", "generator", "webmaster",
    "managingeditor", "cloud", "subtitle", "tagline", "info", "created", "expirationdate",
    "dc_author", "dc_creator", "dc_contributor", "dc_subject", "dc_language", "dc_publisher", "dc_rights",
    "dcterms_created", "media_category", "media_keywords", "media_content", "media_thumbnail",
    "media_group", "media_credit", "media_rating", "media_license", "media_restriction", "media_player",
    "itunes_author", "itunes_category", "itunes_keywords", "itunes_explicit",
    "itunes_block", "itunes_owner", "itunes_name", "itunes_email", "itunes_subtitle",
}  # fmt: skip
_STRUCTURE = {"rss", "channel", "feed", "item", "entry", "image", "textinput", "source"}
_HAS_BASE = etree.XPath("boolean(//@*[local-name() = 'base'])")
_NEUTRAL_TAGS = ("title", "link", "description", "name")  # feedparser's test for leaving a textinput
_IMAGE_TAGS = ("title", "link", "description", "url", "href", "width", "height")
_RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
_NS_VERSIONS = {
    "http://purl.org/rss/1.0/": "rss10",
    "http://www.w3.org/2005/atom": "atom10",
    "http://my.netscape.com/rdf/simple/0.9/": "rss090",
}
_XML_LANG = "{http://www.w3.org/xml/1998/namespace}lang"  # as lowercased below
_ROOT_TAG = re.compile(rb"<[A-Za-z_][^>]*>")  # after the prolog's <?...?> and <!--...-->
_XMLNS = re.compile(rb"""\sxmlns(?::([\w.-]+))?\s*=\s*["']([^"']*)["']""")
_C1_CONTROLS = re.compile("[\x80-\x9f]")  # what feedparser maps to windows-1252's characters
_QUERY_AMP = re.compile("&([A-Za-z0-9_]+);")


class _Unsure(Exception):
    """Something feedparser may read differently: let it."""


def parse_simple(body: bytes, url: str, content_type: str | None) -> dict[str, Any] | None:
    """feedparser.parse's result, reduced to what parse.py reads; None when feedparser must answer."""
    headers = {"content-location": url, **({"content-type": content_type} if content_type else {})}
    result: dict[str, Any] = {"bozo": False}
    data = convert_to_utf8(headers, body, result)  # feedparser's own decision, and its complaint
    if not result.get("encoding"):
        return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return None
    if len(parser.error_log) or root.getroottree().docinfo.doctype or _HAS_BASE(root):
        return None  # entities or a version declared in a DOCTYPE, addresses relative to an xml:base
    try:
        walk = _Walk(make_safe_absolute_uri(url) or "")
        walk.element(root, 1)
        version = _version(root, data)
    except _Unsure:
        return None
    if not version:
        return None
    return result | {"feed": walk.feed, "entries": walk.entries, "version": version}


def _version(root: etree._Element, data: bytes) -> str:
    """feedparser's name for the format: the first namespace that names one, then an <rss version>."""
    start = _ROOT_TAG.search(data)
    declared = _XMLNS.findall(start.group()) if start else []
    if len(declared) != len(root.nsmap):
        raise _Unsure  # the root's start tag is not as simple as it looks
    found = [
        _NS_VERSIONS[uri.decode().lower()]
        for prefix, uri in declared
        if uri.decode().lower() in _NS_VERSIONS
        and (prefix == b"" or _NS_VERSIONS[uri.decode().lower()] != "rss090")
    ]
    version = found[0] if found else ""
    if root.tag == "rss" and not version.startswith("rss"):
        attribute = root.get("version", "")
        return _RSS_VERSIONS.get(attribute) or ("rss20" if attribute.startswith("2.") else "rss")
    return version


def _finish(text: str) -> str:
    """What feedparser's pop() does to every text: strip, undo UTF-8 read as latin-1, map cp1252."""
    text = text.strip()
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252) if _C1_CONTROLS.search(text) else text


class _Walk:
    """feedparser's state while it reads the tree, for the elements whose fields parse.py reads."""

    def __init__(self, base: str):
        self.base = base
        self.feed: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []
        self.depths: list[dict[str, int]] = []  # per entry: the depth each field was taken from
        self.names: dict[str, tuple[str, bool]] = {}  # tag -> feedparser's name, prefixed or not
        self.infeed = self.inentry = self.inimage = self.intextinput = self.insource = False
        self.has_content = False
        self.feed_image = False
        self.title_depth = -1

    def name(self, tag: str, prefix: str | None) -> tuple[str, bool]:
        found = self.names.get(tag)
        if found is None:
            namespace, _, local = tag[1:].rpartition("}") if tag[0] == "{" else ("", "", tag)
            known = _PREFIXES.get(namespace.lower())
            mapped = known if known is not None else (prefix or "").lower()
            name = f"{mapped.lower()}_{local.lower()}" if mapped else local.lower()
            found = self.names[tag] = (name, bool(mapped))
        return found

    def context(self) -> dict[str, Any] | None:
        """Where feedparser's _save() writes; None for the places parse.py never reads."""
        if self.insource or (self.inimage and self.feed_image) or self.intextinput:
            return None
        return self.entries[-1] if self.inentry else self.feed if self.infeed else None

    def element(self, el: etree._Element, depth: int) -> None:
        name, prefixed = self.name(el.tag, el.prefix)
        if not prefixed:  # feedparser's "special hack" for unprefixed tags
            self.intextinput = self.intextinput and name in _NEUTRAL_TAGS
            self.inimage = self.inimage and name in _IMAGE_TAGS
        if name in _TEXT_FIELDS:
            self.field(el, name, depth)
        elif name in _STRUCTURE:
            self.structure(el, name, depth)
        elif name in _HANDLED and name not in _HARMLESS:
            raise _Unsure
        else:
            if name == "ttl" and self.context() is self.feed and self.infeed:
                self.feed["ttl"] = _finish(self.text(el)) if not el.attrib else dict(el.attrib)
            self.children(el, depth)

    def children(self, el: etree._Element, depth: int) -> None:
        for child in el:
            if isinstance(child.tag, str):
                self.element(child, depth + 1)

    def structure(self, el: etree._Element, name: str, depth: int) -> None:
        if name in ("item", "entry"):
            self.item(el, depth)
            return
        if name in ("channel", "feed"):
            if "lastmod" in el.attrib or "href" in el.attrib:
                raise _Unsure
            self.infeed = True
            self.children(el, depth)
            self.infeed = False
            return
        if name == "rss":
            self.children(el, depth)
            return
        flag = {"image": "inimage", "textinput": "intextinput", "source": "insource"}[name]
        if name == "image" and not (self.inentry or self.insource or self.intextinput):
            self.feed_image = True  # feedparser made feed["image"]: an image's fields go there now
        if name == "textinput" and (self.inentry or self.insource):
            raise _Unsure
        setattr(self, flag, True)
        self.title_depth = -1
        self.children(el, depth)
        setattr(self, flag, False)

    def item(self, el: etree._Element, depth: int) -> None:
        if "lastmod" in el.attrib or "href" in el.attrib or self.inentry:
            raise _Unsure
        entry: dict[str, Any] = {}
        about = el.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
        if about:
            entry["id"] = about
        self.entries.append(entry)
        self.depths.append({})
        self.inentry, self.title_depth = True, -1
        self.children(el, depth)
        self.inentry, self.has_content = False, False

    def text(self, el: etree._Element) -> str:
        if len(el):  # markup, comments or processing instructions inside: feedparser rebuilds them
            raise _Unsure
        return el.text or ""

    def field(self, el: etree._Element, name: str, depth: int) -> None:
        attrs = {key.lower(): value for key, value in el.attrib.items()}
        if len(attrs) != len(el.attrib) or any(k[0] == "{" and k != _XML_LANG for k in attrs):
            raise _Unsure  # attributes feedparser names differently
        href = attrs.get("url", attrs.get("uri", attrs.get("href")))
        if name == "link" and (href or "href" in attrs):  # feedparser's _enforce_href
            self.atom_link(attrs, href or "")
            self.children(el, depth)  # their text lands nowhere parse.py reads
            return
        value = _finish(self.text(el))
        if name in _TITLES:
            self.content_type(el, "text/plain")
            self.title(name, value, depth)
        elif name == "link":
            self.link(value)
        elif name in ("guid", "id"):
            self.guid(attrs.get("ispermalink", "true") == "true", value, depth)
        elif name == _CAPTION:
            self.store(_CAPTION, value, depth)
        elif name in _PUBLISHED or name in _UPDATED:
            context = self.context()
            self.store("published" if name in _PUBLISHED else "updated", value, depth)
            if context is not None:
                key = "published_parsed" if name in _PUBLISHED else "updated_parsed"
                context[key] = _parse_date(value)
        else:
            self.body(el, name, value, depth)

    def content_type(self, el: etree._Element, default: str) -> str:
        """feedparser's push_content(): the declared type; base64 and XHTML are not ours to guess."""
        kind = el.get("type", default).lower()
        kind = {"text": "text/plain", "plain": "text/plain", "html": "text/html"}.get(kind, kind)
        if el.get("mode") or kind not in ("text/plain", "text/html"):
            raise _Unsure
        return kind

    def title(self, name: str, value: str, depth: int) -> None:
        if not (-1 < self.title_depth <= depth):
            self.store("title", value, depth)
        if value and name != "media_title":  # media:title leaves the depth as it found it
            self.title_depth = depth

    def link(self, value: str) -> None:
        value = _urljoin(self.base, value) if value else value
        if self.inentry and not self.insource:
            if not self.inimage:
                self.entries[-1]["link"] = _QUERY_AMP.sub(r"&\g<1>", value.replace("&amp;", "&"))
        elif (self.infeed or self.insource) and self.context() is self.feed:
            self.feed["link"] = value

    def atom_link(self, attrs: dict[str, str], href: str) -> None:
        """feedparser's _start_link with an address: the alternate HTML one is the link."""
        rel = attrs.get("rel", "alternate").lower()
        kind = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html").lower()
        kind = {"text": "text/plain", "plain": "text/plain", "html": "text/html"}.get(kind, kind)
        context = self.context()
        if rel == "alternate" and kind in ("text/html", "application/xhtml+xml") and context is not None:
            context["link"] = _urljoin(self.base, href)

    def guid(self, permalink: bool, value: str, depth: int) -> None:
        if value and permalink:
            value = _urljoin(self.base, value)
        self.store("id", value, depth)
        context = self.context()
        if permalink and context is not None:
            context.setdefault("link", value)

    def body(self, el: etree._Element, name: str, value: str, depth: int) -> None:
        context = self.context()
        as_content = name in _CONTENTS or (
            name in _DESCRIPTIONS | _SUMMARIES and context is not None and "summary" in context
            and not self.has_content
        )  # fmt: skip
        if name == "abstract":
            self.content_type(el, "text/plain")
            self.store("description", value, depth)
        elif as_content:
            self.content_type(el, _CONTENTS.get(name, "text/plain"))
            self.has_content = True
            if self.inentry and not self.insource:
                self.entries[-1].setdefault("content", []).append({"value": value})
            if context is not None:
                context.setdefault("summary", value)
        else:
            self.content_type(el, "text/html" if name in _DESCRIPTIONS else "text/plain")
            self.store("description" if name in _DESCRIPTIONS else "summary", value, depth)

    def store(self, key: str, value: str, depth: int) -> None:
        """feedparser's pop(): in an entry the shallowest value wins (the later one on a tie)."""
        if key == "description":
            key = "summary" if self.inentry and not self.insource else "subtitle"
        if self.inentry and not self.insource:
            old = self.depths[-1].get(key)
            if old is None or depth <= old:
                self.depths[-1][key] = depth
                self.entries[-1][key] = value
        elif (self.infeed or self.insource) and self.context() is self.feed:
            self.feed[key] = value
