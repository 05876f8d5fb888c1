"""The "why" of an alert: the quote of the passage that matched, on sentences written here."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import Article, Quote, Rule
from bot.pipeline import Matcher, prepare_story
from bot.rules.index import Document
from bot.summary import quote_match, summarize
from bot.summary.lead import QUOTE_MAX_WORDS
from bot.summary.quotation import is_balanced


def why(rule: str, body: str, title: str = "A headline about something else") -> Quote:
    matcher = Matcher()
    matcher.sync([Rule(1, 1, rule)])
    (alert,) = matcher.alerts(Document(title, body))
    return alert.matches[0].quote


def bold(quote: Quote) -> list[str]:
    return [quote.text[start:end] for start, end in quote.spans]


# -- every term the rule needs ------------------------------------------------------------------

PM = '"Prime Minister" (Japan OR India OR Pakistan)'


def test_an_and_rule_quotes_the_sentence_that_holds_all_its_terms_not_the_first_with_one():
    body = (
        "The prime minister spoke to reporters on Monday about the budget.\n"
        "Markets rose slightly after the announcement.\n"
        "Later, the prime minister flew to India for two days of talks on trade."
    )
    quote = why(PM, body)
    assert quote.text == "Later, the prime minister flew to India for two days of talks on trade."
    assert bold(quote) == ["prime minister", "India"]


def test_two_sentences_in_a_row_are_quoted_when_no_one_sentence_holds_every_term():
    body = (
        "Weather was mild. Prime Minister Ishiba spoke first. He said Japan would raise its defence budget."
    )
    quote = why(PM, body)
    assert quote.text == "Prime Minister Ishiba spoke first. He said Japan would raise its defence budget."
    assert bold(quote) == ["Prime Minister", "Japan"]


def test_the_shortest_passage_wins_and_one_sentence_beats_two():
    body = (
        "Prime Minister Sharif met them. Pakistan agreed.\n"
        "In a long speech, the Prime Minister of the country, Sharif, praised the people of Pakistan.\n"
        "Pakistan's Prime Minister left."
    )
    assert why(PM, body).text == "Pakistan's Prime Minister left."


def test_terms_too_far_apart_are_shown_as_one_excerpt_each_joined_by_an_ellipsis():
    body = (
        "The Prime Minister opened the session with a long speech about taxes and schools.\n"
        "Nobody in the chamber expected what happened next, and the debate ran late into the night.\n"
        "Officials later confirmed that a delegation from India would arrive in the spring."
    )
    quote = why(PM, body)
    first, second = quote.text.split(" \u2026 ")
    assert "Prime Minister" in first and "India" in second
    assert bold(quote) == ["Prime Minister", "India"]
    assert len(quote.text.split()) <= QUOTE_MAX_WORDS + 2  # the words, and the ellipses between and after


def test_a_term_only_in_the_title_is_quoted_from_the_title():
    title = "Japan's prime minister calls a snap election"
    body = "Japanese Prime Minister Sanae Takaichi will dissolve the lower house on Friday."  # no "Japan"
    quote = why(PM, body, title)
    assert quote.text == title
    assert bold(quote) == ["Japan's", "prime minister"]


def test_terms_split_between_title_and_body_are_both_shown():
    title = "What India wants from the summit"
    body = "The prime minister will arrive on Thursday for two days of meetings."
    quote = why(PM, body, title)
    assert bold(quote) == ["prime minister", "India"]
    assert quote.text == f"{body} \u2026 {title}"


def test_near_shows_both_words_even_across_a_sentence_end():
    body = "Spies are busy. What is Russia doing? Since invading Ukraine in 2022, it has stepped up sabotage."
    quote = why("Ukraine NEAR/10 Russia", body)
    assert bold(quote) == ["Russia", "Ukraine"]
    assert quote.text.startswith("What is Russia doing? Since invading Ukraine")


def test_a_plain_phrase_still_quotes_its_busiest_sentence():
    body = "NATO met. Allies said NATO would grow and NATO would spend more. Others disagreed."
    quote = why("NATO", body)
    assert quote.text == "Allies said NATO would grow and NATO would spend more."
    assert bold(quote) == ["NATO", "NATO"]


def test_a_long_passage_is_trimmed_around_its_terms():
    filler = " ".join(f"word{i}" for i in range(30))
    body = f"{filler} the Prime Minister of Japan said nothing new {filler}."
    quote = why(PM, body)
    assert quote.text.startswith("\u2026") and quote.text.endswith("\u2026")
    assert bold(quote) == ["Prime Minister", "Japan"]
    assert len(quote.text.split()) <= QUOTE_MAX_WORDS


def test_the_quote_reads_the_cleaned_body_and_keeps_the_words_that_matched():
    text = (
        "Sign up for our Greenland newsletter\n"
        "Science in the Arctic \u2014 and Greenland \u2014 is on the frontline of climate change."
    )
    article = Article("Arctic science under pressure", "https://example.org/a", None, text, None, "h")
    matcher = Matcher()
    matcher.sync([Rule(1, 1, "Greenland")])
    story = prepare_story(article, "Example", matcher, 60, may_alert=True)
    quote = story.alerts[0].matches[0].quote
    assert (
        quote.text
        == "Science in the Arctic \u2014 and Greenland \u2014 is on the frontline of climate change."
    )
    assert bold(quote) == ["Greenland"]
    assert story.summary == quote.text  # the aside that holds the matched word stays in the summary too


def test_the_summary_keeps_every_word_a_near_rule_needed():
    text = (
        "The envoys will juggle two sets of talks \u2013 the nuclear standoff and Russia\u2019s war in"
        " Ukraine - in a single day in Geneva.\nOther diplomats (two of them former envoys) doubt that both"
        " talks can succeed at once."
    )
    article = Article("Two crises, one day", "https://example.org/b", None, text, None, "h")
    matcher = Matcher()
    matcher.sync([Rule(1, 1, "Ukraine NEAR/10 Russia")])
    story = prepare_story(article, "Example", matcher, 60, may_alert=True)
    assert "Russia\u2019s war in Ukraine" in story.summary
    assert "Other diplomats doubt that both talks" in story.summary  # an aside without one still goes


# -- quotation marks ----------------------------------------------------------------------------


def test_a_quotation_that_closes_in_the_next_sentence_is_quoted_to_its_end():
    body = "\u201cWe will talk to NATO. We have no choice,\u201d she said. Then she left for the airport."
    quote = why("NATO", body)
    assert quote.text == "\u201cWe will talk to NATO. We have no choice,\u201d\u2026"


def test_a_quotation_that_closes_too_far_away_is_cut_before_it_opens():
    speech = " ".join(["and we will keep talking"] * 8)
    body = f"Greenland is not for sale, the minister said on Monday, adding: \u201cWe decide {speech}.\u201d"
    quote = why("Greenland", body)
    assert quote.text == "Greenland is not for sale, the minister said on Monday, adding:\u2026"
    assert is_balanced(quote.text)


def test_a_quotation_closed_after_the_matched_words_is_cut_there():
    speech = " ".join(["we stand together"] * 8)
    said = "We do not believe in tariffs and protectionism."
    body = f"The chancellor said: \u201c{speech}. {said}\u201d Then she left."
    quote = why("tariffs", body)
    assert quote.text == "We do not believe in tariffs and protectionism."
    assert is_balanced(quote.text)


def test_the_words_inside_a_quotation_are_kept_when_its_opening_mark_is_cut():
    speech = " ".join(["it is ours"] * 10)
    body = f"Leaders said \u201cit is for Denmark and Greenland, {speech}\u201d and left."
    quote = why("Greenland", body)
    assert "Greenland" in bold(quote) and is_balanced(quote.text)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # straight marks: one after a space opens, one after a word closes
        ('He said "NATO will pay" and left.', 'He said "NATO will pay" and left.'),
        ('NATO will pay," he said, "and soon.', "NATO will pay,\u2026"),
        # guillemets pair like curly marks
        ("Il a dit \u00able NATO paiera\u00bb hier.", "Il a dit \u00able NATO paiera\u00bb hier."),
        ("Selon lui, le NATO paiera\u00bb hier.", "Selon lui, le NATO paiera\u2026"),
        # a mark apart from every word pairs with none: the quote stops before it
        ('NATO will pay, the release said. " Officials agreed.', "NATO will pay, the release said.\u2026"),
        # a quotation opened inside an open one is not shown half
        ("\u201cWe told NATO \u201cno\u201d, she said.", "We told NATO \u201cno\u201d, she said."),
    ],
)
def test_straight_and_angle_quotation_marks_pair_too(body, expected):
    quote = why("NATO", body)
    assert quote.text == expected
    assert is_balanced(quote.text)


@pytest.mark.parametrize(
    "body",
    [
        "She would not join NATO's \u201cBoard of Peace.\"",  # typists mix kinds
        "Er nannte die NATO \u201eobsolet\u201c, sagte sie.",  # German marks
        'He said"NATO will pay" and left.',  # a straight mark glued inside a word
    ],
)
def test_quotes_pair_quotation_marks_as_summaries_do(body):
    """One rule (bot/summary/quotation.py) for both: what a summary shows whole, a quote does too."""
    assert why("NATO", body).text == body == summarize(body)


# -- properties ---------------------------------------------------------------------------------

_MARK_SETS = {
    "straight": ['"'],
    "curly": ["\u201c", "\u201d"],
    "angle": ["\u00ab", "\u00bb"],
    "mixed": ['"', "\u201c", "\u201d", "\u201e", "\u00ab", "\u00bb"],
}
_PIECES = ["NATO", "Japan", "said", " ", "  ", "\n", ".", ". ", "? ", "\u2019", ",", "(", ")", "\u2014",
           "Mr.", "A", "x"]  # fmt: skip


@st.composite
def _text_and_spans(draw: st.DrawFn) -> tuple[str, str, tuple[tuple[int, int], ...], list | None]:
    marks = draw(st.sampled_from(sorted(_MARK_SETS)))
    pieces = st.sampled_from(_PIECES + _MARK_SETS[marks])
    text = "".join(draw(st.lists(st.one_of(pieces, st.text(max_size=5)), max_size=60)))
    offsets = st.integers(0, len(text))
    spans = draw(st.lists(st.tuples(offsets, offsets).map(sorted).map(tuple), max_size=6))
    terms = [spans[i::2] for i in range(2)] if len(spans) >= 2 and draw(st.booleans()) else None
    return marks, text, tuple(spans), terms  # type: ignore[return-value]


def _pairs_one_level(text: str, opening: str, closing: str) -> bool:
    """Every closing mark closes an opening one before it, no quotation opens inside an open one, and
    none is left open: counted here, apart from the rule in quotation.py."""
    depth = 0
    for char in text:
        depth += (char == opening) - (char == closing)
        if depth not in (0, 1):
            return False
    return depth == 0


@settings(max_examples=1500, deadline=None)
@given(_text_and_spans())
def test_no_quote_has_an_unbalanced_quotation_mark_and_every_highlight_is_in_it(case):
    marks, text, spans, terms = case
    quote = quote_match(text, spans, terms=terms)
    assert is_balanced(quote.text), quote.text
    if set(_MARK_SETS["mixed"]) & set(text) <= set(_MARK_SETS[marks]):  # one kind of marks only
        if marks == "straight":
            assert quote.text.count('"') % 2 == 0, quote.text
        elif marks != "mixed":
            assert _pairs_one_level(quote.text, *_MARK_SETS[marks]), quote.text
    for start, end in quote.spans:
        assert 0 <= start < end <= len(quote.text)
        assert quote.text[start:end] in text.replace("\n", " ")


_words = st.sampled_from(
    ["Prime", "Minister", "Japan", "India", "said", "the", "talks", "\u201cWe", "go.\u201d", "Mr."]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_words, min_size=1, max_size=12).map(" ".join), min_size=1, max_size=6))
def test_an_and_rule_quote_shows_every_term_highlighted(sentences):
    body = ". ".join(sentences) + "."
    matcher = Matcher()
    matcher.sync([Rule(1, 1, PM)])
    alerts = matcher.alerts(Document("", body))
    if not alerts:
        return
    quote = alerts[0].matches[0].quote
    shown = " ".join(bold(quote)).lower()
    assert "prime minister" in shown or ("prime" in shown and "minister" in shown)
    assert "japan" in shown or "india" in shown
    assert is_balanced(quote.text)


@pytest.mark.parametrize("rule", ["Ukraine NEAR/10 Russia", "Ukraine AND Russia", "Ukraine Russia -Belarus"])
def test_both_words_show_whatever_the_operator(rule):
    body = "Russia moved troops overnight. Officials said Ukraine was ready."
    assert bold(why(rule, body)) == ["Russia", "Ukraine"]
