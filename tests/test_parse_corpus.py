"""Every corpus feed parses without an exception; odd encodings and lying headers come out readable."""

import functools
import re
from pathlib import Path

import pytest

from bot.feeds import parse
from bot.feeds.encoding import decode_feed, utf8_beyond_ascii
from bot.feeds.parse import parse_feed

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"  # ../shared beside the checkout
REAL = CORPUS / "real-feeds"
R = "real-feeds/"  # table paths are relative to CORPUS
CHARDET = "feedparser-tests/illformed/chardet/"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no feed corpus at {CORPUS}")

# UTF-8 shown as windows-1252 ("Ã©", "Â ", "â€™") or Cyrillic UTF-8 shown so ("Ð¿Ñ€Ð¸").
MOJIBAKE = re.compile("Ã[\x80-\xbf]|Â[\xa0-\xbf]|â€|Ð[\x80-\xbf]|Ñ[\x80-\x8f]")
NOT_FEEDS = {"SOURCE.md", "MANIFEST.jsonl", "LICENSE", "LICENSES"}  # the corpus's own papers
HEADER_CONTENT_TYPE = re.compile(rb"^Header:\s*Content-type:\s*(.*?)\s*$", re.MULTILINE | re.IGNORECASE)


def feed_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not NOT_FEEDS & {p.name, p.parent.name})


def served_content_type(body: bytes) -> str | None:
    """feedparser's test files name the Content-Type their mock server sent in a "Header:" comment."""
    found = HEADER_CONTENT_TYPE.search(body[:2000])
    return found.group(1).decode() if found else None


@functools.cache
def parsed_file(name: str, content_type: str | None) -> parse.ParsedFeed:
    """A corpus file (path relative to CORPUS) parsed once per content type, shared between tests."""
    return parse_feed((CORPUS / name).read_bytes(), "http://example.test/feed", content_type)


def all_text(parsed: parse.ParsedFeed) -> str:
    return "\n".join([parsed.title] + [f"{a.title}\n{a.text}" for a in parsed.articles])


@needs_corpus
@pytest.mark.parametrize(
    "folder",
    ["feedparser-tests/encoding", "feedparser-tests/entities", "feedparser-tests/illformed"]
    + ["feedparser-tests/wellformed", "feedparser-tests/json", "real-feeds"],
)
def test_every_corpus_file_parses_without_an_exception(folder):
    files = feed_files(CORPUS / folder)
    assert files, f"no feed files in {folder}"
    failures = []
    for path in files:
        try:
            parsed_file(str(path.relative_to(CORPUS)), served_content_type(path.read_bytes()))
        except Exception as error:  # collect them all, then name every file
            failures.append(f"{path.relative_to(CORPUS)}: {type(error).__name__}: {error}")
    assert not failures, "\n".join(failures)


@needs_corpus
def test_every_real_feed_has_articles_without_mojibake_or_replacement_characters():
    broken_xml = {"fastfeedparser/oddity-dylanharris-broken-xml.rss"}  # undeclared rss: prefix, no items
    problems = []
    for path in feed_files(REAL):
        name = str(path.relative_to(REAL))
        parsed = parsed_file(R + name, None)
        text = all_text(parsed)
        if not parsed.articles and name not in broken_xml:
            problems.append(f"{name}: no articles ({parsed.bozo})")
        if "\ufffd" in text or MOJIBAKE.search(text):
            bad = re.search(".{0,30}(\ufffd|" + MOJIBAKE.pattern + ").{0,30}", text)
            problems.append(f"{name}: {bad.group() if bad else ''!r}")
    assert not problems, "\n".join(problems)


# Odd encodings, as served. The manifest records no response headers, so content_type is None.
ODD_ENCODINGS = [
    (R + "rss-parser/qq-news-gb2312.xml", None, "习近平为何如此强调崇尚英雄？"),  # GB2312
    (R + "rss-parser/qq-news-gb2312.xml", None, "新闻国内"),  # the feed title
    (R + "picofeed/xakep-ru-cp1251.rss", None, "Руководители разведки США шутят об убийстве Сноудена"),
    (R + "rss-parser/uol-noticias.rss", None, 'FMI está "perto de acontecer", diz Macri'),  # 8859-1, no decl.
    (R + "rss-parser/jn-pt-ultimas.rss", None, "Reações dos partidos ao veto de Marcelo"),
    (R + "rss-parser/jn-pt-ultimas.rss", None, "Jornal de Notícias - Últimas"),
    (R + "feed-rs/golem-de-iso8859.rdf", None, "Neue Glasfaserförderung mit Schnellkasse"),
    (R + "feed-rs/inovacaotecnologica-iso8859.rss", None, "Revolução nas telas com pontos quânticos"),
    (R + "picofeed/universfreebox-iso8859.rss", None, "Bouygues Télécom devra débourser"),
    (R + "picofeed/allgemeine-zeitung-iso8859.rss", None, "Ursache für Brand in der ehemaligen"),
    (R + "fastfeedparser/oddity-eliot-jones-declares-utf16-is-utf8.rss", None, "Corporación"),  # says UTF-16
    (R + "picofeed/bbc-urdu.atom", None, "BBCUrdu.com | صفحۂ اول"),
    (R + "fastfeedparser/mercopress.rss", None, "President Yamandú Orsi"),  # UTF-8, no declaration
    (R + "fastfeedparser/mercopress.rss", None, "Peru’s Congress ousts interim President José Jerí"),
    (R + "picofeed/nextinpact-full.rss", None, "Noël 2013 : notre sélection des meilleurs cadeaux"),
    (R + "picofeed/dailymail-news.rss", None, "Commons' credit card SUSPENDED over £1,000 expenses bill"),
    (R + "feed-rs/ilmessaggero-mondo.rss", None, "Missili Polonia, cosa è successo?"),
    (R + "netnewswire/medscape-familymedicine.rss", None, "Hernández"),
    (R + "fastfeedparser/elpais-english.rss", None, "EL PAÍS in English"),
]

# The same files behind servers that send a wrong or RFC 3023-strict Content-Type.
LYING_HEADERS = [
    (R + "rss-parser/qq-news-gb2312.xml", "text/xml", "新闻国内"),  # text/xml, no charset: "us-ascii"
    (R + "picofeed/xakep-ru-cp1251.rss", "application/rss+xml; charset=utf-8", "Руководители разведки"),
    (R + "fastfeedparser/elpais-english.rss", "text/html; charset=iso-8859-1", "EL PAÍS in English"),
    (R + "picofeed/bbc-urdu.atom", "text/xml; charset=ISO-8859-1", "BBCUrdu.com | صفحۂ اول"),
    (
        R + "fastfeedparser/oddity-eliot-jones-declares-utf16-is-utf8.rss",
        "application/rss+xml",
        "Corporación",
    ),
    (R + "rss-parser/uol-noticias.rss", "text/xml; charset=utf-8", 'FMI está "perto de acontecer"'),
    (R + "feed-rs/golem-de-iso8859.rdf", "application/octet-stream", "Neue Glasfaserförderung"),
]

# A legacy charset in the header that the body contradicts, and bytes with no label at all: only
# detection (charset-normalizer) can tell these apart.
NEEDS_DETECTION = [
    (R + "rss-parser/qq-news-gb2312.xml", "text/html; charset=iso-8859-1", "习近平为何如此强调崇尚英雄？"),
    (R + "picofeed/xakep-ru-cp1251.rss", "text/xml; charset=ISO-8859-1", "Руководители разведки"),
    (R + "feed-rs/golem-de-iso8859.rdf", "text/html; charset=windows-1251", "Neue Glasfaserförderung"),
    (R + "rss-parser/uol-noticias.rss", "text/html; charset=windows-1251", 'FMI está "perto de acontecer"'),
    (CHARDET + "koi8r.xml", None, "Как пережить новогоднюю ночь"),
    (CHARDET + "shiftjis.xml", None, "DrecomRSSに記事投稿が反映されない"),
    (CHARDET + "euckr.xml", None, "TypeKey 한글닉네임 표시하기"),
    (CHARDET + "eucjp.xml", None, "ゲーム三昧な正月"),
    (CHARDET + "gb2312.xml", None, "不归移民漫画系列：专业工作"),
]


def assert_readable(name: str, content_type: str | None, expected: str) -> None:
    text = all_text(parsed_file(name, content_type))
    assert expected in text, f"{name} served as {content_type!r}: {expected!r} not in {text[:300]!r}"
    assert "\ufffd" not in text and not MOJIBAKE.search(text), name


@needs_corpus
def test_entries_read_without_parsing_are_known_as_parsing_knows_them():
    """A changed feed's new entries are found from the XML alone (parse.raw_entries); wherever that
    answers on a real feed, it must name every entry as parsing does (a relative guid, which parsing
    resolves against the feed's address, differs: the poller then checks and parses it all)."""
    answered = 0
    for path in feed_files(REAL):
        body = path.read_bytes()
        entries = parse.raw_entries(body)
        if entries is not None:
            answered += 1
            parsed = parse_feed(body).articles
            assert sorted(e.identity for e in entries) == sorted(a.identity for a in parsed), path.name
    assert answered >= 35  # of 51: the others (other encodings, odd markup) are parsed whole


@needs_corpus
@pytest.mark.parametrize(("name", "content_type", "expected"), ODD_ENCODINGS + LYING_HEADERS)
def test_odd_encodings_and_lying_headers_come_out_readable(name, content_type, expected):
    assert_readable(name, content_type, expected)


@needs_corpus
@pytest.mark.parametrize(("name", "content_type", "expected"), NEEDS_DETECTION)
def test_detection_reads_what_no_label_or_a_wrong_label_says(name, content_type, expected):
    assert_readable(name, content_type, expected)


def test_decode_order_is_bom_utf8_header_then_declaration():
    russian = "<?xml version='1.0' encoding='windows-1251'?><rss><title>Привет</title></rss>"
    assert decode_feed(russian.encode("cp1251"), None) == russian  # the declaration
    assert decode_feed(russian.encode("cp1251"), "text/xml") == russian  # no charset in the header
    assert decode_feed(russian.encode("cp1251"), "text/xml; charset=utf-8") == russian  # header fails
    koi8 = russian.replace("windows-1251", "koi8-r")
    assert decode_feed(koi8.encode("koi8-r"), 'text/xml; charset="KOI8-R"') == koi8  # header first
    assert decode_feed("<rss>é</rss>".encode("utf-16"), "text/xml; charset=latin-1") == "<rss>é</rss>"
    assert decode_feed("<rss>é</rss>".encode("utf-16-le"), None) == "<rss>é</rss>"  # no BOM: "<" sniffed


def test_utf8_is_believed_over_a_legacy_or_utf16_label():
    body = "<?xml version='1.0' encoding='utf-16'?><rss>Ação – ok</rss>".encode()
    assert decode_feed(body, None) == body.decode()
    assert decode_feed(body, "text/html; charset=iso-8859-1") == body.decode()


def test_a_utf8_body_without_header_or_declaration_keeps_its_accents():
    body = "<rss><channel><title>José Jerí – “ok” &#8217;</title></channel></rss>".encode()
    assert parse_feed(body).title == "José Jerí – “ok” ’"
    assert parse_feed(body, "", "text/xml").title == "José Jerí – “ok” ’"


def test_a_body_that_is_a_file_name_is_not_read_from_disk(tmp_path):
    local = tmp_path / "secret.xml"
    local.write_bytes(b"<rss version='2.0'><channel><title>local file</title></channel></rss>")
    parsed = parse_feed(str(local).encode())
    assert parsed.title == "" and not parsed.is_feed


FEED_OF = "<rss version='2.0'><channel><title>{}</title></channel></rss>"


@pytest.mark.parametrize(
    ("body", "certain"),
    [
        (FEED_OF.format("plain").encode(), False),  # ASCII reads the same under any label
        (("<?xml version='1.0' encoding='iso-8859-1'?>" + FEED_OF.format("é")).encode(), True),
        (FEED_OF.format("é").encode("utf-8-sig"), False),  # a BOM: decode_feed says so itself
        (FEED_OF.format("é").encode("utf-16-le"), False),
        (FEED_OF.format("é").encode("latin-1"), False),
    ],
)
def test_valid_utf8_beyond_ascii_is_read_as_utf8_alone(body, certain):
    assert (utf8_beyond_ascii(body) is not None) == certain
    assert parse_feed(body).title in ("plain", "é")
