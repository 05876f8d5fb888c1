"""The one text normalizer: fold case, accents and punctuation, tokenize, stem. Pure, no I/O.

The matcher, the highlighter, the summarizer and the deduper all call this, so a rule and an
article always agree on what a word is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from functools import cache, lru_cache
from typing import NamedTuple

import regex
import Stemmer

Span = tuple[int, int]  # [start, end) offsets into a string
# A word is letters and digits with their combining marks (Devanagari vowel signs, accents),
# inner apostrophes kept ("Russia's"); everything else (dashes, quotes, punctuation) separates.
WORD = regex.compile(r"[\p{L}\p{N}][\p{L}\p{N}\p{M}]*(?:['\u2019][\p{L}\p{N}][\p{L}\p{N}\p{M}]*)*")
_WORD_OR_NEWLINE = regex.compile(WORD.pattern + r"|\n")
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
    """The keys of text in order, with BREAK (one or more) between sentences; the same keys as
    tokenize(), and the same sentences as sentence_spans()."""
    return "".join(map(chunk_reader(language), chunks(text))).split(" ")[:-1]


# -- chunks: the fast path of matching ------------------------------------------------------
# An article is mostly words seen before, so it is read a chunk (what lies between two spaces) at a
# time, each chunk's keys cached: no regex, fold or stem per word, and no Python loop per word.


def chunks(text: str) -> list[str]:
    """text split at every " ", once the space after each sentence end is a newline.

    The text keeps its length, so chunk i starts at the lengths of the chunks before it plus i,
    and a newline inside a chunk is a sentence break."""
    split = _PERIOD_THEN_SPACE.split if "!" not in text and "?" not in text else _END_THEN_SPACE.split
    pieces = split(text)  # text, end, space, text, end, space, ..., text
    pieces[2::3] = ["\n"] * (len(pieces) // 3)
    return "".join(pieces).split(" ")


def _chunk_tokens(chunk: str, language: str) -> Iterator[tuple[str, Span]]:
    """(part, its span in the chunk): each key of each word, and BREAK for each newline."""
    keys_of = keyer(language)
    for m in _WORD_OR_NEWLINE.finditer(chunk):
        for part in keys_of(m.group()) if m.group() != "\n" else (BREAK,):
            yield part, m.span()


class _Cache(dict[str, object]):
    """A dict that fills itself from a function and empties itself when full: a cheaper lru_cache
    when looked up with map(cache.__getitem__, ...), as the hot path does for every chunk."""

    def __init__(self, compute: Callable[[str], object], size: int = 50_000):
        super().__init__()
        self.compute, self.size = compute, size

    def __missing__(self, key: str) -> object:
        if len(self) >= self.size:
            self.clear()
        value = self[key] = self.compute(key)
        return value


@cache
def chunk_reader(language: str = DEFAULT_LANGUAGE) -> Callable[[str], str]:
    """chunk -> its parts (keys, and BREAK between sentences), each followed by a space."""
    return _Cache(lambda chunk: "".join(part + " " for part, _ in _chunk_tokens(chunk, language))).__getitem__


@cache
def chunk_spans(language: str = DEFAULT_LANGUAGE) -> Callable[[str], tuple[Span, ...]]:
    """chunk -> for each character of its parts as chunk_reader gives them (spaces too), where that part
    is in the chunk: looked up by an offset, with no counting."""

    def spans(chunk: str) -> tuple[Span, ...]:
        return tuple(span for part, span in _chunk_tokens(chunk, language) for _ in range(len(part) + 1))

    return _Cache(spans).__getitem__


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
    """Every word's keys, in order (the same as tokenize's, by the cached chunk path)."""
    return tuple(key for key in "".join(map(chunk_reader(language), chunks(text))).split() if key != BREAK)


def is_language(language: str) -> bool:
    return language in Stemmer.algorithms()


# -- sentences: "U.S.", "Rev." and "Feb. 17" do not end one ----------------------------------

# English abbreviations that stand before a name or a number: titles and ranks ("Rev. Jesse Jackson",
# "Gen. Smith"), the months ("Feb. 17") and "No.", "St.", "Mt.", "Ft.", "vs.". They are a small closed
# class of the language, not of any site, and the period after one belongs to it, so it ends no sentence.
# Abbreviations that follow a name ("Jr.", "Inc.") are not here: their period often ends the sentence too.
_ABBREVIATIONS = frozenset(
    "mr mrs ms messrs dr prof rev fr sen rep gov pres amb hon gen adm brig col lt maj capt cmdr sgt cpl"
    " pvt det insp supt st no vs mt ft jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


def _not_after_abbreviation() -> str:
    """Lookbehinds (one per length: re wants fixed widths) refusing a period after "Mr", "mr", "MR"..."""
    by_length: dict[int, list[str]] = {}
    for word in sorted(_ABBREVIATIONS):
        by_length.setdefault(len(word), []).append("".join(f"[{c.upper()}{c}]" for c in word))
    return "".join(rf"(?<!\b(?:{'|'.join(group)})\.)" for group in by_length.values())


# A period after a short capitalised word ends no sentence when a number follows ("Art. 5", "Vol. 2"):
# the word is an abbreviation of a kind that stands before a number, and a sentence seldom starts with
# a numeral (style guides spell it out).
_NOT_BEFORE_A_NUMBER = (
    r"(?:(?![^\S\n]+[0-9])|(?<!\b[A-Z][a-z]\.)(?<!\b[A-Z][a-z]{2}\.)(?<!\b[A-Z][a-z]{3}\.))"
)

# A sentence ends at the first of a run of . ! ? (and any closing quotes after it) followed, on the
# same line, by spaces and a capital or a digit; a period ends none after an initial ("U.S.", "J. K.
# Rowling"), after an abbreviation ("Mr.", "Sept.") or after a short capitalised word before a number.
# The character class comes first so that re scans for it quickly.
_SENTENCE_END = (
    r"[.!?](?<![.!?][.!?])"
    rf"(?:(?<=[!?])|(?<!\b[A-Z]\.){_not_after_abbreviation()}{_NOT_BEFORE_A_NUMBER})"
    r"[.!?]*[\"'\u201d\u2019)\]]*"
)
_END = re.compile(_SENTENCE_END + r"(?=[^\S\n]+[\"'\u201c\u2018(\[]?[A-Z0-9])")
_END_THEN_SPACE = re.compile(f"({_SENTENCE_END})([^\\S\\n])" + r"(?=[^\S\n]*[\"'\u201c\u2018(\[]?[A-Z0-9])")
# The same for a text without "!" or "?", where re finds a literal first character several times faster.
_PERIOD_THEN_SPACE = re.compile(_END_THEN_SPACE.pattern.replace("[.!?](?<![.!?][.!?])", r"\.(?<!\.\.)", 1))


def sentence_spans(text: str) -> list[Span]:
    """Sentences of text, one paragraph per line; spans exclude surrounding whitespace."""
    spans: list[Span] = []
    for line in re.finditer(r"[^\n]+", text):
        start = line.start()
        for end in _END.finditer(text, start, line.end()):
            spans.append((start, end.end()))
            start = end.end()
        spans.append((start, line.end()))
    return [(s + _lead_space(text, s, e), e) for s, e in spans if text[s:e].strip()]


def _lead_space(text: str, start: int, end: int) -> int:
    return len(text[start:end]) - len(text[start:end].lstrip())
