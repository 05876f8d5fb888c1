"""HTML -> text: the regular expressions read what lxml reads, or leave the markup to it."""

import io
import warnings

import feedparser
import pytest

from bot.feeds.markup import _parsed_text, _simple_text, html_to_text, paragraphs
from tests.test_parse_corpus import CORPUS, feed_files, needs_corpus


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>One &amp; two</p><p>Three<br/>four\nfive</p>", "One & two\nThree\nfour five"),
        ("<P CLASS='lead'>Up</P>Down", "Up\nDown"),
        ("<SCRIPT>a</SCRIPT>One<!--x-->Two<style>b</style> three", "OneTwo three"),
        ('<a href="/x?a=1&amp;b=2" title="a > b">link</a> text', "link text"),  # ">" in a quoted value
        ("Before<script>if (a < b) { x = '</p>' }</script> after", "Before after"),
        ("<style>p { color: red }</style><p>Styled</p>", "Styled"),
        ("A <iframe src='v'><p>fallback</p></iframe>B <svg/>C", "A B C"),
        ("x <!-- <p>a comment</p> --> y", "x y"),
        ("3 < 4 and 5 > 4, &lt;b&gt; is text", "3 < 4 and 5 > 4, <b> is text"),
        ("caf&eacute; &#233;t&#xE9; &nbsp;&nbsp;wide", "café été wide"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("line&#10;break stays a space<br>new line", "line break stays a space\nnew line"),
        ("a \x00 NUL and a lone \ud800 surrogate", "a NUL and a lone surrogate"),
        ("<p>a \x00 NUL</p>", "a NUL"),
    ],
)
def test_markup_becomes_paragraph_lines(markup, text):
    assert html_to_text(markup) == text


@pytest.mark.parametrize(
    "markup",
    [
        "<a title='it's'>quoted badly</a>",  # HTMLParser's tolerance decides
        "<![CDATA[x]]> a declaration",
        "<?php echo 1 ?> a processing instruction",
        "an <unclosed tag",
        "<script>never closed",
        "<svg><svg>a</svg>b</svg>c",  # nested: the first </svg> does not end it
        "x <!-- never closed",
    ],
)
def test_markup_the_expressions_are_not_sure_of_goes_to_lxml(markup):
    assert _simple_text(markup) is None
    assert html_to_text(markup) == paragraphs(_parsed_text(markup))


def corpus_markup() -> list[str]:
    """Every title, summary and content with a tag in it, of every feed in the corpus."""
    found = []
    for path in feed_files(CORPUS / "feedparser-tests") + feed_files(CORPUS / "real-feeds"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = feedparser.parse(io.BytesIO(path.read_bytes()), sanitize_html=False)
        for entry in parsed.entries:
            values = [entry.get("title", ""), entry.get("summary", "")]
            values += [part.get("value", "") for part in entry.get("content", [])]
            found += [value for value in values if "<" in value]
    return found


@needs_corpus
def test_the_expressions_read_the_corpus_as_lxml_does():
    markups = corpus_markup()
    answered = [(m, text) for m in markups if (text := _simple_text(m)) is not None]
    assert len(answered) >= 0.95 * len(markups)  # of about 1,900: the rest go to lxml
    differ = [m[:200] for m, text in answered if paragraphs(text) != paragraphs(_parsed_text(m))]
    assert not differ, differ[:5]


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("Lead. " + "<!-- " * 20_000, "Lead."),  # comments opened, never closed
        ("Lead. " + "<script>x " * 20_000, "Lead."),
        ("Lead. " + "<style>" * 20_000, "Lead."),
        ("Lead. " + '<a href="x ' * 20_000, "Lead."),  # an attribute's quote never closed
        ("<p>Lead.</p>" + "<div>" * 5_000 + "deep", "Lead."),  # nested past libxml2's 2,048
    ],
)
def test_hostile_markup_keeps_the_text_before_it(markup, text):
    assert html_to_text(markup).startswith(text)
