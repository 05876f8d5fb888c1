"""The normalizer and the first-cut phrase rules: pure, table-driven."""

import pytest

from bot.errors import QueryError
from bot.rules.index import RuleIndex
from bot.rules.query import parse_rule
from bot.rules.text import fold, keys, tokenize


@pytest.mark.parametrize(
    ("rule", "text", "matches"),
    [
        ("Membership Action Plan", "known as Membership Action Plans, or MAPs", True),
        ("NATO-Russia Council", "the NATO\u2013Russia council met", True),  # en dash, lower case
        ("NATO-Russia Council", "the NATO Russia Council met", True),
        ("NATO-Russia Council", "NATO\u2014Russia Councils", True),  # em dash, plural
        ("Elysee", "talks at the \u00c9lys\u00e9e palace", True),  # accents folded
        ("Russia's", "Russia said", True),  # possessive folded
        ("Membership Action Plan", "an action plan for membership", False),  # order matters
        ("NATO-Russia Council", "NATO and the Russia Council", False),  # a phrase is contiguous
        ("council", "the councillor said", False),
    ],
)
def test_phrase_matching_folds_case_accents_punctuation_and_inflection(rule, text, matches):
    index = RuleIndex([(1, parse_rule(rule))])
    assert (1 in index.match("", text)) is matches


def test_highlight_spans_point_at_the_original_words():
    text = "Talks on Membership Action Plans, or MAPs, stalled."
    hit = RuleIndex([(7, parse_rule("membership action plan"))]).match("", text)[7]
    assert [text[s:e] for s, e in hit.spans] == ["Membership Action Plans"]
    assert hit.field == "body"


def test_a_match_in_the_title_only_is_quoted_from_the_title():
    hit = RuleIndex([(1, parse_rule("re-engage"))]).match("NATO Agrees to Re-engage Russia", "Nothing here.")[
        1
    ]
    assert hit.field == "title"


def test_tokens_keep_offsets_and_fold():
    assert [(t.key, t.start, t.end) for t in tokenize("NATO\u2013Russia")] == [
        ("nato", 0, 4),
        ("russia", 5, 11),
    ]
    assert fold("Stra\u00dfe \u00c9LYS\u00c9E") == "strasse elysee"
    assert keys("Membership Action Plans") == keys("membership action plan")


@pytest.mark.parametrize(
    ("rule", "reason", "position"),
    [
        ("", "a rule needs at least one word", 0),
        ("   ", "a rule needs at least one word", 0),
        ("  -- !!", "a rule needs at least one word or number, not only punctuation", 2),
        ("x" * 501, "a rule is at most 500 characters", 500),
    ],
)
def test_unusable_rules_are_refused_with_reason_and_position(rule, reason, position):
    with pytest.raises(QueryError) as caught:
        parse_rule(rule)
    assert (caught.value.reason, caught.value.position) == (reason, position)
    assert str(caught.value) == f"{reason} at {position}"
