"""What each chat command means, once, for every channel (Telegram, Slack, CLI translate it).

Commands take data and the store and return data; replies are plain text the channels format.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.rules.index import Document, RuleIndex
from bot.rules.query import format_rule, parse_rule
from bot.rules.text import DEFAULT_LANGUAGE
from bot.store import Store

BACKTEST_SAMPLES = 5


@dataclass(frozen=True)
class Backtest:
    rule: str  # as understood: every operator explicit
    days: tuple[tuple[date, int], ...]  # hits per day, oldest first, zero days included
    checked: int  # stories looked at
    samples: tuple[tuple[str, str], ...]  # (title, feed name), newest first

    @property
    def hits(self) -> int:
        return sum(count for _, count in self.days)


async def test_rule(
    store: Store, text: str, *, now: datetime, days: int = 7, language: str = DEFAULT_LANGUAGE
) -> Backtest:
    """Run a rule over the stories of the last `days` days; nothing is saved.

    Raises QueryError (reason and position) when the rule cannot be used.
    """
    tree = parse_rule(text, language)
    index = RuleIndex([(1, tree)], language)
    stored = await store.recent_articles(now - timedelta(days=days))
    hits = [a for a in stored if index.match(Document(a.title, a.body, a.feed_name, a.link))]
    per_day = Counter(a.fetched_at.date() for a in hits)
    first = (now - timedelta(days=days - 1)).date()
    calendar = tuple((first + timedelta(days=i), per_day[first + timedelta(days=i)]) for i in range(days))
    samples = tuple((a.title, a.feed_name) for a in hits[:BACKTEST_SAMPLES])
    return Backtest(format_rule(tree), calendar, len(stored), samples)


def describe_backtest(result: Backtest) -> str:
    """The backtest as a short reply: the rule as understood, hits per day, sample titles."""
    lines = [
        f"Rule as understood: {result.rule}",
        f"Over the last {len(result.days)} days it matched {result.hits} of {result.checked} stories.",
    ]
    lines += [f"  {day:%a %d %b}  {count:>4}  {'#' * min(count, 40)}".rstrip() for day, count in result.days]
    if result.samples:
        lines.append("For example:")
        lines += [f"  - {title} ({feed})" for title, feed in result.samples]
    return "\n".join(lines)
