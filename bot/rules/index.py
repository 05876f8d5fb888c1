"""Many rules -> one matcher; an article -> which rules match, with highlight spans. Pure, no I/O.

Every phrase of every rule, normalized, goes into one Aho-Corasick automaton, and every regex
into an RE2 set (one, unless they are too many for its memory), so one pass over an article finds
every phrase and pattern it holds. Each rule is filed under its anchors (phrases or patterns at
least one of which any match must contain); only rules whose anchors turned up are evaluated, and a
plain phrase (most rules) is a hit wherever its phrase is. Phrases and patterns added after the
last build go into a small automaton and RE2 set of their own, built at the next match, so adding a
rule stays cheap.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from itertools import accumulate, repeat
from sys import intern
from typing import NamedTuple

import ahocorasick
import re2

from bot.domain import Span
from bot.rules.query import RE2_OPTIONS, And, Near, Node, Not, Or, Phrase, Regex, compile_regex
from bot.rules.text import BREAK, DEFAULT_LANGUAGE, WORD, chunk_reader, chunk_spans, chunks

Keys = str  # a phrase as the automaton finds it, " k1 k2 ", or "/" and a pattern: a cached hash
Occurrence = tuple[str, int, int]  # field, haystack space before and after (see _Field); regex: -1
# A phrase's occurrences in a field are listed in text order: the automaton reports them so.
Located = tuple[str, int, int]  # field, start char, end char
Found = list[Located]
_Placed = tuple[int, int, Occurrence]  # an occurrence's start and end in words from a point before it
RegexSet = tuple["re2.Set", list[Keys]]  # a set, and the patterns it numbers
Scanner = tuple["ahocorasick.Automaton | None", list[RegexSet]]  # see _scanner()
# RE2 instructions in one set: its memory (RE2_OPTIONS.max_mem, 8 MB) holds about 140,000, and a rule's
# regex has at most MAX_REGEX_SIZE, so a set of this many always compiles.
SET_SIZE = 50_000
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
    terms: tuple[tuple[Located, ...], ...] = ()  # see required; () for a plain phrase

    @property
    def required(self) -> tuple[tuple[Located, ...], ...]:
        """What the rule needs, as the quote must show it: each term with its occurrences in any field,
        one of which will do (RuleIndex._evaluate says which); a plain phrase is one term, its spans."""
        return self.terms or (tuple((self.field, start, end) for start, end in self.spans),)


_new_hit = tuple.__new__  # Hit(...) without the Python-level __new__ of a NamedTuple: _new_hit(Hit, (...))


class _Field:
    """One field of a document: its keys, with sentence breaks, to scan; word offsets on demand.

    The haystack is " k1 k2 | k3 ... ": each part (a key, or BREAK between sentences) followed by a
    space, chunk after chunk. An occurrence is known by the spaces before and after its parts."""

    def __init__(self, text: str, language: str):
        self.text = text
        self.language = language
        self.chunks = chunks(text)
        self.chunk_keys = list(map(chunk_reader(language), self.chunks))
        self.haystack = " " + "".join(self.chunk_keys)
        # not only sentence breaks: each part takes its length and a space, a BREAK two characters
        self.has_words = len(self.haystack) > 2 * self.haystack.count(BREAK) + 1

    @cached_property
    def _layout(self) -> tuple[list[int], list[int], Callable[[int], tuple[Span, ...]]]:
        """Where each chunk's parts start in the haystack (at the space before them); the length of the
        chunks before each (it starts that far and one space a chunk into the text); and, by chunk
        number, where the part with each character of a chunk's keys is in the chunk.

        The last is looked up in the shared cache once per chunk of this field, not once per match:
        there a key equal to the chunk but left by another text is compared with it in full at every
        lookup, and one long chunk (text without spaces) may hold thousands of matches."""
        spans_of, chunks = chunk_spans(self.language), self.chunks
        return (
            list(accumulate(map(len, self.chunk_keys), initial=0)),
            list(accumulate(map(len, self.chunks), initial=0)),
            cache(lambda i: spans_of(chunks[i])),
        )

    def span(self, start: int, end: int) -> Span:
        """Where the parts between the spaces at haystack[start] and haystack[end] are in the text."""
        parts, texts, spans_of = self._layout
        last = first = bisect_right(parts, end - 1) - 1  # the chunk of the last part
        while parts[first] > start:  # back to the chunk of the first part, a word or two before
            first -= 1
        return (
            texts[first] + first + spans_of(first)[start - parts[first]][0],
            texts[last] + last + spans_of(last)[end - 1 - parts[last]][1],
        )

    def placed(self, occurrences: list[Occurrence], origin: int, length: int) -> list[_Placed]:
        """A phrase's occurrences (of length words, in text order) with the words between the space at
        origin (before them) and their start: counted in one walk along the haystack, not once each."""
        placed, words, before, haystack = [], 0, origin, self.haystack
        for occurrence in occurrences:
            start = occurrence[1]
            words += haystack.count(" ", before, start) - haystack.count(BREAK, before, start)
            placed.append((words, words + length, occurrence))
            before = start
        return placed


def regex_key(pattern: str) -> Keys:
    return intern("/" + pattern)  # a phrase starts with a space, so this never collides with one


def needs(node: Node) -> list[frozenset[Keys]]:
    """Sets of phrases or patterns such that any match contains one of each set."""
    if isinstance(node, Phrase):
        return [frozenset([_keys(node)])]
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
    return _anchor(needs(node))


def _anchor(needs: list[frozenset[Keys]]) -> frozenset[Keys] | None:
    return min(needs, key=lambda a: (len(a), -sum(len(k) - k.count(" ") for k in a)), default=None)


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
    """Interned: one string however many rules and tables hold it."""
    return intern(" " + " ".join(leaf.keys) + " ") if isinstance(leaf, Phrase) else regex_key(leaf.pattern)


class RuleIndex:
    def __init__(self, rules: Iterable[tuple[int, Node]] = (), language: str = DEFAULT_LANGUAGE):
        self.language = language
        self._trees: dict[int, Node] = {}  # the rules that are not a plain phrase
        self._phrases: dict[int, Keys] = {}  # most rules, a phrase in title or body: its keys, no tree
        # each plain phrase's rules, in a tuple: most phrases are one rule's, for which a set takes 216
        # bytes and a tuple 48 (at 100,000 rules, 14 MB against 3)
        self._plain: dict[Keys, tuple[int, ...]] = defaultdict(tuple)
        self._anchored: dict[Keys, set[int]] = defaultdict(set)  # the others, under their anchors
        self._unanchored: set[int] = set()
        self._needs: dict[int, tuple[tuple[Keys, ...], ...]] = {}  # of the others: needs() but the anchor
        self._built: frozenset[Keys] = frozenset()
        self._scanner: Scanner = _scanner(())
        self._pending: set[Keys] = set()  # phrases and patterns added since the last build
        self._pending_scanner: Scanner | None = None  # built at the next match
        self._regexes: dict[str, object] = {}
        self._fields = ("title", "body")  # the fields read: feed and link only when a rule looks there
        for rule_id, tree in rules:
            self.add(rule_id, tree)
        self.compact()

    def __len__(self) -> int:
        return len(self._trees) + len(self._phrases)

    def add(self, rule_id: int, tree: Node) -> None:
        self.remove(rule_id)
        for leaf in leaves(tree):
            if leaf.field in ("feed", "link") and leaf.field not in self._fields:
                self._fields = _fields([*self._fields, leaf.field])
            keys = _keys(leaf)
            if keys not in self._built and keys not in self._pending:
                self._pending.add(keys)
                self._pending_scanner = None
        if _is_plain(tree):  # its one leaf's keys
            self._phrases[rule_id] = keys
            self._plain[keys] += (rule_id,)
            return
        self._trees[rule_id] = tree
        every = needs(tree)
        found = _anchor(every)
        self._needs[rule_id] = tuple(tuple(need) for need in every if need is not found)
        if found is None:
            self._unanchored.add(rule_id)
        for keys in found or ():
            self._anchored[keys].add(rule_id)

    def remove(self, rule_id: int) -> None:
        if rule_id in self._phrases:
            keys = self._phrases.pop(rule_id)
            self._plain[keys] = tuple(other for other in self._plain[keys] if other != rule_id)
            return
        tree = self._trees.pop(rule_id, None)
        if tree is None:
            return
        self._unanchored.discard(rule_id)
        del self._needs[rule_id]
        for keys in anchors(tree) or ():
            self._anchored[keys].discard(rule_id)

    @property
    def needs_compacting(self) -> bool:
        """Worth a rebuild once the side table is a twentieth of the rules (and not tiny)."""
        return len(self._pending) > 200 + len(self) // 20

    def compact(self) -> None:
        """Rebuild the automaton and the regex set from the current rules (drops removed ones)."""
        every = [leaf for tree in self._trees.values() for leaf in leaves(tree)]
        self._fields = _fields({leaf.field for leaf in every})
        self._built = frozenset(map(_keys, every)).union(self._phrases.values())
        self._scanner = _scanner(self._built)
        self._pending.clear()
        self._pending_scanner = None
        self._plain = defaultdict(tuple, {k: v for k, v in self._plain.items() if v})
        self._anchored = defaultdict(set, {k: v for k, v in self._anchored.items() if v})

    def match(self, doc: Document) -> dict[int, Hit]:
        fields = {name: _Field(getattr(doc, name), self.language) for name in self._fields}
        present = self._scan(fields)
        hits = {}
        for keys in present.keys() & self._plain.keys():
            if hit := _phrase_hit(present[keys], fields):  # spans found once for all its rules
                field, spans = hit
                for rule_id in self._plain[keys]:
                    hits[rule_id] = _new_hit(Hit, (rule_id, field, spans, ()))
        missing = present.keys().isdisjoint  # of a set of phrases or patterns one of which a rule needs
        for rule_id in self._unanchored.union(*map(self._anchored.get, present, repeat(()))):
            if any(map(missing, self._needs[rule_id])):  # a cheap first test: most candidates stop here
                continue
            tree = self._trees[rule_id]
            if self._holds(tree, fields, present):  # decided first; spans only for the hits
                hits[rule_id] = _hit(rule_id, *(self._evaluate(tree, fields, present) or ([], [])))
        return {rule_id: hits[rule_id] for rule_id in sorted(hits)}

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
    ) -> tuple[Found, list[Found]] | None:
        """None when node is false; else the spans that make it true (a true Not gives none), and the
        terms any match of it needs, each with its occurrences (one of which will do): a phrase or
        pattern is one term; a NEAR two, each side where it is near the other; an AND every term of
        its children; a NOT none. An OR is one term when each alternative that holds is one (any of
        their occurrences will do: "Japan OR India"), else the terms of the alternative that holds
        with the fewest, the first on a tie."""
        if isinstance(node, Phrase):
            found = [_chars(fields, o) for o in self._occurrences(node, fields, present)]
            return (found, [found]) if found else None
        if isinstance(node, Regex):
            found = self._regex(node, fields) if self._holds(node, fields, present) else None
            return None if found is None else (found, [found])
        if isinstance(node, Near):
            sides = _near(node, self._occurrences(node.left, fields, present),
                          self._occurrences(node.right, fields, present), fields)  # fmt: skip
            return (sides[0] + sides[1], list(sides)) if sides else None
        if isinstance(node, Not):
            return None if self._holds(node.child, fields, present) else ([], [])
        results = [self._evaluate(child, fields, present) for child in node.children]
        held = [r for r in results if r is not None]
        if not held or (isinstance(node, And) and len(held) < len(results)):
            return None
        spans = [span for r in held for span in r[0]]
        if isinstance(node, And):
            return spans, [term for r in held for term in r[1]]
        if all(len(r[1]) == 1 for r in held):
            return spans, [[occurrence for r in held for occurrence in r[1][0]]]
        return spans, min((r[1] for r in held), key=len)

    def _occurrences(
        self, node: Phrase, fields: dict[str, _Field], present: dict[Keys, list[Occurrence]]
    ) -> list[Occurrence]:
        scope = _SCOPES[node.field]
        found = [o for o in present.get(_keys(node), ()) if o[0] in scope]
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


def _fields(looked_at: Iterable[str | None]) -> tuple[str, ...]:
    """The fields to read for leaves looking at these: the title and the body always (plain rules)."""
    wanted = {"title", "body", *looked_at}
    return tuple(name for name in ("title", "body", "feed", "link") if name in wanted)


def _scanner(every: Iterable[Keys]) -> Scanner:
    """An Aho-Corasick automaton of the phrases (None when there are none), RE2 sets of the patterns."""
    phrases, patterns = [k for k in every if k[0] != "/"], [k for k in every if k[0] == "/"]
    return _automaton(phrases), [(_regex_set(group), group) for group in _by_size(patterns)]


def _automaton(phrases: list[Keys]) -> ahocorasick.Automaton | None:
    if not phrases:
        return None
    automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
    for keys in phrases:
        automaton.add_word(keys, keys)
    automaton.make_automaton()
    return automaton


def _by_size(patterns: list[Keys]) -> list[list[Keys]]:
    """The patterns in groups of at most SET_SIZE instructions (one, usually)."""
    groups: list[list[Keys]] = []
    size = SET_SIZE
    for keys in patterns:
        cost = re2.compile(keys[1:], options=RE2_OPTIONS).programsize
        if size + cost > SET_SIZE:
            groups.append([])
            size = 0
        groups[-1].append(keys)
        size += cost
    return groups


def _regex_set(patterns: list[Keys]) -> re2.Set:
    """One RE2 automaton that says which of many patterns occur in a text, in one pass."""
    regex_set = re2.Set.SearchSet(RE2_OPTIONS)
    for keys in patterns:
        regex_set.Add(keys[1:])
    regex_set.Compile()
    return regex_set


def _scan(scanner: Scanner, name: str, field: _Field, present: dict[Keys, list[Occurrence]]) -> None:
    """Every occurrence of the scanner's phrases and patterns in field, added to present."""
    automaton, regex_sets = scanner
    for end, keys in automaton.iter(field.haystack) if automaton else ():
        present[keys].append((name, end + 1 - len(keys), end))
    for regex_set, patterns in regex_sets:
        for number in regex_set.Match(field.text) or ():
            present[patterns[number]].append((name, -1, -1))


def _chars(fields: dict[str, _Field], occurrence: Occurrence) -> tuple[str, int, int]:
    name, first, last = occurrence
    return name, *fields[name].span(first, last)


def _surface(fields: dict[str, _Field], occurrence: Occurrence) -> tuple[str, ...]:
    name, start, end = _chars(fields, occurrence)
    return tuple(WORD.findall(fields[name].text, start, end))


def _near(
    node: Near, left: list[Occurrence], right: list[Occurrence], fields: dict[str, _Field]
) -> tuple[Found, Found] | None:
    """The occurrences of each side with one of the other side at most node.distance words apart (1
    for neighbours, 0 when they overlap), in the same field: the left side's, then the right side's."""
    lefts_near: Found = []
    rights_near: Found = []
    for name in fields:
        lefts, rights = [o for o in left if o[0] == name], [o for o in right if o[0] == name]
        if not (lefts and rights):
            continue
        origin = min(lefts[0][1], rights[0][1])
        lefts_at = fields[name].placed(lefts, origin, len(node.left.keys))
        rights_at = fields[name].placed(rights, origin, len(node.right.keys))
        lefts_near += [_chars(fields, o) for o in _close(lefts_at, rights_at, node.distance)]
        rights_near += [_chars(fields, o) for o in _close(rights_at, lefts_at, node.distance)]
    return (lefts_near, rights_near) if lefts_near else None


def _close(these: list[_Placed], others: list[_Placed], distance: int) -> list[Occurrence]:
    """Those of these with one of the others at most distance words apart: one that starts before this
    one's end + distance and ends after its start - distance (a gap is the later one's start minus the
    earlier one's end, plus 1). Both in text order, as placed() gives them: the occurrences of a phrase
    all have its length, so they end in that order too. One walk through both, keeping the furthest
    end among the others that start in time."""
    near, reach, i = [], -math.inf, 0
    for start, end, occurrence in these:
        while i < len(others) and others[i][0] < end + distance:
            if others[i][1] > reach:
                reach = others[i][1]
            i += 1
        if reach > start - distance:
            near.append(occurrence)
    return near


def _is_plain(tree: Node) -> bool:
    return type(tree) is Phrase and tree.field is None and not tree.case


def _phrase_hit(found: list[Occurrence], fields: dict[str, _Field]) -> tuple[str, tuple[Span, ...]] | None:
    """The field and spans of a plain phrase's hit (the body preferred), or None: as _hit() finds."""
    if len(found) == 1:  # most phrases occur once
        name, start, end = found[0]
        return (name, (fields[name].span(start, end),)) if name == "body" or name == "title" else None
    for name in ("body", "title"):
        spans = {fields[name].span(first, last) for field, first, last in found if field == name}
        if spans:
            return name, tuple(sorted(spans))
    return None


def _hit(rule_id: int, found: Found, terms: list[Found]) -> Hit:
    required = tuple(tuple(sorted(set(term))) for term in terms)
    for field in ("body", "title"):
        spans = sorted({(s, e) for name, s, e in found if name == field})
        if spans:
            return Hit(rule_id, field, tuple(spans), required)
    return Hit(rule_id, "title", (), required)
