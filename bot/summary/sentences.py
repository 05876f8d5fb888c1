"""Split text into sentences, knowing that "U.S." and "Mr." do not end one. Pure, no I/O."""

from __future__ import annotations

import re

from bot.domain import Span

_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s+[\"'\u201c\u2018(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof gen sen rep gov lt col capt sgt st jr sr no vs mt ft"
    " jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_INITIALS = re.compile(r"(?:\b[A-Z]\.)+$")  # "U.S." or a middle initial "J."


def _ends_sentence(text: str, period_at: int) -> bool:
    before = text[: period_at + 1]
    if _INITIALS.search(before):
        return False
    word = re.search(r"(\w+)\.$", before)
    return not (word and word.group(1).lower() in _ABBREVIATIONS)


def sentence_spans(text: str) -> list[Span]:
    """Sentences of text, one paragraph per line; spans exclude surrounding whitespace."""
    spans: list[Span] = []
    for line in re.finditer(r"[^\n]+", text):
        start = line.start()
        for end in _END.finditer(line.group()):
            if _ends_sentence(line.group(), end.start()):
                spans.append((start, line.start() + end.end()))
                start = line.start() + end.end()
        spans.append((start, line.end()))
    return [(s + _lead_space(text, s, e), e) for s, e in spans if text[s:e].strip()]


def _lead_space(text: str, start: int, end: int) -> int:
    return len(text[start:end]) - len(text[start:end].lstrip())
