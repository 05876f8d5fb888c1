"""The rule language and the matcher: table tests per operator and error, and properties."""

from __future__ import annotations

from itertools import groupby

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import QueryError
from bot.rules.index import Document, RuleIndex
from bot.rules.query import (
    COMMON_WORDS,
    And,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Regex,
    format_rule,
    parse_rule,
    phrase,
)
from bot.rules.text import (
    _END_THEN_SPACE,
    _PERIOD_THEN_SPACE,
    BREAK,
    fold,
    keys,
    keys_by_sentence,
    normalize,
    sentence_spans,
    tokenize,
    words,
)

SEED_DOC = Document(
    title="NATO Agrees to Re-engage Russia",
    body=(
        "NATO on Tuesday agreed to resume contacts with Russia.\n"
        "Operational meetings of the NATO\u2013Russia council would resume informally.\n"
        "Germany and France blocked Membership Action Plans, or MAPs, for Ukraine and Georgia.\n"
        "The map of the alliance has not changed under Article 5."
    ),
    feed="World Desk",
    link="https://world.example.org/news/nato-agrees-to-re-engage-russia",
)


def matches(rule: str, doc: Document = SEED_DOC) -> bool:
    return 1 in RuleIndex([(1, parse_rule(rule))]).match(doc)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # plain text is one phrase, folded and stemmed
        ("Membership Action Plan", True),
        ("NATO-Russia Council", True),
        ("nato russia COUNCIL", True),
        ("Action Plan Membership", False),
        # quotes, AND, OR, NOT, -word, parentheses; side by side means AND
        ('"membership action plans"', True),
        ("Georgia AND Ukraine", True),
        ("Georgia Ukraine", False),  # no operator anywhere: one phrase, and it is not there
        ('"Georgia" Ukraine', True),  # with an operator, side by side means AND
        ("Georgia AND Belarus", False),
        ("Belarus OR Georgia", True),
        ("Georgia NOT Ukraine", False),
        ("Georgia -Belarus", True),
        ("(Belarus OR Moldova) Georgia", False),
        ("(Belarus OR Ukraine) -(France OR Italy)", False),
        ("(Belarus OR Ukraine) -(Italy OR Spain)", True),
        # scopes
        ("title:Russia", True),
        ("title:Ukraine", False),
        ('title:"re-engage Russia" -feed:Sport', True),
        ("feed:World Georgia", True),
        ("feed:Sport", False),
        ("link:world.example.org", True),
        ("link:nato-agrees", True),
        ("link:bbc", False),
        ("title:(Belarus OR NATO)", True),
        # proximity: at most n words apart, in either order
        ("Germany NEAR/2 France", True),
        ("France NEAR/2 Germany", True),
        ("Germany NEAR/5 Ukraine", False),
        ('Ukraine NEAR/12 "membership action plan"', True),
        # exact case for acronyms
        ("case:MAP", False),
        ("case:MAPs", True),
        ("case:map", True),
        ("case:NATO", True),
        ("case:Nato", False),
        # RE2 regex
        ("/Art(icle)? 5/", True),
        ("/Article [0-9]{2}/", False),
        ("title:/Re-engage/", True),
    ],
)
def test_every_operator_matches_as_documented(rule, expected):
    assert matches(rule) is expected


def test_accents_dashes_and_inflection_fold_the_same_way_on_both_sides():
    doc = Document("", "Talks at the \u00c9lys\u00e9e on the NATO\u2014Russia Councils' future.")
    assert matches("Elysee", doc) and matches("nato-russia council", doc)
    assert keys("Georgia") == keys("GEORGIA")  # whatever the stemmer does, it does it alike


def test_highlights_are_the_matched_words_in_the_original_text():
    index = RuleIndex([(1, parse_rule('"membership action plan" Ukraine')), (2, parse_rule("title:Russia"))])
    found = index.match(SEED_DOC)
    assert [SEED_DOC.body[s:e] for s, e in found[1].spans] == ["Membership Action Plans", "Ukraine"]
    assert found[2].field == "title" and [SEED_DOC.title[s:e] for s, e in found[2].spans] == ["Russia"]


@pytest.mark.parametrize(
    ("rule", "required"),
    [
        ("NATO", [["NATO", "NATO"]]),  # a phrase: one term, any occurrence will do
        (
            '"Prime Minister" (Japan OR India)',
            [["Prime Minister"], ["India", "Japan's"]],
        ),  # an OR of words: one
        ("NATO NEAR/5 India", [["NATO"], ["India"]]),  # each side where it is near the other
        ("(NATO India) OR Japan", [["Japan's"]]),  # the alternative that holds with the fewest terms
        ("(NATO India) OR (Japan Minister)", [["NATO", "NATO"], ["India"]]),  # the first of those on a tie
        ("NATO -Belarus", [["NATO", "NATO"]]),  # an absent word is no term
        ('title:Summit "Prime Minister"', [["Summit"], ["Prime Minister"]]),  # in whichever field it is
    ],
)
def test_a_hit_lists_the_terms_its_rule_needs(rule, required):
    doc = Document("Summit news", "NATO met. Prime Minister Modi of India met Japan's envoy at NATO.")
    hit = RuleIndex([(1, parse_rule(rule))]).match(doc)[1]
    text = {"title": doc.title, "body": doc.body}
    assert [[text[field][s:e] for field, s, e in term] for term in hit.required] == required


def test_near_highlights_each_side_only_where_the_other_is_close_enough():
    text = (
        "The prime minister said the vote was close. Later the prime minister left, and many hours passed"
        " before anyone asked about a vote."
    )
    found = RuleIndex(
        [
            (1, parse_rule('"prime minister" NEAR/3 vote')),
            (2, parse_rule('"prime minister" NEAR/1 "minister said"')),
        ]
    ).match(Document("", text))
    first, vote = text.index("prime minister"), text.index("vote")
    assert found[1].spans == ((first, first + 14), (vote, vote + 4))
    # overlapping phrases are 0 words apart
    assert [text[s:e] for s, e in found[2].spans] == ["prime minister", "minister said"]


def test_near_over_thousands_of_each_word_finds_the_one_close_pair():
    text = "minister " * 3000 + "and then some more words came along " + "vote " * 3000
    found = RuleIndex(
        [(1, parse_rule("minister NEAR/8 vote")), (2, parse_rule("minister NEAR/7 vote"))]
    ).match(Document("", text))
    assert set(found) == {1}
    last, first = text.rindex("minister"), text.index("vote")
    assert found[1].spans == ((last, last + 8), (first, first + 4))


def test_near_over_thousands_of_close_pairs_highlights_every_one():
    text = "minister vote " * 3000
    found = RuleIndex([(1, parse_rule("minister NEAR/5 vote"))]).match(Document("", text))
    assert found[1].spans == tuple((m.start(), m.end()) for m in words(text))


def test_a_second_copy_of_a_long_entry_without_spaces_is_highlighted_like_the_first():
    index = RuleIndex([(1, parse_rule("vote"))])
    first, second = "vote," * 20_000, "".join(["vote,"] * 20_000)  # equal texts, two strings
    expected = tuple((at, at + 4) for at in range(0, len(first), 5))
    assert index.match(Document("", first))[1].spans == expected
    assert index.match(Document("", second))[1].spans == expected


def test_rules_come_and_go_without_rebuilding():
    index = RuleIndex([(1, parse_rule("Belarus"))])
    index.add(2, parse_rule("Georgia"))
    index.add(3, parse_rule("/Art(icle)? 5/"))
    assert set(index.match(SEED_DOC)) == {2, 3}
    index.remove(2)
    index.remove(3)
    assert index.match(SEED_DOC) == {}
    index.add(2, parse_rule("Ukraine"))
    index.compact()
    assert set(index.match(SEED_DOC)) == {2} and len(index) == 2


def test_a_phrase_two_chats_watch_stays_watched_when_one_drops_it():
    index = RuleIndex([(1, parse_rule("Membership Action Plan")), (2, parse_rule("membership action plans"))])
    index.add(3, parse_rule("Georgia"))
    index.add(3, parse_rule("Georgia"))  # added again (a reload): still one rule
    index.add(4, parse_rule("title:Russia"))
    assert set(index.match(SEED_DOC)) == {1, 2, 3, 4} and len(index) == 4
    index.remove(1)
    index.add(4, parse_rule("Ukraine"))  # rule 4 changed from a field rule to a plain phrase
    assert set(index.match(SEED_DOC)) == {2, 3, 4}
    index.remove(3)
    index.compact()
    assert set(index.match(SEED_DOC)) == {2, 4} and len(index) == 2
    index.add(1, parse_rule("NATO-Russia Council"))
    index.remove(1)
    assert set(index.match(SEED_DOC)) == {2, 4}


@pytest.mark.parametrize(
    ("rule", "reason", "position"),
    [
        ("", "a rule needs at least one word", 0),
        ("  -- !!", "a rule needs at least one word or number, not only punctuation", 2),
        ('NATO "summit', "unclosed quote", 5),
        ("NATO (summit OR talks", "unclosed parenthesis", 5),
        ("NATO summit)", "unexpected ) with no ( before it", 11),
        ("NATO OR", "the rule ends where a word was expected", 7),
        ("AND NATO", "AND needs a word or phrase on both sides", 0),
        ("NATO OR OR EU", "OR needs a word or phrase on both sides", 8),
        ("Ukraine NEAR/x NATO", "NEAR needs a number of words from 1 to 50, like NEAR/5", 8),
        ("Ukraine NEAR/99 NATO", "NEAR needs a number of words from 1 to 50, like NEAR/5", 8),
        ("(a OR b) NEAR/3 c", "NEAR joins two words or quoted phrases", 9),
        ('NATO ""', "these quotes hold no letters or digits to look for", 5),
        ("NATO /(a/", "this regex cannot be used (missing ): (a)", 5),
        ("NATO /(a)\\1/", "this regex cannot be used (invalid escape sequence: \\1)", 5),
        ("NATO /x*/", "this regex matches every story", 5),
        ("NATO /abc", "unclosed regex: end it with /", 5),
        ("case:/x/", "case: needs a word or quoted phrase right after it", 5),
        ("-football", "a rule needs something to look for, not only exclusions (like: NATO -football)", 0),
        ("NOT a OR b", "a rule needs something to look for, not only exclusions (like: NATO -football)", 0),
        ("NATO -NATO", "this rule can never match: it asks for something and excludes it too", 0),
        ("title:feed:x", "feed: inside title: cannot match anything", 6),
        ("US", "too common to watch for: nearly every story has 'US'; for the acronym, write case:US", 0),
        ("the OR title:to", "too common to watch for: nearly every story has 'the to'; add a rarer word", 0),
        ("NATO AND \u037a", "'\u037a' has no letters or digits to look for", 9),
        ("x" * 501, "a rule is at most 500 characters", 500),
        # hostile input: every mistake is a QueryError with a position, nothing else
        ("nato NEAR/\u00b2 russia", "NEAR needs a number of words from 1 to 50, like NEAR/5", 5),
        ("nato NEAR/\u0663 russia", "NEAR needs a number of words from 1 to 50, like NEAR/5", 5),
        ("(" * 240 + "NATO" + ")" * 240, "parentheses nest at most 32 deep", 32),
        ("NATO " + "title:(" * 33 + "x" + ")" * 33, "parentheses nest at most 32 deep", 5 + 32 * 7 + 6),
        ("NATO /\ud800/", "a rule cannot hold U+D800 (a control code or broken text)", 6),
        ("NATO /\udcff/", "a rule cannot hold U+DCFF (a control code or broken text)", 6),
        ("NATO\ud800summit", "a rule cannot hold U+D800 (a control code or broken text)", 4),
        ("NATO \x00summit", "a rule cannot hold U+0000 (a control code or broken text)", 5),
        ("NATO /x\\C/", "this regex cannot be used (\\C matches part of a character; use .)", 5),
        ("NATO /\\p{L}{9}/", "this regex is too large; make it simpler (fewer or shorter repeats)", 5),
        # a regex that nearly every story matches, like the common words
        ("/./", "this regex matches nearly every story; make it more specific", 0),
        ("NATO /[a-z]/", "this regex matches nearly every story; make it more specific", 5),
        ("title:/\\w/", "this regex matches nearly every story; make it more specific", 6),
        ("NATO OR /e/", "this regex matches nearly every story; make it more specific", 8),
        ('"membership action plan" /e/', "this regex matches nearly every story; make it more specific", 25),
    ],
)
def test_unusable_rules_are_refused_with_reason_and_position(rule, reason, position):
    with pytest.raises(QueryError) as caught:
        parse_rule(rule)
    assert (caught.value.reason, caught.value.position) == (reason, position)
    assert str(caught.value) == f"{reason} at {position}"


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("/Art(icle)? 5/", "under Article 5 of the treaty"),
        ("/\\bNATO\\b/", "NATO leaders met"),
        ("/[A-Z]{3}/", "NATO leaders met"),
        ("/\\xff/", "a word with \xff in it"),
        ("/a\\\\C/", "a\\C, a backslash and a C"),
        ("NATO NEAR/50 Russia", "NATO met Russia"),
        ("(" * 32 + "NATO" + ")" * 32, "NATO leaders met"),
        ("NATO\tsummit\n", "the NATO summit"),
    ],
)
def test_narrow_regexes_and_rules_at_the_limits_are_accepted(rule, text):
    assert 1 in RuleIndex([(1, parse_rule(rule))]).match(Document("", text))


def test_regexes_too_many_for_one_set_are_all_found():
    """Each regex fits the matcher; many large ones together take more than one RE2 set."""
    rules = [(i, parse_rule(f"/x{i}\\p{{L}}{{7}}/")) for i in range(60)]
    index = RuleIndex(rules)
    index.add(60, parse_rule("/y\\p{L}{7}/"))
    assert set(index.match(Document("x7Alliance x59Alliance", "yAlliance"))) == {7, 59, 60}


def test_curly_quotes_from_phones_are_quotes():
    assert parse_rule("\u201cNATO summit\u201d -football") == parse_rule('"NATO summit" -football')


def test_trees_print_with_every_operator_explicit():
    tree = parse_rule('title:"Membership Action Plan" -feed:Sport (EU OR NATO) Ukraine NEAR/5 membership')
    assert format_rule(tree) == (
        'title:"Membership Action Plan" AND NOT feed:"Sport" AND ("EU" OR "NATO") '
        'AND ("Ukraine" NEAR/5 "membership")'
    )


# -- properties ------------------------------------------------------------------------------

_letters = st.characters(categories=["Lu", "Ll", "Lo", "Nd"])
_word = st.text(_letters, min_size=1, max_size=8).filter(
    lambda w: w not in ("AND", "OR", "NOT") and w.casefold() not in COMMON_WORDS
)
_text_words = st.lists(st.text(st.characters(codec="utf-8"), max_size=12), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normalization_is_idempotent(text):
    assert fold(fold(text)) == fold(text)
    assert normalize(normalize(text)) == normalize(text)


@settings(max_examples=300, deadline=None)
@given(_text_words, st.lists(_word, min_size=1, max_size=4), st.integers(min_value=0))
def test_any_phrase_inserted_into_any_text_is_found(around, words, where):
    at = where % (len(around) + 1)
    text = " ".join([*around[:at], *words, *around[at:]])
    rule = " ".join(words)
    index = RuleIndex([(1, parse_rule(rule))])
    assert 1 in index.match(Document("", text))
    assert 1 in index.match(Document(text, "")), "and in the title too"


def _leaves() -> st.SearchStrategy[Node]:
    plain = st.builds(
        lambda ws, field, case: phrase(" ".join(ws), field=field, case=case),
        st.lists(_word, min_size=1, max_size=3),
        st.sampled_from([None, "title", "feed", "link"]),
        st.booleans(),
    )
    regex = st.builds(
        Regex, st.sampled_from(["Art(icle)? 5", "NATO\\/EU", "[A-Z]{3}"]), st.sampled_from([None, "title"])
    )
    return st.one_of(plain, regex)


def _trees() -> st.SearchStrategy[Node]:
    def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        phrases = _leaves().filter(lambda n: isinstance(n, Phrase))
        return st.one_of(
            st.builds(lambda c: And(tuple(c)), st.lists(children, min_size=2, max_size=3)),
            st.builds(lambda c: Or(tuple(c)), st.lists(children, min_size=2, max_size=3)),
            st.builds(Not, children),
            st.builds(Near, phrases, phrases, st.integers(1, 50)),
        )

    return st.recursive(_leaves(), extend, max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(_trees())
def test_a_rule_printed_from_its_tree_parses_to_the_same_tree(tree):
    try:
        parsed = parse_rule(format_rule(tree))
    except QueryError as error:  # trees the checks refuse (only exclusions, contradictions, too long)
        assert error.reason.startswith(("a rule needs something", "this rule can never", "a rule is at most"))
        return
    assert parsed == tree


_odd = list("\ud800\udcff\x00\x85\t\u00b2\u0663\u037a\u0301\ufb01\U0001f600")  # broken, control, digit-like
_regex_pieces = [*r". * + ? ( ) [ ] {2} {1000} | ^ $ \ \/ \C \b \w \p{L} \xff (?i) a NATO".split(), *_odd]
_rule_tokens = st.one_of(
    _word,
    st.sampled_from(_odd),
    st.sampled_from('" \u201c \u201d ( ) AND OR NOT - / title: feed: link: case: the US NEAR/'.split()),
    st.builds("NEAR/{}".format, st.one_of(st.integers(-1, 60), st.sampled_from(_odd))),
    st.lists(st.sampled_from(_regex_pieces), max_size=8).map(lambda p: "/" + "".join(p) + "/"),
    st.text(max_size=3),
)
_nested = st.builds(
    lambda depth, open_, inner: open_ * depth + inner + ")" * depth,
    st.integers(0, 120),
    st.sampled_from(["(", "title:(", "-(", "NOT (", "(NOT "]),
    st.sampled_from(["NATO", "x OR y", ""]),
)
_any_text = st.one_of(
    st.text(st.characters(exclude_categories=())),  # surrogates too
    st.lists(_rule_tokens, max_size=40).map(" ".join),
    st.lists(_rule_tokens, max_size=40).map("".join),
    _nested,
)


@settings(max_examples=500, deadline=None)
@given(_any_text)
def test_any_text_is_a_rule_the_matcher_takes_or_a_query_error_saying_where(text):
    try:
        tree = parse_rule(text)
    except QueryError as error:
        assert type(error.position) is int and 0 <= error.position <= len(text)
        return
    index = RuleIndex()
    index.add(1, tree)
    index.match(SEED_DOC)
    index.compact()
    index.match(Document("\u00e9 \U0001f600 NATO", "x"))


_near_text = st.lists(
    st.sampled_from(["minister", "Ministers", "vote", "the", "said.", "Then", "\n"]), max_size=60
)


@settings(max_examples=300, deadline=None)
@given(_near_text, st.integers(1, 12))
def test_near_highlights_each_word_within_n_words_of_the_other_side(text_words, distance):
    text = " ".join(text_words)
    tokens = tokenize(text)
    minister, vote = (
        [i for i, token in enumerate(tokens) if token.key == keys(word)[0]] for word in ("minister", "vote")
    )
    close = {i for i in minister for j in vote if abs(i - j) <= distance}
    close |= {j for j in vote for i in minister if abs(i - j) <= distance}
    found = RuleIndex([(1, parse_rule(f"minister NEAR/{distance} vote"))]).match(Document("", text))
    expected = tuple((tokens[i].start, tokens[i].end) for i in sorted(close))
    assert (found[1].spans if found else ()) == expected


def test_tokens_keep_offsets_into_the_original_text():
    assert [(t.key, t.start, t.end) for t in tokenize("NATO\u2013Russia")] == [
        ("nato", 0, 4),
        ("russia", 5, 11),
    ]
    assert fold("Stra\u00dfe \u00c9LYS\u00c9E") == "strasse elysee"
    assert keys("\u0939\u093f\u0928\u094d\u0926\u0940 news") == keys(
        "\u0939\u093f\u0928\u094d\u0926\u0940 News"
    )
    assert len(tokenize("\u0939\u093f\u0928\u094d\u0926\u0940")) == 1, "combining signs stay inside the word"


def test_a_phrase_does_not_run_across_sentences_or_paragraphs():
    doc = Document("", "It joined NATO. Russia objected.\nApple\nWatch out. The U.S. Army said so.")
    for pending in (False, True):  # the automaton and the side table agree
        index = RuleIndex() if pending else RuleIndex([(1, parse_rule("x"))])
        for rule_id, rule in enumerate(["NATO Russia", "Apple Watch", "U.S. Army"], start=10):
            index.add(rule_id, parse_rule(rule))
        if not pending:
            index.compact()
        assert set(index.match(doc)) == {12}


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        pytest.param(
            "Longtime civil rights leader Rev. Jesse Jackson dies at age 84. And the talks go on.",
            ["Longtime civil rights leader Rev. Jesse Jackson dies at age 84.", "And the talks go on."],
            id="a title before a name",
        ),
        pytest.param(
            "Gen. Smith met Sen. Jones and Dr. Brown in St. Louis. They talked.",
            ["Gen. Smith met Sen. Jones and Dr. Brown in St. Louis.", "They talked."],
            id="ranks, titles and a saint",
        ),
        pytest.param(
            "The U.S. and the U.K. asked the U.N. Security Council to meet. It did.",
            ["The U.S. and the U.K. asked the U.N. Security Council to meet.", "It did."],
            id="dotted initialisms",
        ),
        pytest.param(
            "The vote is on Feb. 17 at No. 10. Sept. 3 was the last one.",
            ["The vote is on Feb. 17 at No. 10.", "Sept. 3 was the last one."],
            id="months and numbers",
        ),
        pytest.param(
            "It invoked Art. 5 of the treaty and Vol. 2 of the report. Allies agreed.",
            ["It invoked Art. 5 of the treaty and Vol. 2 of the report.", "Allies agreed."],
            id="a short capitalised word before a number",
        ),
        pytest.param(
            "It joined NATO. Russia objected. He met Robert F. Kennedy Jr. The talks failed.",
            ["It joined NATO.", "Russia objected.", "He met Robert F. Kennedy Jr.", "The talks failed."],
            id="an acronym or a suffix still ends one",
        ),
        pytest.param(
            "GEN. SMITH SAID SO. THEN HE LEFT.",
            ["GEN. SMITH SAID SO.", "THEN HE LEFT."],
            id="in capitals",
        ),
    ],
)
def test_abbreviations_end_no_sentence(text, sentences):
    """A period after a title, a rank, a month, an initial or a short capitalised word before a number
    belongs to the abbreviation; the matcher breaks where the summarizer does."""
    assert [text[s:e] for s, e in sentence_spans(text)] == sentences
    scanned = [
        list(group) for is_break, group in groupby(keys_by_sentence(text), BREAK.__eq__) if not is_break
    ]
    assert scanned == [list(keys(sentence)) for sentence in sentences]


def test_a_phrase_matches_across_an_abbreviation_but_not_across_a_sentence_end():
    doc = Document("", "Longtime civil rights leader Rev. Jesse Jackson dies at age 84. Jackson said so.")
    index = RuleIndex()
    for rule_id, rule in enumerate(['"Rev. Jesse Jackson"', '"84 Jackson"'], start=1):
        index.add(rule_id, parse_rule(rule))
    assert set(index.match(doc)) == {1}


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8")))
def test_the_scanning_keys_are_the_highlighting_keys(text):
    """The matcher scans keys by sentence and highlights with tokenize(): they must agree."""
    assert [k for k in keys_by_sentence(text) if k != BREAK] == list(keys(text))


_pieces = [
    *["It", "joined", "NATO", "Mr", "Rev", "Feb", "Art", "U", "S", "5", "17"],
    *[".", "!", "?", '"', "'", ")", " ", "  ", "\n", "\xa0"],
]
_sentences = st.lists(st.sampled_from(_pieces)).map("".join)


@settings(max_examples=300, deadline=None)
@given(_sentences)
def test_the_scanning_keys_break_where_sentences_end(text):
    """Matching reads sentence ends a chunk at a time; the summarizer splits with sentence_spans()."""
    groups = groupby(keys_by_sentence(text), BREAK.__eq__)
    scanned = [list(group) for is_break, group in groups if not is_break]
    assert scanned == [list(keys(text[s:e])) for s, e in sentence_spans(text) if keys(text[s:e])]


@settings(max_examples=300, deadline=None)
@given(st.one_of(_sentences, st.lists(st.sampled_from([*_pieces, "Mr.", "..", '."', "sept."])).map("".join)))
def test_the_period_only_split_agrees_where_a_text_has_no_exclamation_or_question_mark(text):
    """chunks() splits a text without "!" and "?" with a faster pattern: it must split the same."""
    text = text.replace("!", ".").replace("?", ".")
    assert _PERIOD_THEN_SPACE.split(text) == _END_THEN_SPACE.split(text)


@given(st.text())
def test_keys_by_the_cached_chunk_path_equal_the_tokens_keys(text):
    assert keys(text) == tuple(token.key for token in tokenize(text))
