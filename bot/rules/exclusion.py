""" "Not about this": which words of an article would keep a rule off it, and the rule with one excluded.
Pure, no I/O.

A word proposed is one of the article's headline and lead that tells it apart: by how much the article says
it (a headline word and a name weigh more) and how rare it is among recent articles (the story step's term
counts, weighed as the story step weighs them); never a stop word, a number, a word the rule has, or a word
whose exclusion would still let the rule match the article.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from bot.domain import TermCounts
from bot.errors import QueryError
from bot.rules.index import Document, RuleIndex, leaves
from bot.rules.query import And, Not, Phrase, format_rule, parse_rule
from bot.rules.text import DEFAULT_LANGUAGE, fold, word_keys, words

LEAD = 60  # words of the body after the headline looked at
NAME = 2  # a capitalised word inside a sentence (a name) weighs this many times another
PRIOR = 100  # articles assumed counted besides those that were, as the story step weighs words
MIN_LETTERS = 3
# English words that say nothing of what a story is about (query.COMMON_WORDS and more)
STOP_WORDS = frozenset(
    """a about above after again against all almost also although always am among an and another any are
    around as at back be because been before being below between both but by can cannot could did do does
    doing down during each either else even ever every few first for from further had has have having he
    her here hers him his how however i if in into is it its itself just last later least less like made
    make many may me might more most much must my near never new next no nor not now of off often on once
    one only or other our out over own per perhaps rather said same say says see seen she should since so
    some still such than that the their them then there these they this those though three through to too
    two under until up upon us very was we were what when where whether which while who whom whose why will
    with within without would yet you your today yesterday tomorrow week year years time times monday
    tuesday wednesday thursday friday saturday sunday according told report reports reported""".split()
)


def exclusion_words(
    title: str, body: str, rule: str, counts: TermCounts, language: str = DEFAULT_LANGUAGE, size: int = 3
) -> tuple[str, ...]:
    """Up to `size` words of the article, as written there, that `rule` could exclude to stop matching it;
    the most telling first. The rule must parse (QueryError otherwise)."""
    tree = parse_rule(rule, language)
    ruled = {key for leaf in leaves(tree) if isinstance(leaf, Phrase) for key in leaf.keys}
    headline, lead = list(words(title)), list(words(body))[:LEAD]
    weight: Counter[str] = Counter()  # key -> how much the article says it: a headline word twice
    written: dict[str, tuple[int, str]] = {}  # key -> where first, as written there
    for at, match in enumerate(headline + lead):
        word = match.group()
        keys = word_keys(word, language)
        if (
            len(keys) != 1 or keys[0] in ruled or not word.isalpha() or len(word) < MIN_LETTERS
            or fold(word) in STOP_WORDS
        ):  # fmt: skip
            continue
        named = at >= len(headline) and word[0].isupper() and not _starts_sentence(body, match.start())
        weight[keys[0]] += (2 if at < len(headline) else 1) * (NAME if named else 1)
        written.setdefault(keys[0], (at, word))
    telling = {
        key: weight[key] * math.log((counts.articles + PRIOR) / (counts.counts.get(key, 0) + 1))
        for key in written
    }
    article = Document(title, body)
    chosen: list[str] = []
    for key in sorted(written, key=lambda key: (-telling[key], written[key][0])):
        word = written[key][1]
        narrowed = parse_rule(with_exclusion(rule, word, language), language)
        if not RuleIndex([(1, narrowed)], language).match(article):
            chosen.append(word)
            if len(chosen) == size:
                break
    return tuple(chosen)


def with_exclusion(rule: str, word: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The rule with `word` excluded (`RULE -word`), written as close to the rule as typed as reads the
    same: "NATO summit -Georgia", "(NATO OR Russia) -Georgia", '"Membership Action Plan" -Georgia'.
    QueryError when the rule, or the word as a rule, does not parse."""
    tree = parse_rule(rule, language)
    excluded = Not(parse_rule(word, language))
    wanted = {And((tree, excluded))} | ({And((*tree.children, excluded))} if isinstance(tree, And) else set())
    for text in (f"{rule} -{word}", f"({rule}) -{word}", f'"{rule}" -{word}'):
        try:
            if parse_rule(text, language) in wanted:
                return text
        except QueryError:
            continue
    return f"({format_rule(tree)}) AND NOT ({format_rule(excluded.child)})"


def _starts_sentence(text: str, at: int) -> bool:
    """Whether the word at this offset begins a sentence (so its capital says nothing)."""
    return re.search(r"(^|[.!?:\n]['\"\u201d\u2019)]*)\s*$", text[:at]) is not None
