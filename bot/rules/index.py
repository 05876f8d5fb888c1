"""Many rules -> one matcher; an article -> which rules match, with highlight spans. Pure, no I/O.

Every phrase of every rule, normalized, goes into one Aho-Corasick automaton, so one pass over
an article finds every phrase it holds. Each rule is filed under its anchors (phrases at least
one of which any match must contain); only rules whose anchors turned up are evaluated. Rules
with no anchor (a bare regex) are evaluated for every article. Phrases added after the last
build wait in a small side table, so adding a rule never rebuilds the automaton.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import ahocorasick

from bot.domain import Span
from bot.rules.query import And, Near, Node, Not, Or, Phrase, Regex, compile_regex
from bot.rules.text import DEFAULT_LANGUAGE, Token, sentence_spans, tokenize, words

Keys = tuple[str, ...]
Occurrence = tuple[str, int, int]  # field, first token, last token
Found = list[tuple[str, int, int]]  # field, start char, end char
_SCOPES = {None: ("title", "body"), "title": ("title",), "feed": ("feed",), "link": ("link",)}


@dataclass(frozen=True)
class Document:
    title: str
    body: str
    feed: str = ""
    link: str = ""


@dataclass(frozen=True)
class Hit:
    rule_id: int
    field: str  # "body" when the body matched (preferred for quoting), else "title"
    spans: tuple[Span, ...]  # matched words in that field, in order; may be empty (feed:, link:)


class _Field:
    """One field of a document, tokenized once, with the string the automaton scans."""

    def __init__(self, text: str, language: str):
        self.text = text
        self.tokens: list[Token] = tokenize(text, language)

    @cached_property
    def sentence_of(self) -> list[int]:
        """For each token, the number of its sentence: a phrase never spans two."""
        ends = [end for _, end in sentence_spans(self.text)]
        numbers, sentence = [], 0
        for token in self.tokens:
            while sentence < len(ends) - 1 and token.start >= ends[sentence]:
                sentence += 1
            numbers.append(sentence)
        return numbers

    @cached_property
    def haystack(self) -> tuple[str, dict[int, int]]:
        """ " k1 k2 | k3 ... " (| between sentences) and, for the space after each token, its index."""
        parts, ends, at = [], {}, 0
        for i, token in enumerate(self.tokens):
            if i and self.sentence_of[i] != self.sentence_of[i - 1]:
                parts.append("|")
                at += 2
            parts.append(token.key)
            at += 1 + len(token.key)
            ends[at] = i
        return " " + " ".join(parts) + " ", ends


def anchors(node: Node) -> frozenset[Keys] | None:
    """Phrases one of which any match must contain; None when no phrase is required."""
    if isinstance(node, Phrase):
        return frozenset([node.keys])
    if isinstance(node, Near):
        return anchors(node.left)
    if isinstance(node, And):
        options = [a for a in map(anchors, node.children) if a is not None]
        return min(options, key=lambda a: (len(a), -sum(len("".join(k)) for k in a)), default=None)
    if isinstance(node, Or):
        branches = [anchors(child) for child in node.children]
        return None if any(b is None for b in branches) else frozenset().union(*branches)  # type: ignore[arg-type]
    return None  # Not, Regex


def phrases(node: Node) -> Iterable[Phrase]:
    if isinstance(node, Phrase):
        yield node
    elif isinstance(node, Near):
        yield node.left
        yield node.right
    elif isinstance(node, Not):
        yield from phrases(node.child)
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from phrases(child)


class RuleIndex:
    def __init__(self, rules: Iterable[tuple[int, Node]] = (), language: str = DEFAULT_LANGUAGE):
        self.language = language
        self._trees: dict[int, Node] = {}
        self._anchored: dict[Keys, set[int]] = defaultdict(set)
        self._unanchored: set[int] = set()
        self._built: frozenset[Keys] = frozenset()
        self._automaton: ahocorasick.Automaton | None = None
        self._pending: dict[str, set[Keys]] = defaultdict(set)  # first key -> phrases not yet built
        self._pending_count = 0
        self._regexes: dict[str, object] = {}
        for rule_id, tree in rules:
            self.add(rule_id, tree)
        self.compact()

    def __len__(self) -> int:
        return len(self._trees)

    def __contains__(self, rule_id: int) -> bool:
        return rule_id in self._trees

    def add(self, rule_id: int, tree: Node) -> None:
        self.remove(rule_id)
        self._trees[rule_id] = tree
        for leaf in phrases(tree):
            if leaf.keys not in self._built and leaf.keys not in self._pending[leaf.keys[0]]:
                self._pending[leaf.keys[0]].add(leaf.keys)
                self._pending_count += 1
        found = anchors(tree)
        if found is None:
            self._unanchored.add(rule_id)
        for keys in found or ():
            self._anchored[keys].add(rule_id)

    def remove(self, rule_id: int) -> None:
        tree = self._trees.pop(rule_id, None)
        if tree is None:
            return
        self._unanchored.discard(rule_id)
        for keys in anchors(tree) or ():
            self._anchored[keys].discard(rule_id)

    @property
    def needs_compacting(self) -> bool:
        """Worth a rebuild once the side table is a twentieth of the rules (and not tiny)."""
        return self._pending_count > 200 + len(self._trees) // 20

    def compact(self) -> None:
        """Rebuild the automaton from the phrases of the current rules (drops removed ones)."""
        every = frozenset(leaf.keys for tree in self._trees.values() for leaf in phrases(tree))
        automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
        for keys in every:
            automaton.add_word(" " + " ".join(keys) + " ", keys)
        automaton.make_automaton()
        self._automaton, self._built = (automaton if every else None), every
        self._pending.clear()
        self._pending_count = 0
        self._anchored = defaultdict(set, {k: v for k, v in self._anchored.items() if v})

    def match(self, doc: Document) -> dict[int, Hit]:
        fields = {
            name: _Field(getattr(doc, name), self.language) for name in ("title", "body", "feed", "link")
        }
        present = self._scan(fields)
        candidates = set(self._unanchored)
        for keys in present:
            candidates |= self._anchored.get(keys, set())
        hits = {}
        for rule_id in sorted(candidates):
            found = self._evaluate(self._trees[rule_id], fields, present)
            if found is not None:
                hits[rule_id] = _hit(rule_id, found)
        return hits

    def _scan(self, fields: dict[str, _Field]) -> dict[Keys, list[Occurrence]]:
        present: dict[Keys, list[Occurrence]] = defaultdict(list)
        for name, field in fields.items():
            if not field.tokens:
                continue
            if self._automaton is not None:
                haystack, ends = field.haystack
                for end, keys in self._automaton.iter(haystack):
                    last = ends[end]
                    present[keys].append((name, last - len(keys) + 1, last))
            if self._pending:
                self._scan_pending(name, field, present)
        return present

    def _scan_pending(self, name: str, field: _Field, present: dict[Keys, list[Occurrence]]) -> None:
        found, sentence_of = [t.key for t in field.tokens], field.sentence_of
        for i, key in enumerate(found):
            for keys in self._pending.get(key, ()):
                last = i + len(keys) - 1
                if tuple(found[i : last + 1]) == keys and sentence_of[i] == sentence_of[last]:
                    present[keys].append((name, i, last))

    def _evaluate(
        self, node: Node, fields: dict[str, _Field], present: dict[Keys, list[Occurrence]]
    ) -> Found | None:
        """The spans that make node true, or None when it is false (a true Not gives [])."""
        if isinstance(node, Phrase):
            occurrences = self._occurrences(node, fields, present)
            return [_chars(fields, o) for o in occurrences] or None
        if isinstance(node, Regex):
            return self._regex(node, fields) or None
        if isinstance(node, Near):
            return _near(node, self._occurrences(node.left, fields, present),
                         self._occurrences(node.right, fields, present), fields)  # fmt: skip
        if isinstance(node, Not):
            return [] if self._evaluate(node.child, fields, present) is None else None
        results = [self._evaluate(child, fields, present) for child in node.children]
        if isinstance(node, And) and any(r is None for r in results):
            return None
        if isinstance(node, Or) and all(r is None for r in results):
            return None
        return [span for r in results if r for span in r]

    def _occurrences(
        self, node: Phrase, fields: dict[str, _Field], present: dict[Keys, list[Occurrence]]
    ) -> list[Occurrence]:
        scope = _SCOPES[node.field]
        found = [o for o in present.get(node.keys, ()) if o[0] in scope]
        if node.case:
            found = [o for o in found if _surface(fields, o) == node.words]
        return found

    def _regex(self, node: Regex, fields: dict[str, _Field]) -> Found:
        compiled = self._regexes.get(node.pattern) or self._regexes.setdefault(
            node.pattern, compile_regex(node.pattern)
        )
        return [
            (name, *m.span()) for name in _SCOPES[node.field] for m in compiled.finditer(fields[name].text)
        ]  # type: ignore[attr-defined]


def _chars(fields: dict[str, _Field], occurrence: Occurrence) -> tuple[str, int, int]:
    name, first, last = occurrence
    tokens = fields[name].tokens
    return name, tokens[first].start, tokens[last].end


def _surface(fields: dict[str, _Field], occurrence: Occurrence) -> tuple[str, ...]:
    name, start, end = _chars(fields, occurrence)
    return tuple(m.group() for m in words(fields[name].text[start:end]))


def _near(
    node: Near, left: list[Occurrence], right: list[Occurrence], fields: dict[str, _Field]
) -> Found | None:
    """Pairs of occurrences in the same field at most node.distance words apart."""
    found = []
    for a in left:
        for b in right:
            gap = b[1] - a[2] if a[2] < b[1] else a[1] - b[2]
            if a[0] == b[0] and gap <= node.distance:
                found += [_chars(fields, a), _chars(fields, b)]
    return found or None


def _hit(rule_id: int, found: Found) -> Hit:
    for field in ("body", "title"):
        spans = sorted({(s, e) for name, s, e in found if name == field})
        if spans:
            return Hit(rule_id, field, tuple(spans))
    return Hit(rule_id, "title", ())
