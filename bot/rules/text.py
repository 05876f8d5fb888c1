"""The one text normalizer: fold case, accents and punctuation, tokenize, stem. Pure, no I/O.

The matcher, the highlighter, the summarizer and the deduper all call this, so a rule and an
article always agree on what a word is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from itertools import chain
from typing import NamedTuple

import regex
import Stemmer

Span = tuple[int, int]  # [start, end) offsets into a string
# A word is letters and digits with their combining marks (Devanagari vowel signs, accents),
# inner apostrophes kept ("Russia's"); everything else (dashes, quotes, punctuation) separates.
WORD = regex.compile(r"[\p{L}\p{N}][\p{L}\p{N}\p{M}]*(?:['\u2019][\p{L}\p{N}][\p{L}\p{N}\p{M}]*)*")
DEFAULT_LANGUAGE = "english"
BREAK = "|"  # between sentences in keys_by_sentence(); never a key


class Token(NamedTuple):  # a tuple, not a dataclass: an article makes hundreds of these
    key: str  # folded and stemmed: what matching compares
    start: int  # offsets of the word in the original text
    end: int


def fold(text: str) -> str:
    """Case and accents folded: "Élysée" -> "elysee", "Straße" -> "strasse"."""
    if text.isascii():  # most text: nothing to decompose, and casefold is lower
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'").casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFKD", stripped.casefold())


@cache
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(language)


@lru_cache(maxsize=200_000)
def folded_words(word: str) -> tuple[str, ...]:
    """One word folded; usually one piece, but folding may split it ("½" -> "1", "2")."""
    return tuple(piece.group() for piece in WORD.finditer(fold(word)))


@cache
def keyer(language: str = DEFAULT_LANGUAGE) -> Callable[[str], tuple[str, ...]]:
    """word -> its keys for one language, cached: the hot path of every match."""
    stem = _stemmer(language).stemWord

    @lru_cache(maxsize=200_000)
    def keys_of(word: str) -> tuple[str, ...]:
        return tuple(stem(piece) for piece in folded_words(word))

    return keys_of


def word_keys(word: str, language: str = DEFAULT_LANGUAGE) -> tuple[str, ...]:
    return keyer(language)(word)


def keys_by_sentence(text: str, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """The keys of text in order, with BREAK between sentences; the same keys as tokenize()."""
    keys_of, parts = keyer(language), []
    for start, end in sentence_spans(text):
        if parts:
            parts.append(BREAK)
        parts.extend(chain.from_iterable(map(keys_of, WORD.findall(text, start, end))))
    return parts


def normalize(text: str) -> str:
    """Folded words joined by single spaces, before stemming: "NATO–Russia" -> "nato russia"."""
    return " ".join(piece for m in WORD.finditer(text) for piece in folded_words(m.group()))


def words(text: str) -> Iterator[regex.Match[str]]:
    """The words of text as typed, with their offsets."""
    return WORD.finditer(text)


def tokenize(text: str, language: str = DEFAULT_LANGUAGE) -> list[Token]:
    keys_of = keyer(language)
    return [Token(key, m.start(), m.end()) for m in WORD.finditer(text) for key in keys_of(m.group())]


def keys(text: str, language: str = DEFAULT_LANGUAGE) -> tuple[str, ...]:
    return tuple(token.key for token in tokenize(text, language))


def is_language(language: str) -> bool:
    return language in Stemmer.algorithms()


# -- sentences: "U.S." and "Mr." do not end one --------------------------------------------

_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s+[\"'\u201c\u2018(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof gen sen rep gov lt col capt sgt st jr sr no vs mt ft"
    " jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
# What stands before a period: initials ("U.S.", "J.") or a word that may be an abbreviation.
_BEFORE_PERIOD = re.compile(r"(?:\b[A-Z]\.)+\Z|\b(\w+)\.\Z")


def _ends_sentence(line: str, period_at: int) -> bool:
    found = _BEFORE_PERIOD.search(line, max(0, period_at - 40), period_at + 1)
    return not found or (found.group(1) is not None and found.group(1).lower() not in _ABBREVIATIONS)


def sentence_spans(text: str) -> list[Span]:
    """Sentences of text, one paragraph per line; spans exclude surrounding whitespace."""
    spans: list[Span] = []
    for line in re.finditer(r"[^\n]+", text):
        paragraph, offset = line.group(), line.start()
        start = offset
        for end in _END.finditer(paragraph):
            if _ends_sentence(paragraph, end.start()):
                spans.append((start, offset + end.end()))
                start = offset + end.end()
        spans.append((start, line.end()))
    return [(s + _lead_space(text, s, e), e) for s, e in spans if text[s:e].strip()]


def _lead_space(text: str, start: int, end: int) -> int:
    return len(text[start:end]) - len(text[start:end].lstrip())
