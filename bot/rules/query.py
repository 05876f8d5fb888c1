"""Rule text -> a compiled query, or a QueryError with the reason and position. Pure, no I/O.

First cut of the rule language: a rule is one phrase. Matching folds case, accents and
punctuation and tolerates inflection (see rules/text.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import QueryError
from bot.rules.text import DEFAULT_LANGUAGE, keys

MAX_RULE_LENGTH = 500


@dataclass(frozen=True)
class Phrase:
    text: str
    keys: tuple[str, ...]  # normalized words, in order


def parse_rule(text: str, language: str = DEFAULT_LANGUAGE) -> Phrase:
    if len(text) > MAX_RULE_LENGTH:
        raise QueryError(f"a rule is at most {MAX_RULE_LENGTH} characters", MAX_RULE_LENGTH)
    stripped = text.strip()
    if not stripped:
        raise QueryError("a rule needs at least one word", 0)
    words = keys(stripped, language)
    if not words:
        start = len(text) - len(text.lstrip())
        raise QueryError("a rule needs at least one word or number, not only punctuation", start)
    return Phrase(stripped, words)
