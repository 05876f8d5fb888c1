"""The one text normalizer: fold case, accents and punctuation, tokenize, stem. Pure, no I/O.

The matcher, the highlighter, the summarizer and the deduper all call this, so a rule and an
article always agree on what a word is.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

import Stemmer

# A word is letters/digits, with inner apostrophes kept ("Russia's"); everything else
# (dashes of every kind, quotes, punctuation) separates words.
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
DEFAULT_LANGUAGE = "english"


@dataclass(frozen=True)
class Token:
    key: str  # folded and stemmed: what matching compares
    start: int  # offsets of the word in the original text
    end: int


def fold(word: str) -> str:
    """Case and accents folded: "Élysée" -> "elysee", "Straße" -> "strasse"."""
    decomposed = unicodedata.normalize("NFKD", word.replace("\u2019", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@cache
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(language)


@lru_cache(maxsize=200_000)
def word_key(word: str, language: str = DEFAULT_LANGUAGE) -> str:
    return _stemmer(language).stemWord(fold(word))


def tokenize(text: str, language: str = DEFAULT_LANGUAGE) -> list[Token]:
    return [Token(word_key(m.group(), language), m.start(), m.end()) for m in _WORD.finditer(text)]


def keys(text: str, language: str = DEFAULT_LANGUAGE) -> tuple[str, ...]:
    return tuple(token.key for token in tokenize(text, language))


def is_language(language: str) -> bool:
    return language in Stemmer.algorithms()
