"""A feed's HTML -> the visible text, one paragraph a line. Pure, no I/O.

The standard library's HTMLParser says what the text is; most markup in feeds (paragraphs, links,
images, emphasis) is read the same by a few regular expressions, four times faster, and anything
they are not sure of (a "<" that is not a tag they can read, a declaration, a processing
instruction, a script never closed) goes to HTMLParser. tests/test_markup.py holds the two to the
same text on every entry of the feed corpus.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote figure figcaption section article"
    " header footer table tr pre hr dd dt".split()
)
_SKIP_TAGS = frozenset({"script", "style", "noscript", "iframe", "svg"})
_SPACES = re.compile(r"\s+")  # in HTML a newline is just a space
_SKIP_NAMES, _BLOCK_NAMES = ("|".join(sorted(tags)) for tags in (_SKIP_TAGS, _BLOCK_TAGS))

# What HTMLParser reads as a tag: a name, then attributes (quoted values hold no "<" or ">" here: a
# tag that needs them is left to HTMLParser).
_ATTRIBUTES = r"""[^>"'<]*(?:(?:"[^"<>]*"|'[^'<>]*')[^>"'<]*)*"""  # (unrolled: re runs each part fast)
_SKIPPED = re.compile(  # a skipped element and what is inside it, and comments
    rf"<({_SKIP_NAMES})(?=[\s/>]){_ATTRIBUTES}(?<!/)>[^<]*(?:<(?!/\s*\1\s*>)[^<]*)*</\s*\1\s*>"
    r"|<!--[^-]*(?:-(?!->)[^-]*)*-->",
    re.IGNORECASE,
)
_SKIP_START = re.compile(rf"<(?:{_SKIP_NAMES})(?=[\s/>])|<!--", re.IGNORECASE)
_SKIP_OPEN = re.compile(rf"<(?:{_SKIP_NAMES})(?=[\s/>]){_ATTRIBUTES}(?<!/)>", re.IGNORECASE)
_BLOCK = re.compile(rf"</?(?:{_BLOCK_NAMES})(?=[\s/>]){_ATTRIBUTES}>", re.IGNORECASE)
_TAG = re.compile(rf"</?[a-zA-Z]{_ATTRIBUTES}>")
_MARKUP_LEFT = re.compile(r"<[a-zA-Z/!?]")  # what HTMLParser would read as markup, not text
_BREAK = "\x00"  # where a block starts or ends; XML cannot carry it, and a text that has one is parsed


def html_to_text(markup: str) -> str:
    """Visible text, one paragraph per line, whitespace inside paragraphs collapsed."""
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
    """The text as HTMLParser gives it, by regular expressions; None when they are not sure."""
    if _BREAK in markup:
        return None
    if _SKIP_START.search(markup):
        markup = _SKIPPED.sub("", markup)
        if _SKIP_OPEN.search(markup):  # never closed: HTMLParser skips the rest
            return None
    markup = _TAG.sub("", _BLOCK.sub(_BREAK, markup))
    if "<" in markup and _MARKUP_LEFT.search(markup):
        return None
    if "&" in markup:
        markup = html.unescape(markup)
    return " ".join(markup.split()).replace(_BREAK, "\n")  # split(): the whitespace that \s is


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(_SPACES.sub(" ", data))


def _parsed_text(markup: str) -> str:
    """The text as HTMLParser reads it: any markup, however broken."""
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    return "".join(extractor.parts)
