"""HTML -> text: the regular expressions read what HTMLParser reads, or leave the markup to it."""

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
        ('<a href="/x?a=1&amp;b=2" title="a > b">link</a> text', "link text"),  # ">" in a quoted value
        ("Before<script>if (a < b) { x = '</p>' }</script> after", "Before after"),
        ("<style>p { color: red }</style><p>Styled</p>", "Styled"),
        ("A <iframe src='v'><p>fallback</p></iframe>B <svg/>C", "A B C"),
        ("x <!-- <p>a comment</p> --> y", "x y"),
        ("3 < 4 and 5 > 4, &lt;b&gt; is text", "3 < 4 and 5 > 4, <b> is text"),
        ("caf&eacute; &#233;t&#xE9; &nbsp;&nbsp;wide", "café été wide"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("line&#10;break stays a space<br>new line", "line break stays a space\nnew line"),
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
        "a \x00 NUL",
    ],
)
def test_markup_the_expressions_are_not_sure_of_goes_to_htmlparser(markup):
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
def test_the_expressions_read_the_corpus_as_htmlparser_does():
    markups = corpus_markup()
    answered = [(m, text) for m in markups if (text := _simple_text(m)) is not None]
    assert len(answered) >= 0.95 * len(markups)  # of about 1,900: the rest go to HTMLParser
    differ = [m[:200] for m, text in answered if paragraphs(text) != paragraphs(_parsed_text(m))]
    assert not differ, differ[:5]
