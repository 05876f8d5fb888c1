"""The "why" of an alert: the shortest passage that holds every term the rule needs. Pure, no I/O.

A rule's terms are what every match of it needs (RuleIndex's Hit.required): one for a phrase, both
words of a NEAR, each part of an AND; any one occurrence of a term will do. The quote is the
shortest passage of one text (the body before the title) that holds one occurrence of each: one
sentence before two in a row, then the terms closest together (the fewest characters from the start
of the first to the start of the last), then the most matched words, then the earliest. It is
trimmed to QUOTE_MAX_WORDS around those terms. When no passage of at most two sentences holds them
all, or their words alone are more than that, the quote is one short excerpt per term (the first
occurrence, in the body before the title), joined by an ellipsis.

A quote never shows half a quotation, by the rule summaries follow (quotation.py): when a double
quotation mark in it pairs with none, the quote is taken on to the next mark after it or back to the
last one before it, when that fits in the limit and leaves fewer marks unpaired; else the quote is
cut at each such mark, and keeps the parts that hold the matched words.

The quote reads the very text the rule matched (the body as clean_body left it, markup gone) and
drops no words from it: the words that matched are always in it.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from itertools import islice

from bot.domain import Quote, Span
from bot.rules.text import sentence_spans
from bot.summary.quotation import DOUBLE_MARKS, unpaired_marks

QUOTE_MAX_WORDS = 25  # a longer passage is trimmed around its terms
QUOTE_WORDS_BEFORE = 8  # at most this many words before the first term
ELLIPSIS = "\u2026"
Located = tuple[str, int, int]  # a text's name ("body", "title") and a span in it
_Piece = tuple[str, int, int]  # a stretch of one text that the quote shows
_WORD = re.compile(r"\S+")


class Quotable:
    """A text to quote from, split into sentences once however many rules quote it."""

    def __init__(self, text: str, sentences: list[Span] | None = None):
        self.text = text
        self._given = sentences  # sentence_spans(text), when the caller has them

    @cached_property
    def sentences(self) -> list[Span]:
        found = sentence_spans(self.text) if self._given is None else self._given
        return found or [(0, len(self.text))]

    @cached_property
    def starts(self) -> list[int]:
        return [start for start, _ in self.sentences]

    def sentence(self, at: int) -> int:
        """The number of the sentence that holds (or last started before) the offset."""
        return max(0, bisect_right(self.starts, at) - 1)


def quote_match(
    text: str,
    spans: tuple[Span, ...],
    sentences: list[Span] | None = None,
    terms: Sequence[Sequence[Span]] | None = None,
) -> Quote:
    """The quote of one text: `terms` are the spans of each term (one of each must show); None: one
    term, any of `spans`. Every span in the quote is highlighted. `sentences`: sentence_spans(text)."""
    own = [[("", start, end) for start, end in term] for term in ([spans] if terms is None else terms)]
    return quote_terms({"": Quotable(text, sentences)}, own, [("", start, end) for start, end in spans])


def quote_terms(
    texts: Mapping[str, Quotable], terms: Sequence[Sequence[Located]], marks: Iterable[Located] = ()
) -> Quote:
    """The quote of a match in texts, given in the order to prefer them: each term with its
    occurrences; `marks`, further words to highlight where the quote shows them. Occurrences in a text
    not given are not quoted; with no term left, the quote is the first text's first sentence."""
    wanted = [[o for o in term if o[0] in texts] for term in terms]
    wanted = [term for term in wanted if term]
    highlights = _Highlights([o for o in marks if o[0] in texts], [o for term in wanted for o in term])
    pieces = _merged(texts, _passage(texts, wanted) or _excerpts(texts, wanted))
    room = max(1, QUOTE_MAX_WORDS // len(pieces))
    pieces = [part for piece in pieces for part in _balanced(texts[piece[0]], piece, highlights, room)]
    # Taken on to a partner, a piece may now overlap the next: joined, they are cut again if need be.
    pieces = [part for piece in _merged(texts, pieces) for part in _cut(texts[piece[0]], piece, highlights)]
    return _assemble(texts, pieces, highlights) if pieces else Quote("", ())


class _Highlights:
    """The words to highlight, found by the stretch of text they overlap (thousands, in a long text)."""

    def __init__(self, *located: list[Located]):
        self.sorted = sorted(o for group in located for o in group if o[2] > o[1])
        self.longest = max((end - start for _, start, end in self.sorted), default=0)

    def within(self, piece: _Piece) -> list[Located]:
        name, start, end = piece
        low = bisect_left(self.sorted, (name, start - self.longest))
        high = bisect_left(self.sorted, (name, end))
        return [o for o in self.sorted[low:high] if o[2] > start]


# -- which words to show ----------------------------------------------------------------------


def _passage(texts: Mapping[str, Quotable], terms: list[list[Located]]) -> list[_Piece] | None:
    """The best passage of the first text with one holding every term, trimmed around them; its terms
    as excerpts when they are too far apart for QUOTE_MAX_WORDS. None: no text has such a passage."""
    if not terms:
        name, text = next(iter(texts.items()))
        return [_around(name, text.text, text.sentences[0], (text.starts[0],) * 2, QUOTE_MAX_WORDS)]
    for name, text in texts.items():
        own = [[(start, end) for field, start, end in term if field == name] for term in terms]
        if all(own) and (best := _best_window(text, own)):
            passage, cover = best
            if len(_words(text.text, cover[0][0], max(end for _, end in cover))) > QUOTE_MAX_WORDS:
                return [_excerpt(name, text, span, len(cover)) for span in cover]
            shown = (cover[0][0], max(end for _, end in cover))
            return [_around(name, text.text, passage, shown, QUOTE_MAX_WORDS)]
    return None


def _best_window(text: Quotable, terms: list[list[Span]]) -> tuple[Span, list[Span]] | None:
    """The passage to quote (one sentence, else two in a row, as the module's docstring says) and the
    spans in it that it shows, one per term, in text order. None when no passage holds every term."""
    by_first = [_by_first_sentence(text, term) for term in terms]
    seeds = min(by_first, key=len)  # every passage holding all terms holds one of these
    for width in (0, 1):
        best = None
        windows = {(first - back, first - back + width) for first in seeds for back in range(width + 1)}
        for a, b in sorted(w for w in windows if w[0] >= 0 and w[1] < len(text.sentences)):
            inside = [
                [(s, e) for first in {a, b} for last, s, e in groups.get(first, ()) if last <= b]
                for groups in by_first
            ]
            if all(inside):
                spread, cover = _cover(inside)
                key = (spread, -sum(map(len, inside)), a)
                if best is None or key < best[0]:
                    best = key, (a, b), cover
        if best:
            (a, b), cover = best[1], best[2]
            low, high = text.sentences[a][0], text.sentences[b][1]
            return (min(low, cover[0][0]), max(high, *(end for _, end in cover))), cover
    return None


def _by_first_sentence(text: Quotable, term: list[Span]) -> dict[int, list[tuple[int, int, int]]]:
    """A term's spans by the sentence they start in, each with the sentence it ends in: (last, start,
    end). A span across more than two sentences is in no passage."""
    groups: dict[int, list[tuple[int, int, int]]] = {}
    starts = text.starts
    for start, end in term:
        first = max(0, bisect_right(starts, start) - 1)
        last = max(0, bisect_right(starts, end - 1) - 1) if end - 1 > start else first
        if last - first <= 1:
            groups.setdefault(first, []).append((last, start, end))
    return groups


def _cover(terms: list[list[Span]]) -> tuple[int, list[Span]]:
    """One span of each term, the starts of the first and last the fewest characters apart: (that
    many, those spans in text order); the earliest on a tie. One walk along all the spans in text
    order, keeping each term's latest."""
    if len(terms) == 1:
        return 0, [min(terms[0])]
    spans = sorted((start, end, i) for i, term in enumerate(terms) for start, end in term)
    latest: dict[int, Span] = {}
    best: tuple[int, list[Span]] | None = None
    for start, end, i in spans:
        latest[i] = (start, end)
        if len(latest) == len(terms):
            spread = start - min(latest.values())[0]
            if best is None or spread < best[0]:
                best = spread, sorted(latest.values())
    assert best is not None  # every term has a span
    return best


def _excerpts(texts: Mapping[str, Quotable], terms: list[list[Located]]) -> list[_Piece]:
    """One short excerpt per term, around its first occurrence in the first text that has it."""
    order = {name: i for i, name in enumerate(texts)}

    def place(located: Located) -> tuple[int, int]:
        return order[located[0]], located[1]

    firsts = sorted((min(term, key=place) for term in terms), key=place)
    return [_excerpt(name, texts[name], (start, end), len(terms)) for name, start, end in firsts]


def _excerpt(name: str, text: Quotable, span: Span, terms: int) -> _Piece:
    """The span with some words of its sentence around it: an equal share of the quote's words."""
    start, end = text.sentences[text.sentence(span[0])]
    passage = (min(start, span[0]), max(end, span[1]))
    return _around(name, text.text, passage, span, max(1, QUOTE_MAX_WORDS // terms))


def _around(name: str, text: str, passage: Span, cover: Span, budget: int) -> _Piece:
    """The passage, or when it has more than budget words, the words that hold cover and more up to
    budget: up to QUOTE_WORDS_BEFORE (at most half the words to spare) before it, the rest after."""
    words = _words(text, *passage)
    if len(words) <= budget:
        return name, passage[0], passage[1]
    first = min(bisect_right([end for _, end in words], cover[0]), len(words) - 1)
    last = max(first, bisect_left([start for start, _ in words], cover[1]) - 1)
    before = min(QUOTE_WORDS_BEFORE, max(0, budget - (last - first + 1)) // 2)
    lo = max(0, first - before)
    hi = min(len(words), max(last + 1, lo + budget))
    return name, min(words[lo][0], cover[0]), max(words[hi - 1][1], cover[1])


def _words(text: str, start: int, end: int) -> list[Span]:
    return [m.span() for m in _WORD.finditer(text, start, end)]


def _last_words(text: str, start: int, end: int, count: int) -> list[Span]:
    """The last count words of text[start:end], read back from its end in growing stretches: not
    the whole paragraph before a quote for a few words."""
    size = 256
    while True:
        low = max(start, end - size)
        words = _words(text, low, end)
        if low == start or len(words) > count:  # more: the first may be cut, and is not needed
            return words[-count:]
        size *= 4


# -- quotation marks: never half a quotation ---------------------------------------------------


def _balanced(text: Quotable, piece: _Piece, highlights: _Highlights, room: int) -> list[_Piece]:
    """The piece with every quotation mark's partner: taken on to the next mark after it, then back
    to the last one before it, within its paragraph and room words, each time that leaves fewer marks
    unpaired (quotation.unpaired_marks); then cut at each mark still unpaired."""
    name, start, end = piece
    unpaired = len(_unpaired(text.text, start, end))
    for reach in (_reach_forward, _reach_back):
        wider = reach(text.text, start, end, room) if unpaired else None
        if wider and len(_unpaired(text.text, *wider)) < unpaired:
            start, end = wider
            unpaired = len(_unpaired(text.text, start, end))
    return _cut(text, (name, start, end), highlights)


def _cut(text: Quotable, piece: _Piece, highlights: _Highlights) -> list[_Piece]:
    """The piece cut at each quotation mark without a partner in it, until none is left (a part read
    alone can show a new one), keeping the parts that hold a highlight (all, when none does)."""
    name = piece[0]
    parts, done = [_stripped(text.text, piece)], []
    while parts:
        _, start, end = parts.pop()
        at = start
        for cut in _unpaired(text.text, start, end):
            parts.append(_stripped(text.text, (name, at, cut)))
            at = cut + 1
        if at == start:
            done.append((name, start, end))
        else:
            parts.append(_stripped(text.text, (name, at, end)))
        parts = [part for part in parts if part[1] < part[2]]
    marked = [part for part in done if highlights.within(part)]
    return sorted(marked or done)


def _unpaired(text: str, start: int, end: int) -> list[int]:
    """The quotation marks of text[start:end] that pair with none there, read as the quote shows that
    stretch: alone."""
    return [start + at for at in unpaired_marks(text[start:end])]


def _reach_forward(text: str, start: int, end: int, room: int) -> Span | None:
    """The piece taken on to the end of the word that holds the next quotation mark after it, within
    its paragraph and room words from its start; None when there is none."""
    paragraph_end = text.find("\n", end)
    stop = len(text) if paragraph_end < 0 else paragraph_end
    words = [m.span() for m in islice(_WORD.finditer(text, start, stop), room)]
    limit = max(end, words[-1][1]) if words else end
    found = [at for at in (text.find(mark, end, limit) for mark in DOUBLE_MARKS) if at >= 0]
    return (start, next(e for _, e in words if e > min(found))) if found else None


def _reach_back(text: str, start: int, end: int, room: int) -> Span | None:
    """The piece taken back to the start of the word that holds the last quotation mark before it,
    within its paragraph and room words back from its end; None when there is none."""
    words = _last_words(text, text.rfind("\n", 0, start) + 1, end, room)
    limit = min(words[0][0], start) if words else start
    at = max(text.rfind(mark, limit, start) for mark in DOUBLE_MARKS)
    return (next(s for s, _ in reversed(words) if s <= at), end) if at >= 0 else None


def _stripped(text: str, piece: _Piece) -> _Piece:
    name, start, end = piece
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return name, start, end


# -- the quote as text ---------------------------------------------------------------------


def _merged(texts: Mapping[str, Quotable], pieces: list[_Piece]) -> list[_Piece]:
    """The pieces in order, those of one text that overlap or only have spaces between them as one."""
    order = {name: i for i, name in enumerate(texts)}
    merged: list[_Piece] = []
    for name, start, end in sorted(pieces, key=lambda p: (order[p[0]], p[1], p[2])):
        if merged and merged[-1][0] == name and not texts[name].text[merged[-1][2] : start].strip():
            merged[-1] = (name, merged[-1][1], max(end, merged[-1][2]))
        else:
            merged.append((name, start, end))
    return merged


def _assemble(texts: Mapping[str, Quotable], pieces: list[_Piece], highlights: _Highlights) -> Quote:
    """The pieces joined by an ellipsis, with one before the first when words of its sentence come
    before it, and after the last when words of its sentence come after it (not only a cut quotation
    mark); the highlights where they are in it, overlapping ones as one."""
    out, spans = "", []
    for i, (name, start, end) in enumerate(pieces):
        text = texts[name]
        if i:
            out += f" {ELLIPSIS} "
        elif _has_words(text.text, text.sentences[text.sentence(start)][0], start):
            out += ELLIPSIS
        shift = len(out) - start
        out += text.text[start:end].replace("\n", " ")
        for _, s, e in highlights.within((name, start, end)):
            spans.append((max(s, start) + shift, min(e, end) + shift))
    name, _, end = pieces[-1]
    text = texts[name]
    if end > 0 and _has_words(text.text, end, text.sentences[text.sentence(end - 1)][1]):
        out += ELLIPSIS
    return Quote(out, _joined(spans))


def _has_words(text: str, start: int, end: int) -> bool:
    return any(text[i].isalnum() for i in range(start, end))


def _joined(spans: list[Span]) -> tuple[Span, ...]:
    joined: list[Span] = []
    for start, end in sorted(spans):
        if joined and start < joined[-1][1]:
            joined[-1] = (joined[-1][0], max(end, joined[-1][1]))
        else:
            joined.append((start, end))
    return tuple(joined)
