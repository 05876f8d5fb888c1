"""A feed's HTML -> the visible text, one paragraph a line. Pure, no I/O.

lxml's HTML parser (libxml2, linear in its input) says what the text is; most markup in feeds
(paragraphs, links, images, emphasis) is read the same by a few regular expressions, faster, and
anything they are not sure of (a "<" that is not a tag they can read, a declaration, a processing
instruction, a script never closed) goes to lxml. Every expression here stops at the next "<" or
">", and skipped elements are found by searching forward once, so no input takes more than linear
time. tests/test_markup.py holds the two readings to the same text on every entry of the feed
corpus, and to linear time on hostile markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import lxml.html

_BLOCK_TAGS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote figure figcaption section article"
    " header footer table tr pre hr dd dt".split()
)
_SKIP_TAGS = frozenset({"script", "style", "noscript", "iframe", "svg"})
_SKIP_NAMES, _BLOCK_NAMES = ("|".join(sorted(tags)) for tags in (_SKIP_TAGS, _BLOCK_TAGS))

# What a parser reads as a tag: a name, then attributes (quoted values hold no "<" or ">" here: a
# tag that needs them is left to lxml).
_ATTRIBUTES = r"""[^>"'<]*(?:(?:"[^"<>]*"|'[^'<>]*')[^>"'<]*)*"""  # (unrolled: re runs each part fast)
_SKIP_START = re.compile(rf"<(?:{_SKIP_NAMES})(?=[\s/>])|<!--", re.IGNORECASE)
_SKIP_OPEN = re.compile(rf"<({_SKIP_NAMES})(?=[\s/>]){_ATTRIBUTES}(?<!/)>", re.IGNORECASE)
_SKIP_CLOSE = {name: re.compile(rf"</\s*{name}\s*>", re.IGNORECASE) for name in _SKIP_TAGS}
_BLOCK = re.compile(rf"</?(?:{_BLOCK_NAMES})(?=[\s/>]){_ATTRIBUTES}>", re.IGNORECASE)
_TAG = re.compile(rf"</?[a-zA-Z]{_ATTRIBUTES}>")
_MARKUP_LEFT = re.compile(r"<[a-zA-Z/!?]")  # what a parser would read as markup, not text
_BREAK = "\x00"  # where a block starts or ends: the text never has one (see _UNSAFE)
_UNSAFE = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates: libxml2 would cut the text there
_PARSER = lxml.html.HTMLParser(no_network=True, huge_tree=True)  # huge: nesting up to 2,048 deep


def html_to_text(markup: str) -> str:
    """Visible text, one paragraph per line, whitespace inside paragraphs collapsed."""
    if _UNSAFE.search(markup):
        markup = _UNSAFE.sub(" ", markup)
    if "<" not in markup:
        text = html.unescape(markup)
    else:
        text = _simple_text(markup)
        if text is None:
            text = _parsed_text(markup)
    return paragraphs(text)


def paragraphs(text: str) -> str:
    """One paragraph a line, whitespace inside collapsed, empty lines dropped."""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _simple_text(markup: str) -> str | None:
    """The text as lxml gives it, by regular expressions; None when they are not sure."""
    if _SKIP_START.search(markup):
        markup = _without_skipped(markup)
        if markup is None:
            return None
    markup = _TAG.sub("", _BLOCK.sub(_BREAK, markup))
    if "<" in markup and _MARKUP_LEFT.search(markup):
        return None
    if "&" in markup:
        markup = html.unescape(markup)
    return " ".join(markup.split()).replace(_BREAK, "\n")  # split(): the whitespace that \s is


def _without_skipped(markup: str) -> str | None:
    """The markup less its comments and skipped elements (scripts, styles...), each found by one search
    forward from where the last ended; None when one is never closed or holds another: lxml decides."""
    kept, at = [], 0
    while start := _SKIP_START.search(markup, at):
        kept.append(markup[at : start.start()])
        if start.group() == "<!--":
            end = markup.find("-->", start.end())
            if end < 0:
                return None
            at = end + 3
            continue
        opening = _SKIP_OPEN.match(markup, start.start())
        if opening is None:  # "<script/>", or a tag the expressions cannot read: left as a tag
            kept.append(start.group())
            at = start.end()
            continue
        closing = _SKIP_CLOSE[opening.group(1).lower()].search(markup, opening.end())
        if closing is None or _SKIP_START.search(markup, opening.end(), closing.start()):
            return None
        at = closing.end()
    kept.append(markup[at:])
    return "".join(kept)


def _parsed_text(markup: str) -> str:
    """The text as lxml reads it: any markup, however broken."""
    root = lxml.html.document_fromstring(f"<html><body>{markup}</body></html>", parser=_PARSER)
    return " ".join("".join(_texts(root)).split()).replace(_BREAK, "\n")  # in HTML a newline is a space


def _texts(root: lxml.html.HtmlElement) -> Iterator[str]:
    """The tree's text in document order, a break where a block starts and ends; a skipped element, a
    comment or a processing instruction gives only the text after it. A stack, not recursion: the
    markup decides how deep it goes."""
    stack: list[object] = [root]  # elements, and texts to give when they come off
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
            continue
        tag = node.tag if isinstance(node.tag, str) else None  # type: ignore[attr-defined]
        if node.tail:  # type: ignore[attr-defined]
            stack.append(node.tail)  # type: ignore[attr-defined]
        if tag is None or tag in _SKIP_TAGS:
            continue
        block = [_BREAK] if tag in _BLOCK_TAGS else []
        stack += block
        stack += reversed(node)  # type: ignore[call-overload]
        stack += [node.text] if node.text else []  # type: ignore[attr-defined]
        stack += block
