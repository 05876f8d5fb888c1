"""Which double quotation mark opens, closes or pairs with none: the one rule by which no summary and
no quote shows a quotation unclosed or a mark that closes nothing. Pure, no I/O.

Double marks pair one level deep (a quotation inside a quotation takes single marks). "\u201c", "\u201e"
and "\u00ab" open; "\u201d" and "\u00bb" close, and "\u201c" also closes a "\u201e", as German sets them. A
straight mark opens at a word's start (after a space or a bracket) and closes at its end (before a
space or punctuation); glued inside a word, it closes an open quotation and otherwise opens one. Any
closing mark closes whatever is open, since typists mix them ("\u201cBoard of Peace."). A closing mark
with nothing open, or an opening mark while one is open ("\u201c\u201cMaybe"), breaks the pairing for the
rest of the text. A straight or curly mark with a space on both sides is attached to no word (a
sentence splitter left it on the wrong side of a break): it pairs with nothing, and a text that shows
it is not balanced. A summary drops such marks first (without_stray_marks).

A summary reads a text from its start and stops where the pairing breaks (open_after); a quote, which
is cut out of the body, needs every mark that pairs with none, to cut there (unpaired_marks).

Single marks are left out: the closing one is the apostrophe's character ("the players\u2019 union",
"rock \u2019n\u2019 roll"), so no rule on characters tells a quotation from a word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

BROKEN = "!"  # the state once a mark closed nothing or opened inside an open quotation
_CLOSER = {'"': '"', "\u201c": "\u201d", "\u201e": "\u201c", "\u00ab": "\u00bb"}
DOUBLE_MARKS = '"\u201c\u201d\u201e\u00ab\u00bb'  # the marks this rule pairs
_MARK = re.compile(f"[{DOUBLE_MARKS}]")
_ORPHAN = re.compile('(?<!\\S)["\u201c\u201d\u201e](?!\\S)')  # guillemets stand apart in French: not here
_DOUBLED = re.compile('(["\u201c\u201d\u201e])\\1+')
_BEFORE_AN_OPENING = "([{\u2014\u2013-/"
_AFTER_A_CLOSING = ".,;:!?)]}\u2014\u2013-\u2026'\u2019"


def open_after(text: str, opened: str | None = None) -> str | None:
    """The opening mark still open after text, read from the state `opened` (None: none open;
    BROKEN: the pairing broke). The text's ends count as spaces."""
    for mark in _MARK.finditer(text):
        if opened == BROKEN:
            break
        opened = _next(opened, mark.group(), _role(text, mark.start()))
    return opened


def _role(text: str, at: int) -> str:
    """What the mark at `at` does by its shape, or for a straight one by its place: "open", "close",
    "either" (glued inside a word) or "none" (a space on both sides)."""
    before = text[at - 1] if at else " "
    after = text[at + 1] if at + 1 < len(text) else " "
    mark = text[at]
    if before.isspace() and after.isspace() and mark != "\u00ab" and mark != "\u00bb":
        return "none"
    if mark != '"':
        return "close" if mark in "\u201d\u00bb" else "open"
    if before.isspace() or before in _BEFORE_AN_OPENING:
        return "open"
    return "close" if after.isspace() or after in _AFTER_A_CLOSING else "either"


def _next(opened: str | None, mark: str, role: str) -> str | None:
    if role == "none":
        return opened
    if opened is None:
        return BROKEN if role == "close" else mark
    if role != "open" or (mark == "\u201c" and opened == "\u201e"):
        return None
    return BROKEN


def open_after_each(words: Iterable[str]) -> list[str | None]:
    """For each of the words (a text split at its spaces), the mark open after it (as open_after)."""
    states, opened = [], None
    for word in words:
        opened = open_after(word, opened)
        states.append(opened)
    return states


def paired_words(text: str) -> int:
    """How many of the text's first words hold only quotations that close among them: the words
    before the mark at which the pairing fails (all of them when it never does)."""
    paired = 0
    for i, opened in enumerate(open_after_each(text.split())):
        if opened == BROKEN:
            break
        paired = i + 1 if opened is None else paired
    return paired


def unpaired_marks(text: str) -> list[int]:
    """Where the double marks of text are that pair with none, in order: one that closes with nothing
    open, one left open where another opens or the text ends, and one apart from every word. Read as
    open_after reads, from nothing open, but on past each of them as if it were not there: so that a
    text cut at each of them leaves parts whose marks pair (or, read alone, show new ones to cut)."""
    unpaired: list[int] = []
    opened_at: int | None = None  # where the quotation now open starts
    for mark in _MARK.finditer(text):
        at, role = mark.start(), _role(text, mark.start())
        state = _next(None if opened_at is None else text[opened_at], mark.group(), role)
        if role == "none" or (state == BROKEN and opened_at is None):  # apart, or closes nothing
            unpaired.append(at)
        elif state == BROKEN:  # opens while one is open: that one is left open
            unpaired.append(opened_at)
            opened_at = at
        else:
            opened_at = None if state is None else at
    if opened_at is not None:
        unpaired.append(opened_at)
    return sorted(unpaired)


def is_balanced(text: str) -> bool:
    """Every double mark of text pairs: none is left open, closes nothing or stands apart."""
    return not unpaired_marks(text)


def closing_mark(opened: str) -> str:
    """The mark that closes a quotation opened with `opened`."""
    return _CLOSER[opened]


def without_stray_marks(text: str) -> str:
    """The text without the double marks that stand apart from every word ('release. "', '" There
    is'), which quote nothing and would read as a quotation left open, and with a mark typed twice
    ("\u201c\u201cMaybe") read as one."""
    if not _MARK.search(text):
        return text
    return " ".join(_ORPHAN.sub("", _DOUBLED.sub(r"\1", text)).split())
