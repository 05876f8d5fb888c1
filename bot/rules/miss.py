"""Why a rule did not match a document: the nearest missing term(s). Pure, no I/O.

For `"Prime Minister" (Japan OR India)` on a story about the UK's Prime Minister, what is missing is
`Japan OR India`; for `Tokyo NEAR/10 summit` on a story with both words 23 words apart, the gap. Whether
each part of the rule holds is decided by RuleIndex itself, so this never disagrees with matching; the
gap of a NEAR is counted as RuleIndex counts it (tests/test_why.py holds the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.rules.index import Document, RuleIndex, leaves
from bot.rules.query import And, Near, Node, Not, Or, Phrase, Regex, format_rule, phrase
from bot.rules.text import DEFAULT_LANGUAGE, keys


@dataclass(frozen=True)
class Missing:
    """A term the document lacks (`Japan OR India` when either would do)."""

    term: str  # as format_rule writes it
    note: str = ""  # what is there instead: "it is there, but not in the title", "only "Prime" is there"


@dataclass(frozen=True)
class TooFar:
    """Both sides of a NEAR are there, but further apart than it allows."""

    left: str
    right: str
    distance: int  # what the rule allows
    apart: int | None  # the closest they come, in words; None: never in the same field


@dataclass(frozen=True)
class Excluded:
    """The document has what the rule excludes."""

    term: str


Reason = Missing | TooFar | Excluded


def nearest_miss(tree: Node, doc: Document, language: str = DEFAULT_LANGUAGE) -> tuple[Reason, ...]:
    """What stands between the rule and a match on doc, the fewest changes first; () when it matches."""
    return _Misses(tree, doc, language).of(tree)


class _Misses:
    def __init__(self, tree: Node, doc: Document, language: str):
        self.doc, self.language = doc, language
        # every part decided at once: each leaf, each NEAR, and each leaf loosened (any case, any field)
        parts = [*leaves(tree), *_nears(tree)]
        parts += [loose for leaf in leaves(tree) for loose, _ in _loosened(leaf)]
        parts += [word for leaf in leaves(tree) for word in self._words(leaf)]
        self.parts = list(dict.fromkeys(parts))
        held = RuleIndex(enumerate(self.parts), language).match(doc)
        self.held = {self.parts[i] for i in held}

    def of(self, node: Node) -> tuple[Reason, ...]:
        if isinstance(node, Phrase | Regex):
            return () if node in self.held else (self._missing(node),)
        if isinstance(node, Near):
            return () if node in self.held else self._near(node)
        if isinstance(node, Not):
            return (Excluded(format_rule(node.child)),) if not self.of(node.child) else ()
        found = [self.of(child) for child in node.children]
        if isinstance(node, And):
            return tuple(reason for reasons in found for reason in reasons)
        if any(not reasons for reasons in found):  # Or: one alternative holds
            return ()
        if all(len(r) == 1 and isinstance(r[0], Missing) and not r[0].note for r in found):
            terms = dict.fromkeys(r[0].term for r in found)  # each would do: one term, "Japan OR India"
            return (Missing(" OR ".join(terms)),)
        return min(found, key=len)

    def _missing(self, leaf: Phrase | Regex) -> Missing:
        notes = [note for loose, note in _loosened(leaf) if loose in self.held]
        words = self._words(leaf)
        there = [f'"{word.words[0]}"' for word in words if word in self.held]
        if not notes and len(there) == len(words) > 0:
            notes = ["its words are there, but not together"]
        elif not notes and there:
            notes = [f"only {', '.join(there)} {'is' if len(there) == 1 else 'are'} there"]
        return Missing(format_rule(leaf), notes[0] if notes else "")

    def _words(self, leaf: Phrase | Regex) -> list[Phrase]:
        """Each word of a phrase of several, as a phrase of its own: which of them are there."""
        if not isinstance(leaf, Phrase) or len(leaf.words) < 2:
            return []
        return [phrase(word, self.language, field=leaf.field, case=leaf.case) for word in leaf.words]

    def _near(self, node: Near) -> tuple[Reason, ...]:
        sides = self.of(node.left) + self.of(node.right)
        if sides:
            return sides
        left, right = format_rule(node.left), format_rule(node.right)
        return (TooFar(left, right, node.distance, self._apart(node)),)

    def _apart(self, node: Near) -> int | None:
        """The fewest words between the two sides in one field (1 for neighbours), as NEAR counts."""
        fields = {"title": self.doc.title, "body": self.doc.body}
        if node.left.field == node.right.field and node.left.field in ("title", "feed", "link"):
            fields = {node.left.field: getattr(self.doc, node.left.field)}
        gaps = [
            _gap(a, b)
            for text in fields.values()
            for words in [keys(text, self.language)]
            for a in _places(words, node.left.keys)
            for b in _places(words, node.right.keys)
        ]
        return min(gaps, default=None)


def _nears(node: Node) -> list[Near]:
    if isinstance(node, Near):
        return [node]
    if isinstance(node, Not):
        return _nears(node.child)
    if isinstance(node, And | Or):
        return [near for child in node.children for near in _nears(child)]
    return []


def _loosened(leaf: Phrase | Regex) -> list[tuple[Phrase | Regex, str]]:
    """The leaf in any case, and in the body too, each with what it says when only it is there."""
    found: list[tuple[Phrase | Regex, str]] = []
    if isinstance(leaf, Phrase) and leaf.case:
        found.append((replace(leaf, case=False), "it is there, but not in that case"))
    if leaf.field == "title":
        found.append((replace(leaf, field=None), "it is there, but not in the title"))
    return found


def _places(words: tuple[str, ...], wanted: tuple[str, ...]) -> list[tuple[int, int]]:
    """Where the wanted keys stand in a row among words: [start, end) in words."""
    n = len(wanted)
    return [(i, i + n) for i in range(len(words) - n + 1) if words[i : i + n] == wanted]


def _gap(a: tuple[int, int], b: tuple[int, int]) -> int:
    """Words from one to the other as NEAR counts them: 1 for neighbours, 0 when they overlap."""
    first, second = sorted((a, b))
    return max(second[0] - first[1] + 1, 0)
