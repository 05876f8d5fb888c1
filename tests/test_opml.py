"""OPML in and out: the pure module, then `newsalert opml import|export` as a user runs them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import OpmlError
from bot.opml import parse_opml, write_opml
from tests.conftest import ROOT
from tests.test_cli import newsalert, write_config

DATA = ROOT / "tests" / "data"
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def test_a_miniflux_export_imports_through_its_categories_each_url_once():
    assert parse_opml((DATA / "miniflux-export.opml").read_bytes()) == [
        ("https://world.example.org/rss.xml", "World Desk"),
        ("https://science.example.org/feed/", "Science & Tech"),
        ("https://alliance.example.net/news.atom", "Alliance News"),
    ]


def test_an_rss_to_telegram_bot_export_imports_with_its_names_and_any_xmlurl_spelling():
    assert parse_opml((DATA / "rsstt-export.opml").read_bytes()) == [
        ("https://kyiv.example.com/rss/", "Kyiv Independent"),
        ("https://baltic.example.com/feed.xml", "Baltics"),  # the name the user gave it
        ("https://balkans.example.ru/rss", "Балканы"),
        ("https://untitled.example.com/atom.xml", ""),
    ]


def test_our_export_parses_back_to_the_same_feeds():
    feeds = [("https://a.example/rss", 'A <&> "quoted"'), ("https://b.example/feed?x=1&y=2", "")]
    document = write_opml(feeds, NOW)
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<opml version=\"2.0\">")
    assert b"<dateCreated>Sat, 28 Nov 2026 09:00:00 +0000</dateCreated>" in document
    assert parse_opml(document) == [feeds[0], (feeds[1][0], feeds[1][0])]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "XML error"),
        (b"<html><body>hi</body></html>", "no <opml> element"),
        (b"<opml><body><outline", "XML error"),
    ],
)
def test_what_is_not_opml_is_refused_with_a_sentence(data, problem):
    with pytest.raises(OpmlError, match=problem):
        parse_opml(data)


def test_an_external_entity_is_refused_not_read():
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<opml><body><outline text="&x;" xmlUrl="https://a.example/rss"/></body></opml>'
    )
    with pytest.raises(OpmlError, match="external entity") as caught:
        parse_opml(evil)
    assert "root:" not in str(caught.value)


# --- the command line ------------------------------------------------------------------------------


def _feeds_in(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("select url, name, source from feeds where active order by url").fetchall()


def test_the_operators_import_adds_trusted_feeds_skips_duplicates_and_export_round_trips(tmp_path):
    config = write_config(tmp_path)
    db = tmp_path / "db" / "newsalert.db"
    first = newsalert(
        "opml", "import", str(DATA / "miniflux-export.opml"), "--config", str(config), cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "Added 3 feed(s); 0 were already watched."
    again = newsalert(
        "opml", "import", str(DATA / "rsstt-export.opml"), "--config", str(config), cwd=tmp_path
    )
    assert again.stdout.strip() == "Added 4 feed(s); 0 were already watched."
    same = newsalert(
        "opml", "import", str(DATA / "miniflux-export.opml"), "--config", str(config), cwd=tmp_path
    )
    assert same.stdout.strip() == "Added 0 feed(s); 3 were already watched."
    imported = [row for row in _feeds_in(db) if row[0].startswith("https://")]
    assert len(imported) == 7 and {source for _, _, source in imported} == {"operator"}, "yours: trusted"
    assert ("https://baltic.example.com/feed.xml", "Baltics", "operator") in imported

    exported = newsalert("opml", "export", str(tmp_path / "out.opml"), "--config", str(config), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert exported.stderr.strip() == f"wrote 7 feed(s) to {tmp_path / 'out.opml'}"
    before = _feeds_in(db)
    (tmp_path / "other").mkdir()
    other = write_config(tmp_path / "other")
    back = newsalert("opml", "import", str(tmp_path / "out.opml"), "--config", str(other), cwd=tmp_path)
    assert back.stdout.strip() == "Added 7 feed(s); 0 were already watched."
    restored = _feeds_in(tmp_path / "other" / "db" / "newsalert.db")
    assert restored == [(url, name or url, "operator") for url, name, _ in before]


def test_export_to_standard_output_and_a_long_import_with_progress(tmp_path):
    config = write_config(tmp_path)
    feeds = [(f"https://feeds{i}.example/rss", f"Feed {i}") for i in range(30)]
    local = ("file:///srv/feeds/local.xml", "Local")  # the operator's own: trusted, as in the config file
    many = write_opml([*feeds, local, ("ftp://x.example/feed", "")], NOW)
    (tmp_path / "many.opml").write_bytes(many)
    result = newsalert("opml", "import", str(tmp_path / "many.opml"), "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "Added 31 feed(s); 0 were already watched.\n"
        "Left out 1:\n"
        "  - ftp://x.example/feed: not an http(s) or file address"
    )
    out = newsalert("opml", "export", "--config", str(config), cwd=tmp_path)
    assert sorted(parse_opml(out.stdout.encode())) == sorted([*feeds, local])


def test_import_of_a_file_that_is_not_opml_says_so(tmp_path):
    (tmp_path / "notes.txt").write_text("just some notes")
    result = newsalert(
        "opml", "import", str(tmp_path / "notes.txt"), "--config", str(write_config(tmp_path)), cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"newsalert: cannot import {tmp_path / 'notes.txt'}: this is not an OPML file"
    )
