"""The console rendering of an alert: pure."""

from datetime import UTC, datetime

from bot.channels.console import render_console
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
