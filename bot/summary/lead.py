"""The lead summary and the quote of the sentence that matched. Pure, no I/O."""

from __future__ import annotations

import re

from bot.domain import Quote, Span
from bot.summary.sentences import sentence_spans

QUOTE_MAX_WORDS = 25  # a longer matched sentence is trimmed around the match
QUOTE_WORDS_BEFORE = 8
ELLIPSIS = "\u2026"


def lead_summary(body: str, max_words: int = 60) -> str:
    """Whole sentences from the top, up to max_words; a first sentence that is longer is cut."""
    chosen: list[str] = []
    count = 0
    for start, end in sentence_spans(body):
        words = body[start:end].split()
        if count + len(words) > max_words:
            if not chosen:
                chosen.append(" ".join(words[:max_words]) + ELLIPSIS)
            break
        chosen.append(" ".join(words))
        count += len(words)
    return " ".join(chosen)


def quote_match(text: str, spans: tuple[Span, ...]) -> Quote:
    """The sentence holding the first span, trimmed to a window around it, spans re-based."""
    first = spans[0][0]
    start, end = next(((s, e) for s, e in sentence_spans(text) if s <= first < e), (0, len(text)))
    words = [m.span() for m in re.finditer(r"\S+", text[start:end])]
    if len(words) > QUOTE_MAX_WORDS:
        at = next(i for i, (ws, we) in enumerate(words) if start + we > first)
        lo = max(0, at - QUOTE_WORDS_BEFORE)
        hi = min(len(words), lo + QUOTE_MAX_WORDS)
        start, end = start + words[lo][0], start + words[hi - 1][1]
        prefix = ELLIPSIS if lo > 0 else ""
        suffix = ELLIPSIS if hi < len(words) else ""
    else:
        prefix = suffix = ""
    inside = tuple(
        (s - start + len(prefix), e - start + len(prefix)) for s, e in spans if start <= s and e <= end
    )
    return Quote(prefix + text[start:end] + suffix, inside)
