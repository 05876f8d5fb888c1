"""Many rules -> one matcher; an article -> which rules match, with highlight spans. Pure, no I/O."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain import Span
from bot.rules.query import Phrase
from bot.rules.text import DEFAULT_LANGUAGE, Token, tokenize


@dataclass(frozen=True)
class Hit:
    rule_id: int
    field: str  # "body" when the body matched (preferred for quoting), else "title"
    spans: tuple[Span, ...]  # every occurrence in that field


class RuleIndex:
    """Rules keyed by their first word, so one pass over the article finds every candidate."""

    def __init__(self, rules: Iterable[tuple[int, Phrase]], language: str = DEFAULT_LANGUAGE):
        self.language = language
        self._by_first: dict[str, list[tuple[int, tuple[str, ...]]]] = defaultdict(list)
        for rule_id, phrase in rules:
            self._by_first[phrase.keys[0]].append((rule_id, phrase.keys))

    def __len__(self) -> int:
        return sum(len(rules) for rules in self._by_first.values())

    def match(self, title: str, body: str) -> dict[int, Hit]:
        hits: dict[int, Hit] = {}
        for field, text in (("body", body), ("title", title)):
            for rule_id, spans in self._scan(tokenize(text, self.language)).items():
                hits.setdefault(rule_id, Hit(rule_id, field, tuple(spans)))
        return hits

    def _scan(self, tokens: list[Token]) -> dict[int, list[Span]]:
        found: dict[int, list[Span]] = defaultdict(list)
        for i, token in enumerate(tokens):
            for rule_id, words in self._by_first.get(token.key, ()):
                window = tokens[i : i + len(words)]
                if tuple(t.key for t in window) == words:
                    found[rule_id].append((window[0].start, window[-1].end))
        return found
