"""Rendering an alert, pure: the console's lines, and the clip every chat shortens feed text with."""

from datetime import UTC, datetime

import pytest
import regex

from bot.channels.base import clip
from bot.channels.console import render_console
from bot.channels.telegram import render_alert, units
from bot.domain import Alert, Match, Quote

ALERT = Alert(
    title="NATO Agrees to Re-engage Russia",
    link="https://world.example.org/news/nato",
    feed_name="World Desk",
    published_at=datetime(2008, 12, 2, 14, 0, tzinfo=UTC),
    summary="NATO on Tuesday agreed to gradually resume contacts with Russia.",
    matches=(
        Match(1, "NATO-Russia Council", Quote("the NATO-Russia Council met", ((4, 23),))),
        Match(2, "MAP", Quote("MAPs and MAP requests", ((0, 4), (9, 12)))),
    ),
)


def test_console_alert_shows_title_source_time_link_summary_and_each_rule():
    assert render_console(ALERT).plain.splitlines() == [
        "== NATO Agrees to Re-engage Russia",
        "World Desk \u00b7 2008-12-02 14:00 UTC",
        "https://world.example.org/news/nato",
        "",
        "NATO on Tuesday agreed to gradually resume contacts with Russia.",
        "",
        "Matched:",
        "  - NATO-Russia Council: \u201cthe **NATO-Russia Council** met\u201d",
        "  - MAP: \u201c**MAPs** and **MAP** requests\u201d",
    ]


def test_matched_words_are_also_bold_on_a_terminal():
    text = render_console(ALERT)
    bold = [text.plain[span.start : span.end] for span in text.spans if "bold yellow" in str(span.style)]
    assert bold == ["**NATO-Russia Council**", "**MAPs**", "**MAP**"]


UKRAINE, POLAND = "\U0001f1fa\U0001f1e6", "\U0001f1f5\U0001f1f1"  # a flag is two code points
E_ACUTE = "e\u0301"  # e and a combining acute: one letter on screen
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # three emoji joined: one on screen


@pytest.mark.parametrize(
    ("text", "limit", "size", "clipped"),
    [
        ("Short enough", 12, len, "Short enough"),
        ("Talks resume in Geneva today", 20, len, "Talks resume in\u2026"),  # at the last space
        ("Talks resume in Geneva today", 6, len, "Talks\u2026"),
        ("Unbreakablewordwithoutspaces", 10, len, "Unbreakab\u2026"),
        ((UKRAINE + POLAND) * 5, 6, len, UKRAINE + POLAND + "\u2026"),  # not a half flag: 🇦🇵 is Austria...
        ((UKRAINE + POLAND) * 5, 8, len, UKRAINE + POLAND + UKRAINE + "\u2026"),
        (E_ACUTE * 10, 6, len, E_ACUTE * 2 + "\u2026"),  # never an e without its accent
        (FAMILY * 3, 9, len, FAMILY + "\u2026"),
        ("\U0001f4f0" * 10, 9, units, "\U0001f4f0" * 4 + "\u2026"),  # Telegram counts UTF-16 units
        (UKRAINE * 5, 11, units, UKRAINE * 2 + "\u2026"),
    ],
)  # fmt: skip
def test_feed_text_is_clipped_between_the_characters_a_reader_sees(text, limit, size, clipped):
    assert clip(text, limit, size) == clipped
    assert size(clipped) <= limit


@pytest.mark.parametrize("limit", range(1, 40))
def test_a_clip_never_splits_a_flag_or_an_accented_letter(limit):
    text = f"{UKRAINE}{E_ACUTE} {POLAND}{FAMILY}x" * 4
    kept = clip(text, limit).removesuffix("\u2026")
    assert text.startswith(kept)
    assert len(kept) in {0} | {cluster.end() for cluster in regex.finditer(r"\X", text)}


def test_a_quote_that_quotes_someone_reads_with_single_marks_inside_ours():
    quote = Quote("Trump said that \u201cthere can be no going back.\u201d", ((17, 22),))
    alert = Alert(
        "Title", "https://x.test/1", "Wire", datetime(2026, 3, 1, tzinfo=UTC), "", (Match(1, "NATO", quote),)
    )
    console = render_console(alert).plain
    assert "\u201cTrump said that \u2018**there** can be no going back.\u2019\u201d" in console
    html, _ = render_alert(alert)
    assert "\u201cTrump said that \u2018<b>there</b> can be no going back.\u2019\u201d" in html
