"""The quote of the sentence that matched. Pure, no I/O."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter

from bot.domain import Quote, Span
from bot.rules.text import sentence_spans

QUOTE_MAX_WORDS = 25  # a longer matched sentence is trimmed around the match
QUOTE_WORDS_BEFORE = 8
ELLIPSIS = "\u2026"


def quote_match(text: str, spans: tuple[Span, ...], sentences: list[Span] | None = None) -> Quote:
    """The sentence holding the most matched spans (the earliest on a tie), trimmed to a window
    around its first match, with the spans re-based onto the quote. `sentences`: sentence_spans(text),
    when the caller quotes the same text for many rules."""
    sentences = (sentence_spans(text) if sentences is None else sentences) or [(0, len(text))]
    start, end = sentences[_busiest(sentences, spans)]
    inside = [(s, e) for s, e in spans if start <= s and e <= end]
    words = [m.span() for m in re.finditer(r"\S+", text[start:end])]
    prefix = suffix = ""
    if len(words) > QUOTE_MAX_WORDS:
        first = inside[0][0] if inside else start
        at = next(i for i, (_, word_end) in enumerate(words) if start + word_end > first)
        lo = max(0, at - QUOTE_WORDS_BEFORE)
        hi = min(len(words), lo + QUOTE_MAX_WORDS)
        prefix, suffix = (ELLIPSIS if lo > 0 else ""), (ELLIPSIS if hi < len(words) else "")
        start, end = start + words[lo][0], start + words[hi - 1][1]
    shift = len(prefix) - start
    kept = tuple((s + shift, e + shift) for s, e in inside if start <= s and e <= end)
    return Quote(prefix + text[start:end] + suffix, kept)


def _busiest(sentences: list[Span], spans: tuple[Span, ...]) -> int:
    """The index of the sentence (in text order) where the most spans start; the first on a tie."""
    starts = [start for start, _ in sentences]
    found = ((bisect_right(starts, span_start) - 1, span_start) for span_start, _ in spans)
    counts = Counter(i for i, span_start in found if i >= 0 and span_start < sentences[i][1])
    return min(counts, key=lambda i: (-counts[i], i)) if counts else 0
