"""A photo's caption is never an alert's text; galleries and episodes are told by their standfirst."""

import io
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from bot.feeds.captions import is_gallery, opens_with_player, parse_with_captions_apart
from bot.feeds.fastparse import parse_simple
from bot.feeds.markup import html_to_text
from bot.feeds.parse import parse_feed, tamed

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no feed corpus at {CORPUS}")
URL = "http://example.test/feed"
MEDIA_RSS = "http://search.yahoo.com/mrss/"

STANDFIRST = "Ministers agreed a new tariff deal after three days of talks in Geneva."
CAPTION = (
    "Delegates arrive at the conference centre in Geneva on Monday, under heavy rain and tight security."
)
FULL_TEXT = (
    "<p>Trade ministers from twelve countries agreed on Tuesday to cut tariffs on steel.</p>"
    "<p>The deal, reached after three days of talks, takes effect in March and covers most of the trade "
    "between them.</p>"
)
GALLERY = "".join(
    f'<figure><img src="https://img.test/{n}.jpg" alt=""><figcaption>{words} (Image credit: Agency)'
    "</figcaption></figure>"
    for n, words in enumerate(
        [
            "A child dressed as a god of abundance at a fair in La Paz, Bolivia",
            "A squirrel stops a football match in Hull, United Kingdom",
            "A rocket rises through a layer of cloud over Cape Canaveral, Florida",
        ]
    )
)
PLAYER = (
    '<iframe src="https://player.test/episode/9"></iframe>'
    "<p>Have the talks changed anything? Our hosts look behind the week's headlines.</p>"
    "<p>A podcast for curious people, our show delivers fresh perspectives on politics, culture and "
    "business every Friday. Subscribe wherever you get your podcasts.</p>"
)


def feed(*item_parts: str) -> bytes:
    """An RSS 2.0 feed of one item, with the parts given, in that order."""
    item = "".join(item_parts)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Desk</title>'
        f"<item><title>Tariff deal</title><link>https://news.test/a</link>{item}</item></channel></rss>"
    ).encode()


def description(text: str) -> str:
    return f"<description><![CDATA[{text}]]></description>"


def encoded(markup: str) -> str:
    return f"<content:encoded><![CDATA[{markup}]]></content:encoded>"


def media(caption: str, inside: bool = True) -> str:
    described = f'<media:description type="plain">{caption}</media:description>'
    if not inside:
        return described
    return f'<media:content url="https://img.test/1.jpg" medium="image">{described}</media:content>'


@pytest.mark.parametrize(
    ("parts", "text"),
    [
        pytest.param([description(STANDFIRST), media(CAPTION)], STANDFIRST, id="description, then caption"),
        pytest.param([media(CAPTION), description(STANDFIRST)], STANDFIRST, id="caption, then description"),
        pytest.param(
            [description(STANDFIRST), media(CAPTION, inside=False)], STANDFIRST, id="caption in the item"
        ),
        pytest.param(
            [description(STANDFIRST), media(CAPTION), encoded(FULL_TEXT)],
            html_to_text(FULL_TEXT),
            id="full text after the caption",
        ),
        pytest.param(
            [description(STANDFIRST), encoded(FULL_TEXT), media(CAPTION * 3, inside=False)],
            html_to_text(FULL_TEXT),
            id="full text, then a longer caption",
        ),
        pytest.param(
            [description(STANDFIRST), media(CAPTION), encoded(GALLERY)], STANDFIRST, id="gallery of captions"
        ),
        pytest.param([description(STANDFIRST), encoded(PLAYER)], STANDFIRST, id="a player and its promo"),
        pytest.param([media(CAPTION)], CAPTION, id="only a caption: the item is its media"),
        pytest.param([encoded(GALLERY)], html_to_text(GALLERY), id="a gallery without a standfirst"),
    ],
)
@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "feedparser"])
def test_an_item_is_told_by_its_description_or_full_text_never_by_a_caption(parts, text, fast):
    body = feed(*parts)
    assert parse_simple(body, URL, None) is not None  # so the fast path is the one tried
    (article,) = parse_feed(body, URL, fast=fast).articles
    assert article.text == text


def test_a_caption_in_a_feed_feedparser_cannot_read_strictly_is_still_a_caption():
    body = feed(description(STANDFIRST), media(CAPTION)).replace(
        b"<title>Desk</title>", b"<title>Desk &nbsp;</title>"
    )
    assert parse_simple(body, URL, None) is None
    parsed = parse_feed(body, URL)
    assert parsed.bozo  # the strict parser gave up: feedparser's loose one read it
    assert [a.text for a in parsed.articles] == [STANDFIRST]


@pytest.mark.parametrize(
    ("content", "gallery"),
    [
        (GALLERY, True),
        (
            FULL_TEXT + "<figure><img src=x><figcaption>The minister, left, in Geneva</figcaption></figure>",
            False,
        ),
        (FULL_TEXT, False),
        ("<figure><figcaption>A caption never closed, then the end of the content", True),
        ("<figcaption></figcaption>", False),
    ],
)
def test_a_gallery_is_content_whose_figure_captions_hold_half_its_words(content, gallery):
    assert is_gallery(content) == gallery


@pytest.mark.parametrize(
    ("content", "player"),
    [
        (PLAYER, True),
        ('<div class="embed"><audio controls src="https://a.test/1.mp3"></audio></div><p>Notes</p>', True),
        ("<p>The minister spoke on Tuesday.</p><iframe src=x></iframe>", False),
        ("<p>Watch:</p><video src=x></video>", False),
        ("<videos><p>Not a player</p></videos>", False),
        (FULL_TEXT, False),
    ],
)
def test_an_episode_or_video_is_content_that_opens_with_a_player(content, player):
    assert opens_with_player(content) == player


def corpus_files(folder: str) -> list[Path]:
    return sorted(p for p in (CORPUS / folder).rglob("*") if p.is_file())


@needs_corpus
def test_feeds_are_read_as_feedparser_reads_them_except_media_captions():
    differ = []
    for path in corpus_files("real-feeds") + corpus_files("feedparser-tests"):
        try:
            body = tamed(path.read_bytes())
        except Exception:  # refused before any parser sees it
            continue
        headers = {"content-location": URL}
        theirs = feedparser.parse(
            io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
        )
        ours = parse_with_captions_apart(body, URL, None)
        theirs["bozo_exception"] = str(theirs.get("bozo_exception"))
        ours["bozo_exception"] = str(ours.get("bozo_exception"))
        if ours != theirs:
            differ.append(path)
    assert differ and all(MEDIA_RSS.encode() in path.read_bytes() for path in differ), differ


def captions(body: bytes) -> set[str]:
    """Every media:description's text in a feed, as the alert would show it."""
    root = etree.fromstring(body, etree.XMLParser(recover=True, resolve_entities=False))
    found = root.iter(f"{{{MEDIA_RSS}}}description") if root is not None else []
    return {" ".join(html_to_text(el.text or "").split()) for el in found} - {""}


@needs_corpus
def test_no_real_feed_item_is_told_by_its_photo_caption():
    told_by_caption = []
    for path in corpus_files("real-feeds"):
        body = path.read_bytes()
        if MEDIA_RSS.encode() not in body:
            continue
        shown = captions(body)
        told_by_caption += [
            a.title for a in parse_feed(body, URL).articles if " ".join(a.text.split()) in shown
        ]
    assert not told_by_caption
