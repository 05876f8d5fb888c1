"""Many rules -> one matcher; an article -> which rules match, with highlight spans. Pure, no I/O.

Every phrase of every rule, normalized, goes into one Aho-Corasick automaton, and every regex
into one RE2 set, so one pass over an article finds every phrase and pattern it holds. Each
rule is filed under its anchors (phrases or patterns at least one of which any match must
contain); only rules whose anchors turned up are evaluated. Phrases and patterns added after
the last build wait in a small side table, so adding a rule never rebuilds anything.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate
from typing import NamedTuple

import ahocorasick
import re2

from bot.domain import Span
from bot.rules.query import RE2_OPTIONS, And, Near, Node, Not, Or, Phrase, Regex, compile_regex
from bot.rules.text import BREAK, DEFAULT_LANGUAGE, WORD, chunk_reader, chunk_spans, chunks

Keys = tuple[str, ...]
Occurrence = tuple[str, int, int]  # field, first part, last part (see _Field)
Found = list[tuple[str, int, int]]  # field, start char, end char
Scanner = tuple["ahocorasick.Automaton | None", "re2.Set | None", list[Keys]]  # see _scanner()
_SCOPES = {None: ("title", "body"), "title": ("title",), "feed": ("feed",), "link": ("link",)}


@dataclass(frozen=True)
class Document:
    title: str
    body: str
    feed: str = ""
    link: str = ""


class Hit(NamedTuple):  # a tuple, not a dataclass: a busy article makes hundreds
    rule_id: int
    field: str  # "body" when the body matched (preferred for quoting), else "title"
    spans: tuple[Span, ...]  # matched words in that field, in order; may be empty (feed:, link:)


class _Field:
    """One field of a document: its keys, with sentence breaks, to scan; word offsets on demand."""

    def __init__(self, text: str, language: str):
        self.text = text
        self.language = language
        self.chunks = chunks(text)
        self.haystack = " " + "".join(map(chunk_reader(language), self.chunks))  # " k1 k2 | k3 ... "

    @cached_property
    def has_words(self) -> bool:
        """Not only sentence breaks: each part takes its length and a space, a BREAK two characters."""
        return len(self.haystack) > 2 * self.haystack.count(BREAK) + 1

    @cached_property
    def parts(self) -> list[str]:
        """The keys, with a BREAK between sentences."""
        return self.haystack[1:].split(" ")[:-1]

    @cached_property
    def token_of_part(self) -> list[int]:
        """Part index -> token index (parts are tokens with a BREAK between sentences)."""
        return list(accumulate(map(BREAK.__ne__, self.parts), initial=0))[:-1]

    @cached_property
    def _chunk_spans(self) -> tuple[list[tuple[Span, ...]], list[int], list[int]]:
        """Each chunk's part spans; parts up to each chunk's end; characters (but spaces) to it."""
        spans = list(map(chunk_spans(self.language), self.chunks))
        return spans, list(accumulate(map(len, spans))), list(accumulate(map(len, self.chunks)))

    def span(self, first: int, last: int) -> Span:
        """Where parts first to last are in the text: needed only where a hit is highlighted."""
        return self._part_span(first)[0], self._part_span(last)[1]

    def _part_span(self, part: int) -> Span:
        spans, parts_to, chars_to = self._chunk_spans
        i = bisect_right(parts_to, part)
        at = (chars_to[i - 1] + i) if i else 0  # where chunk i starts
        start, end = spans[i][part - (parts_to[i - 1] if i else 0)]
        return at + start, at + end


def regex_key(pattern: str) -> Keys:
    return ("/", pattern)  # "/" is never a word, so this never collides with a phrase


def needs(node: Node) -> list[frozenset[Keys]]:
    """Sets of phrases or patterns such that any match contains one of each set."""
    if isinstance(node, Phrase):
        return [frozenset([node.keys])]
    if isinstance(node, Regex):
        return [frozenset([regex_key(node.pattern)])]
    if isinstance(node, Near):
        return [*needs(node.left), *needs(node.right)]
    if isinstance(node, And):
        return [need for child in node.children for need in needs(child)]
    if isinstance(node, Or):
        branches = [anchors(child) for child in node.children]
        return [] if any(b is None for b in branches) else [frozenset().union(*branches)]  # type: ignore[arg-type]
    return []  # Not


def anchors(node: Node) -> frozenset[Keys] | None:
    """Phrases or patterns one of which any match must contain; None when nothing is required."""
    return min(needs(node), key=lambda a: (len(a), -sum(len("".join(k)) for k in a)), default=None)


def leaves(node: Node) -> Iterable[Phrase | Regex]:
    if isinstance(node, Phrase | Regex):
        yield node
    elif isinstance(node, Near):
        yield node.left
        yield node.right
    elif isinstance(node, Not):
        yield from leaves(node.child)
    elif isinstance(node, And | Or):
        for child in node.children:
            yield from leaves(child)


def _keys(leaf: Phrase | Regex) -> Keys:
    return leaf.keys if isinstance(leaf, Phrase) else regex_key(leaf.pattern)


class RuleIndex:
    def __init__(self, rules: Iterable[tuple[int, Node]] = (), language: str = DEFAULT_LANGUAGE):
        self.language = language
        self._trees: dict[int, Node] = {}
        self._plain: dict[Keys, set[int]] = defaultdict(set)  # most rules: a phrase, in title or body
        self._anchored: dict[Keys, set[int]] = defaultdict(set)  # the others, under their anchors
        self._unanchored: set[int] = set()
        self._needs: dict[int, list[frozenset[Keys]]] = {}  # of the others: see needs()
        self._built: frozenset[Keys] = frozenset()
        self._scanner: Scanner = _scanner(())
        self._pending: set[Keys] = set()  # phrases and patterns added since the last build
        self._pending_scanner: Scanner | None = None  # built at the next match
        self._regexes: dict[str, object] = {}
        for rule_id, tree in rules:
            self.add(rule_id, tree)
        self.compact()

    def __len__(self) -> int:
        return len(self._trees)

    def add(self, rule_id: int, tree: Node) -> None:
        self.remove(rule_id)
        self._trees[rule_id] = tree
        for leaf in leaves(tree):
            keys = _keys(leaf)
            if keys not in self._built and keys not in self._pending:
                self._pending.add(keys)
                self._pending_scanner = None
        if _is_plain(tree):
            self._plain[tree.keys].add(rule_id)  # type: ignore[union-attr]
            return
        self._needs[rule_id] = needs(tree)
        found = anchors(tree)
        if found is None:
            self._unanchored.add(rule_id)
        for keys in found or ():
            self._anchored[keys].add(rule_id)

    def remove(self, rule_id: int) -> None:
        tree = self._trees.pop(rule_id, None)
        if tree is None:
            return
        if _is_plain(tree):
            self._plain[tree.keys].discard(rule_id)  # type: ignore[union-attr]
            return
        self._unanchored.discard(rule_id)
        del self._needs[rule_id]
        for keys in anchors(tree) or ():
            self._anchored[keys].discard(rule_id)

    @property
    def needs_compacting(self) -> bool:
        """Worth a rebuild once the side table is a twentieth of the rules (and not tiny)."""
        return len(self._pending) > 200 + len(self._trees) // 20

    def compact(self) -> None:
        """Rebuild the automaton and the regex set from the current rules (drops removed ones)."""
        every = frozenset(_keys(leaf) for tree in self._trees.values() for leaf in leaves(tree))
        self._scanner, self._built = _scanner(every), every
        self._pending.clear()
        self._pending_scanner = None
        self._plain = defaultdict(set, {k: v for k, v in self._plain.items() if v})
        self._anchored = defaultdict(set, {k: v for k, v in self._anchored.items() if v})

    def match(self, doc: Document) -> dict[int, Hit]:
        fields = {
            name: _Field(getattr(doc, name), self.language) for name in ("title", "body", "feed", "link")
        }
        present = self._scan(fields)
        hits, candidates = {}, set(self._unanchored)
        for keys, found in present.items():
            candidates.update(self._anchored.get(keys, ()))
            plain = self._plain.get(keys)
            if plain and (hit := _phrase_hit(found, fields)):  # spans found once for all its rules
                hits.update((rule_id, Hit(rule_id, *hit)) for rule_id in plain)
        for rule_id in candidates:
            tree = self._trees[rule_id]
            if _may_hold(self._needs[rule_id], present) and self._holds(tree, fields, present):
                # decided first; spans only for the hits
                hits[rule_id] = _hit(rule_id, self._evaluate(tree, fields, present) or [])
        return dict(sorted(hits.items()))

    def _holds(self, node: Node, fields: dict[str, _Field], present: dict[Keys, list[Occurrence]]) -> bool:
        """Whether node is true, stopping as soon as that is known."""
        kind = type(node)
        if kind is Phrase or kind is Regex:  # the automaton and the RE2 set found every occurrence
            found = present.get(_keys(node))  # type: ignore[arg-type]
            if not found:
                return False
            if kind is Phrase and node.case:  # type: ignore[union-attr]
                return bool(self._occurrences(node, fields, present))  # type: ignore[arg-type]
            scope = _SCOPES[node.field]  # type: ignore[union-attr]
            return any(o[0] in scope for o in found)
        if kind is Not:
            return not self._holds(node.child, fields, present)  # type: ignore[union-attr]
        if kind is And:
            return all(self._holds(child, fields, present) for child in node.children)  # type: ignore[union-attr]
        if kind is Or:
            return any(self._holds(child, fields, present) for child in node.children)  # type: ignore[union-attr]
        return self._evaluate(node, fields, present) is not None  # Near

    def _scan(self, fields: dict[str, _Field]) -> dict[Keys, list[Occurrence]]:
        if self._pending_scanner is None:  # rules were added: one small build for all of them
            self._pending_scanner = _scanner(self._pending)
        present: dict[Keys, list[Occurrence]] = defaultdict(list)
        for name, field in fields.items():
            if field.has_words:
                for scanner in (self._scanner, self._pending_scanner):
                    _scan(scanner, name, field, present)
        return present

    def _evaluate(
        self, node: Node, fields: dict[str, _Field], present: dict[Keys, list[Occurrence]]
    ) -> Found | None:
        """The spans that make node true, or None when it is false (a true Not gives [])."""
        if isinstance(node, Phrase):
            occurrences = self._occurrences(node, fields, present)
            return [_chars(fields, o) for o in occurrences] or None
        if isinstance(node, Regex):
            return self._regex(node, fields) if self._holds(node, fields, present) else None
        if isinstance(node, Near):
            return _near(node, self._occurrences(node.left, fields, present),
                         self._occurrences(node.right, fields, present), fields)  # fmt: skip
        if isinstance(node, Not):
            return None if self._holds(node.child, fields, present) else []
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

    def _compiled(self, pattern: str) -> object:
        return self._regexes.get(pattern) or self._regexes.setdefault(pattern, compile_regex(pattern))

    def _regex(self, node: Regex, fields: dict[str, _Field]) -> Found:
        compiled = self._compiled(node.pattern)
        return [
            (name, *m.span()) for name in _SCOPES[node.field] for m in compiled.finditer(fields[name].text)
        ]  # type: ignore[attr-defined]


def _scanner(every: Iterable[Keys]) -> Scanner:
    """An Aho-Corasick automaton of the phrases, one RE2 set of the patterns (None when there are none)."""
    phrases, patterns = [k for k in every if k[0] != "/"], [k for k in every if k[0] == "/"]
    return _automaton(phrases), _regex_set(patterns), patterns


def _automaton(phrases: list[Keys]) -> ahocorasick.Automaton | None:
    if not phrases:
        return None
    automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
    for keys in phrases:
        automaton.add_word(" " + " ".join(keys) + " ", keys)
    automaton.make_automaton()
    return automaton


def _regex_set(patterns: list[Keys]) -> re2.Set | None:
    """One RE2 automaton that says which of many patterns occur in a text, in one pass."""
    if not patterns:
        return None
    regex_set = re2.Set.SearchSet(RE2_OPTIONS)
    for keys in patterns:
        regex_set.Add(keys[1])
    regex_set.Compile()
    return regex_set


def _scan(scanner: Scanner, name: str, field: _Field, present: dict[Keys, list[Occurrence]]) -> None:
    """Every occurrence of the scanner's phrases and patterns in field, added to present."""
    automaton, regex_set, patterns = scanner
    haystack, last, at = field.haystack, -1, 0
    for end, keys in automaton.iter(haystack) if automaton else ():  # in order of end
        last += haystack.count(" ", at, end)  # the spaces before a part: one more than its index
        at = end
        present[keys].append((name, last - len(keys) + 1, last))
    for number in regex_set.Match(field.text) or () if regex_set else ():
        present[patterns[number]].append((name, -1, -1))


def _chars(fields: dict[str, _Field], occurrence: Occurrence) -> tuple[str, int, int]:
    name, first, last = occurrence
    return name, *fields[name].span(first, last)


def _surface(fields: dict[str, _Field], occurrence: Occurrence) -> tuple[str, ...]:
    name, start, end = _chars(fields, occurrence)
    return tuple(WORD.findall(fields[name].text, start, end))


def _near(
    node: Near, left: list[Occurrence], right: list[Occurrence], fields: dict[str, _Field]
) -> Found | None:
    """Pairs of occurrences in the same field at most node.distance words apart."""
    found = []
    for a in left:
        for b in right:
            if a[0] != b[0]:
                continue
            token_of = fields[a[0]].token_of_part
            a1, a2, b1, b2 = (token_of[i] for i in (a[1], a[2], b[1], b[2]))
            if (b1 - a2 if a2 < b1 else a1 - b2) <= node.distance:
                found += [_chars(fields, a), _chars(fields, b)]
    return found or None


def _may_hold(needs: list[frozenset[Keys]], present: dict[Keys, list[Occurrence]]) -> bool:
    """False when something the rule needs is missing everywhere: a cheap first test."""
    return all(not present.keys().isdisjoint(need) for need in needs)


def _is_plain(tree: Node) -> bool:
    return type(tree) is Phrase and tree.field is None and not tree.case


def _phrase_hit(found: list[Occurrence], fields: dict[str, _Field]) -> tuple[str, tuple[Span, ...]] | None:
    """The field and spans of a plain phrase's hit (the body preferred), or None: as _hit() finds."""
    for name in ("body", "title"):
        spans = {fields[name].span(first, last) for field, first, last in found if field == name}
        if spans:
            return name, tuple(sorted(spans))
    return None


def _hit(rule_id: int, found: Found) -> Hit:
    for field in ("body", "title"):
        spans = sorted({(s, e) for name, s, e in found if name == field})
        if spans:
            return Hit(rule_id, field, tuple(spans))
    return Hit(rule_id, "title", ())
