"""Rule text -> syntax tree, or a QueryError with the reason and position. Pure, no I/O.

The language, as people know it from Google and Gmail:
  Membership Action Plan          no operators at all: the whole text is one phrase
  "quoted phrase"  a AND b  a OR b  NOT a  -a  (a OR b) c     side by side means AND
  title:x  feed:Reuters  link:bbc.co.uk                       where to look
  Ukraine NEAR/5 membership                                   at most 5 words apart
  case:MAP                                                    exact case, for acronyms
  /Art(icle)? 5/                                              RE2 regex: linear time

Hostile text is refused like any other mistake: whatever the text, parse_rule returns a tree or
raises a QueryError with a position in it, and RuleIndex takes every tree it returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import re2

from bot.errors import QueryError
from bot.rules.text import DEFAULT_LANGUAGE, word_keys, words

MAX_RULE_LENGTH = 500
MAX_NEAR = 50
MAX_REGEX_SIZE = 10_000  # RE2 instructions: \p{L} is 1,200 of them, \bNATO\b 10
MAX_NESTING = 32  # parentheses; a deeper rule is a mistake or an attack on the parser's stack
FIELDS = ("title", "feed", "link")  # a leaf without a field looks in the title and the body
_QUOTES = '"\u201c\u201d\u201e'  # phones turn " into curly quotes
_FIELD = re.compile(r"(title|feed|link|case):(?=\S)")
_NEAR = re.compile(r"NEAR/(\S*)")
_REGEX = re.compile(r"/((?:\\.|[^\\/])*)/")  # ends at the first / not escaped as \/
# Control characters (but whitespace) and lone surrogates: not text. A surrogate cannot be encoded
# (for RE2, the database or a chat app), PostgreSQL refuses NUL, and the others are invisible.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff]")
RE2_OPTIONS = re2.Options()
RE2_OPTIONS.log_errors = False  # a bad user pattern is our QueryError, not a line on stderr


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]  # as typed, split into words
    keys: tuple[str, ...] = field(repr=False)  # folded and stemmed, what matching compares
    field: str | None = None
    case: bool = False  # case:MAP: these exact words, case and all


@dataclass(frozen=True)
class Regex:
    pattern: str
    field: str | None = None


@dataclass(frozen=True)
class Near:
    left: Phrase
    right: Phrase
    distance: int


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


Node = Phrase | Regex | Near | Not | And | Or


def phrase(text: str, language: str = DEFAULT_LANGUAGE, **options: object) -> Phrase:
    typed = tuple(m.group() for m in words(text))
    found = tuple(key for word in typed for key in word_keys(word, language))
    return Phrase(typed, found, **options)  # type: ignore[arg-type]


def compile_regex(pattern: str, position: int = 0) -> re2._Regexp:
    if _escapes_any_byte(pattern):  # RE2 matches UTF-8 bytes: \C can end a match inside a character
        raise QueryError("this regex cannot be used (\\C matches part of a character; use .)", position)
    try:
        compiled = re2.compile(pattern, options=RE2_OPTIONS)
    except re2.error as error:
        message = error.args[0] if error.args else str(error)
        detail = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
        raise QueryError(f"this regex cannot be used ({detail})", position) from None
    if compiled.programsize > MAX_REGEX_SIZE:
        raise QueryError("this regex is too large; make it simpler (fewer or shorter repeats)", position)
    if compiled.search("") is not None:
        raise QueryError("this regex matches every story", position)
    return compiled


def _escapes_any_byte(pattern: str) -> bool:
    """Whether the pattern has \\C (any byte): a backslash after an even run of backslashes, then C."""
    return any(len(m.group(1)) % 2 == 0 for m in re.finditer(r"(\\*)\\C", pattern))


# -- lexer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # word, quote, regex, field, minus, and, or, not, near, open, close, end
    value: str
    at: int


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append(_Token("open" if c == "(" else "close", c, i))
            i += 1
        elif c in _QUOTES:
            end = next((j for j in range(i + 1, len(text)) if text[j] in _QUOTES), -1)
            if end < 0:
                raise QueryError("unclosed quote", i)
            tokens.append(_Token("quote", text[i + 1 : end], i))
            i = end + 1
        elif c == "/":
            match = _REGEX.match(text, i)
            if not match:
                raise QueryError("unclosed regex: end it with /", i)
            tokens.append(_Token("regex", match.group(1), i))
            i = match.end()
        elif c == "-" and i + 1 < len(text) and not text[i + 1].isspace() and text[i + 1] != "-":
            tokens.append(_Token("minus", c, i))
            i += 1
        elif field := _FIELD.match(text, i):
            tokens.append(_Token("field", field.group(1), i))
            i = field.end()
        else:
            end = i
            while end < len(text) and not text[end].isspace() and text[end] not in "()" + _QUOTES:
                end += 1
            tokens.append(_word_token(text[i:end], i))
            i = end
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _word_token(word: str, at: int) -> _Token:
    if word in ("AND", "OR", "NOT"):
        return _Token(word.lower(), word, at)
    if near := _NEAR.fullmatch(word):
        distance = near.group(1)  # ASCII digits only: "²" and "٣" are digits to str.isdigit() too
        if not (distance.isascii() and distance.isdigit() and 1 <= int(distance) <= MAX_NEAR):
            raise QueryError(f"NEAR needs a number of words from 1 to {MAX_NEAR}, like NEAR/5", at)
        return _Token("near", distance, at)
    return _Token("word", word, at)


# -- parser --------------------------------------------------------------------------------

_STARTS_TERM = {"word", "quote", "regex", "field", "minus", "not", "open"}


class _Parser:
    def __init__(self, tokens: list[_Token], language: str):
        self.tokens = tokens
        self.i = 0
        self.language = language

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.peek().kind == "or":
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while True:
            if self.peek().kind == "and":
                self.take()
            elif self.peek().kind not in _STARTS_TERM:
                break
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self) -> Node:
        if self.peek().kind in ("not", "minus"):
            self.take()
            return Not(self.parse_unary())
        return self.parse_near()

    def parse_near(self) -> Node:
        left = self.parse_primary()
        while self.peek().kind == "near":
            near = self.take()
            right = self.parse_primary()
            if not isinstance(left, Phrase) or not isinstance(right, Phrase):
                raise QueryError("NEAR joins two words or quoted phrases", near.at)
            left = Near(left, right, int(near.value))
        return left

    def parse_primary(self, scope: str | None = None, case: bool = False) -> Node:
        token = self.take()
        if token.kind == "field":
            return self._scoped(token, scope, case)
        if token.kind in ("word", "quote"):
            found = phrase(token.value, self.language, field=scope, case=case)
            if not found.keys:
                what = "these quotes hold" if token.kind == "quote" else f"{token.value!r} has"
                raise QueryError(f"{what} no letters or digits to look for", token.at)
            return found
        if token.kind == "regex" and not case:
            if _matches_most_stories(compile_regex(token.value, token.at)):
                raise QueryError("this regex matches nearly every story; make it more specific", token.at)
            return Regex(token.value, scope)
        if token.kind == "open" and not case:
            inner = self.parse_or()
            if self.take().kind != "close":
                raise QueryError("unclosed parenthesis", token.at)
            return _scope(inner, scope) if scope else inner
        raise _unexpected(token, case)

    def _scoped(self, token: _Token, scope: str | None, case: bool) -> Node:
        if token.value == "case":
            return self.parse_primary(scope, case=True)
        if scope and scope != token.value:
            raise QueryError(f"{token.value}: inside {scope}: cannot match anything", token.at)
        return self.parse_primary(token.value, case)


def _unexpected(token: _Token, case: bool) -> QueryError:
    if case:
        return QueryError("case: needs a word or quoted phrase right after it", token.at)
    if token.kind == "end":
        return QueryError("the rule ends where a word was expected", token.at)
    if token.kind == "close":
        return QueryError("unexpected ) with no ( before it", token.at)
    if token.kind in ("and", "or", "near"):
        return QueryError(f"{token.value} needs a word or phrase on both sides", token.at)
    return QueryError(f"unexpected {token.value!r}", token.at)


def _scope(node: Node, scope: str) -> Node:
    """Apply a field to every leaf inside a group that has none of its own."""
    if isinstance(node, Phrase | Regex):
        return node if node.field else replace(node, field=scope)
    if isinstance(node, Near):
        return Near(_scope(node.left, scope), _scope(node.right, scope), node.distance)  # type: ignore[arg-type]
    if isinstance(node, Not):
        return Not(_scope(node.child, scope))
    return type(node)(tuple(_scope(child, scope) for child in node.children))


# -- checks and printing ----------------------------------------------------------------------


def has_positive(node: Node) -> bool:
    """Does every way of matching need something present (not only something absent)?"""
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(has_positive(child) for child in node.children)
    if isinstance(node, Or):
        return all(has_positive(child) for child in node.children)
    return True


COMMON_WORDS = frozenset(
    "a an the and or but not of to in on at by for from with as is are was were be been it its this that"
    " these those he she they we you i his her their our us said says will would has have had do does".split()
)


# Ordinary news, in the many shapes a story takes: a regex that finds something in most of these
# finds it in nearly every story, and would alert on all of them.
NEWS_SAMPLE = (
    "The city council voted on Tuesday to raise parking fees for the first time in a decade.",
    "Heavy rain flooded several roads overnight, and officials urged drivers to stay home.",
    "Shares fell sharply after the company cut its profit forecast for the year.",
    "A spokesman for the ministry declined to comment on the report.",
    "Firefighters brought the blaze under control shortly before midnight.",
    "The central bank kept interest rates unchanged, citing slowing inflation.",
    "Two people were taken to hospital with minor injuries after the crash.",
    "Negotiators said talks would resume next week in Geneva.",
    "Our reporter spent three days with farmers struggling through the drought.",
    "Tickets for the final sold out within an hour of going on sale.",
    "Scientists found traces of water ice in a crater near the moon's south pole.",
    "Police are appealing for witnesses to come forward.",
    "The museum will reopen in spring after a two-year renovation.",
    "Voters head to the polls on Sunday in a closely watched election.",
    "Hospitals warned of long waits as flu cases rose for a fourth week.",
    "Unemployment dipped to 4.1% in March, the lowest level since 2019.",
    "The striker scored twice as the visitors won 3-1.",
    "Why are so many young people leaving small towns?",
    "Residents say the new bridge has cut their commute by half.",
    "Prosecutors dropped all charges against the former mayor on Friday.",
    "A new study links poor sleep to a higher risk of heart disease.",
    "Thousands marched through the capital demanding higher wages.",
    "The airline cancelled dozens of flights because of a strike by pilots.",
    "Lawmakers approved the budget by a narrow margin late on Thursday.",
    "Wildfires have burned more than 10,000 hectares of forest this summer.",
    "The singer announced a world tour starting in October.",
    "Engineers are still trying to work out what caused the outage.",
    "Schools will stay closed until the storm passes, the governor said.",
    "Oil prices climbed after producers agreed to cut output.",
    "Rescuers pulled a dog alive from the rubble on Monday.",
)


def _matches_most_stories(compiled: re2._Regexp) -> bool:
    """Does the regex find something in more than half of the sample of ordinary news?"""
    return sum(compiled.search(sentence) is not None for sentence in NEWS_SAMPLE) * 2 > len(NEWS_SAMPLE)


def _wanted_phrases(node: Node) -> list[Phrase | Regex]:
    if isinstance(node, Phrase | Regex):
        return [node]
    if isinstance(node, Near):
        return [node.left, node.right]
    if isinstance(node, And | Or):
        return [leaf for child in node.children for leaf in _wanted_phrases(child)]
    return []  # Not


def _only_common_words(node: Node) -> bool:
    """Every word the rule asks for is one nearly every English story has ("the", "us")."""
    wanted = _wanted_phrases(node)
    return bool(wanted) and all(
        isinstance(p, Phrase) and not p.case and p.field != "feed" and p.field != "link"
        and all(w.casefold() in COMMON_WORDS for w in p.words)
        for p in wanted
    )  # fmt: skip


def _contradicts(node: Node) -> bool:
    if isinstance(node, Not):
        return _contradicts(node.child)
    if isinstance(node, Near):
        return False
    if isinstance(node, Or):
        return all(_contradicts(child) for child in node.children)
    if isinstance(node, And):
        present = set(node.children)
        return any(isinstance(c, Not) and c.child in present for c in node.children) or any(
            _contradicts(c) for c in node.children
        )
    return False


def parse_rule(text: str, language: str = DEFAULT_LANGUAGE) -> Node:
    """The rule's syntax tree; a QueryError says why and where when it cannot be used."""
    if len(text) > MAX_RULE_LENGTH:
        raise QueryError(f"a rule is at most {MAX_RULE_LENGTH} characters", MAX_RULE_LENGTH)
    if not text.strip():
        raise QueryError("a rule needs at least one word", 0)
    if bad := _NOT_TEXT.search(text):
        code = f"U+{ord(bad.group()):04X}"
        raise QueryError(f"a rule cannot hold {code} (a control code or broken text)", bad.start())
    tokens = _lex(text)
    _check_nesting(tokens)
    if all(t.kind in ("word", "end") for t in tokens):  # no operators: one phrase, as typed
        tree: Node = phrase(text, language)
        if not tree.keys:
            start = len(text) - len(text.lstrip())
            raise QueryError("a rule needs at least one word or number, not only punctuation", start)
    else:
        parser = _Parser(tokens, language)
        tree = parser.parse_or()
        if parser.peek().kind != "end":
            raise _unexpected(parser.peek(), case=False)
    _check(tree, language)
    return tree


def _check_nesting(tokens: list[_Token]) -> None:
    """Refuse parentheses nested deeper than MAX_NESTING, at the first opening too deep; the parser
    finds unbalanced ones."""
    depth = 0
    for token in tokens:
        depth += (token.kind == "open") - (token.kind == "close")
        if depth > MAX_NESTING:
            raise QueryError(f"parentheses nest at most {MAX_NESTING} deep", token.at)


def _check(tree: Node, language: str) -> None:
    """Refuse what parses but cannot serve as a watch rule."""
    if not has_positive(tree):
        raise QueryError("a rule needs something to look for, not only exclusions (like: NATO -football)", 0)
    if _contradicts(tree):
        raise QueryError("this rule can never match: it asks for something and excludes it too", 0)
    if language == DEFAULT_LANGUAGE and _only_common_words(tree):
        typed = " ".join(w for leaf in _wanted_phrases(tree) if isinstance(leaf, Phrase) for w in leaf.words)
        hint = f"; for the acronym, write case:{typed}" if typed.isupper() else "; add a rarer word"
        raise QueryError(f"too common to watch for: nearly every story has {typed!r}{hint}", 0)


def format_rule(node: Node) -> str:
    """The tree as rule text, with every operator explicit; parses back to the same tree."""
    if isinstance(node, Phrase):
        prefix = (f"{node.field}:" if node.field else "") + ("case:" if node.case else "")
        return f'{prefix}"{" ".join(node.words)}"'
    if isinstance(node, Regex):
        return (f"{node.field}:" if node.field else "") + f"/{node.pattern}/"
    if isinstance(node, Near):
        return f"{format_rule(node.left)} NEAR/{node.distance} {format_rule(node.right)}"
    if isinstance(node, Not):
        return f"NOT {_grouped(node.child)}"
    joiner = " AND " if isinstance(node, And) else " OR "
    return joiner.join(_grouped(child) for child in node.children)


def _grouped(node: Node) -> str:
    return f"({format_rule(node)})" if isinstance(node, And | Or | Near) else format_rule(node)
