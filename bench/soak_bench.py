"""Soak: the real App on a fake clock through 400 simulated days; is storage bounded and nothing lost?

300 feeds on a loopback HTTP server (a child process) publish 20 new items a day each; every feed
document holds its latest 30 items plus one pinned item that never leaves it. 50 console chats hold 500
rules (250 made-up two-word phrases, each a rule of two chats); about one item in 200 carries a phrase.
Every item is its own story (its own made-up words and name), so the alerts expected are known from the
generator: one per (chat, story). The bot (bot.app.App on a SQLite file, as `newsalert run` builds it)
is driven as its scheduler would: the clock moves an hour at a time; each hour the due feeds are polled,
the due alerts delivered and, when the App has it (`App.prune_due`), old rows pruned.
Each simulated month records the database file size (and its -wal), this process's RSS, the alerts
delivered against those expected, and duplicates.
Run from the repo root:  .venv/bin/python bench/soak_bench.py [--days 400] [--feeds 300] [--no-prune]
[--quick]; it writes its "# Soak benchmark" section into bench/RESULTS.md, --quick only prints.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import multiprocessing
import os
import random
import re
import sqlite3
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import yaml
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.results import write_section  # noqa: E402
from bot.app import App  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.web import start_web  # noqa: E402
from tests.fakes.clock import FakeClock  # noqa: E402

START = datetime(2026, 3, 1, tzinfo=UTC)
# The bot's clock is off the whole second, as a real one is. On the whole second a time is kept in SQLite
# as text without its fraction, which sorts before the same time with one: an article fetched exactly at
# the retention cutoff is pruned while its story_clues rows (compared in microseconds) stay for ever. On
# whole hours, every article is pruned at exactly its cutoff (found by this bench; reported, not fixed).
SKEW = timedelta(microseconds=250_000)
DAY = timedelta(days=1)
PINNED_AT = START + timedelta(minutes=30)  # each feed's pinned item: after the first poll, so it alerts
ITEMS_A_DAY = 20
GAP = DAY / ITEMS_A_DAY  # between two items of one feed
FEED_ITEMS = 30  # the latest items a feed document holds (besides its pinned item)
CHATS = 50
PHRASES = 250  # each the rule of CHATS_A_PHRASE chats: 500 rules
CHATS_A_PHRASE = 2
MATCH_ONE_IN = 200  # about one item in this many carries a phrase
TWO_PHRASES_ONE_IN = 8  # and one matched item in this many carries a second one
PINNED_MATCH_ONE_IN = 10  # every tenth feed's pinned item carries a phrase
POLL_INTERVAL = timedelta(hours=12)
STEP = timedelta(hours=1)  # the clock moves this much between two scheduler passes
MONTH = 30  # days
TAIL = timedelta(days=2)  # after the last item: time for its poll and delivery
FLAT = 0.10  # goal: DB size and RSS within 10% over the last FLAT_MONTHS months
FLAT_MONTHS = 6
JUDGED_FROM = 120  # days: flatness is judged from here on (90 days of articles kept, and a month)
SEED = 20261208
NOTES = """
{feeds} feeds, 20 new items a feed a day for {days} simulated days (and two more for the last polls), 50
console chats with 10 rules each ({rules} rules); the App as `newsalert run` builds it, on a SQLite file in
{where} (tmpfs: the soak measures sizes and counts, not the disk; on this machine's disk every commit
waits about 10 ms for its fsync). {pruning}
Feeds: a loopback aiohttp server in a child process, RSS documents with each feed's latest 30 items and
one pinned item (published on the first day, never leaving the feed: its identity must outlive its
article, or it would be new again); ETag and 304. Every feed polled every 12 hours (20 items a day: each
poll finds about 10 new). An item: a headline of 3 made-up names and 3 common words, a lead of 32 common
words (30,000 made-up words, Zipf-distributed) and 5 more names, so each item is its own story. The
backlog a feed has when first polled is stored, not alerted (backfill 0).
Rules: 250 made-up two-word phrases (their words hold a q or an x, which no common word does), each a
rule of two chats; about one item in 200 carries one in its lead (one in eight of those two), and every
tenth feed's pinned item one. Expected alerts: for each such item, one per chat with a rule it matches.
Delivered alerts are counted by the item link each printed alert carries (burst_stories 1,000: one
message an alert, never a rolling one). missing: items published over two days before the sample and
short of alerts; duplicates: alerts past the one each chat is owed. RSS: this process (the bot, the
harness's counters are arrays made at the start); the parse workers (bodies of 16 KB and more) apart.
"""
PRUNING = """Retention at its defaults (articles 90 days, outbox 30 days), `App.prune_due` called once a
simulated hour as the scheduler's job is."""
LINK = re.compile(r"/a/(\d+)/(p|\d+)\b")
ONSETS = "b c d f g h j k l m n p r s t v w z br dr gr kr st tr pl sh ch".split()
VOWELS = "a e i o u ai ea io".split()
RULE_ONSETS = ["q", "x", "qu", "xy"]  # rule words only: no ordinary word holds a q or an x
VOCABULARY = 30_000  # made-up common words
LEAD_WORDS = 35  # common words an item has (3 in its headline)
UNIQUE_TITLE, UNIQUE_LEAD = 3, 5  # words of its own an item has in its headline, in its lead


def mix(*numbers: int) -> int:
    """A 64-bit hash of some numbers (splitmix64 steps): the same on every run and every process."""
    h = 0x9E3779B97F4A7C15
    for n in numbers:
        h = (h ^ (n & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h = (h ^ (h >> 31)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 29
    return h


def word(rng: random.Random, onsets: list[str], syllables: int) -> str:
    return "".join(rng.choice(onsets) + rng.choice(VOWELS) for _ in range(syllables)) + rng.choice("nlrs")


SYLLABLES = [onset + vowel for onset in ONSETS for vowel in VOWELS]


def name(bits: int) -> str:
    """A made-up name of four syllables (one in about two billion)."""
    return "".join(
        SYLLABLES[(bits >> shift & 0xFF) % len(SYLLABLES)] for shift in (0, 8, 16, 24)
    ).capitalize()


@dataclass(frozen=True)
class World:
    """What the feeds publish and who watches what: all of it from the seed."""

    seed: int
    feeds: int
    days: int
    vocabulary: tuple[str, ...]
    weights: tuple[float, ...]  # cumulative, Zipf's: the word of rank r weighs 1 / r
    phrases: tuple[str, ...]
    chats_of: tuple[tuple[int, ...], ...]  # phrase -> the chats it is a rule of

    @classmethod
    def make(cls, seed: int, feeds: int, days: int) -> World:
        rng = random.Random(seed)
        vocabulary = list({word(rng, ONSETS, rng.choice((1, 2, 2, 3))) for _ in range(VOCABULARY)})
        rng.shuffle(vocabulary)
        weights = tuple(itertools.accumulate(1 / rank for rank in range(1, len(vocabulary) + 1)))
        phrases: list[str] = []
        while len(phrases) < PHRASES:
            phrase = " ".join(word(rng, RULE_ONSETS + ONSETS, 2).capitalize() for _ in range(2))
            # a word with a q or an x: a phrase that no ordinary text holds
            if ("q" in phrase.lower() or "x" in phrase.lower()) and phrase not in phrases:
                phrases.append(phrase)
        chats = tuple(tuple(rng.sample(range(CHATS), CHATS_A_PHRASE)) for _ in phrases)
        return cls(seed, feeds, days, tuple(vocabulary), weights, tuple(phrases), chats)

    def published(self, feed: int, n: int) -> datetime:
        """When item n of a feed is published (n < 0: its backlog, before the start)."""
        return START + timedelta(minutes=1 + feed % 71) + n * GAP

    def latest(self, feed: int, now: datetime) -> int:
        """The number of the feed's newest item at `now`, never past the last day."""
        last = self.days * ITEMS_A_DAY - 1
        return min(last, (now - self.published(feed, 0)) // GAP)

    def phrases_of(self, feed: int, n: int | str) -> tuple[int, ...]:
        """The phrases item n carries: none for the backlog (it does not alert)."""
        if n == "p":
            return (feed % PHRASES,) if feed % PINNED_MATCH_ONE_IN == 0 else ()
        h = mix(self.seed, feed, n)
        if n < 0 or h % MATCH_ONE_IN:
            return ()
        first, second = (h >> 16) % PHRASES, (h >> 32) % PHRASES
        return (first, second) if (h >> 48) % TWO_PHRASES_ONE_IN == 0 and second != first else (first,)

    def expected(self, feed: int, n: int | str) -> int:
        """Alerts the item must cause: one per chat that has a rule it matches."""
        return len({chat for phrase in self.phrases_of(feed, n) for chat in self.chats_of[phrase]})

    def item(self, base: str, feed: int, n: int | str) -> str:
        """Item n as RSS, its own story: common words (Zipf-distributed, as in any text) around names,
        places and figures of its own (news keeps naming new ones), UNIQUE_TITLE of them in the headline
        and UNIQUE_LEAD in the lead; the phrases it carries in the lead."""
        number = 1_000_000_007 if n == "p" else int(n)
        rng = random.Random(mix(self.seed, feed, number))
        unique = [name(rng.getrandbits(32)) for _ in range(UNIQUE_TITLE + UNIQUE_LEAD)]
        common = rng.choices(self.vocabulary, cum_weights=self.weights, k=LEAD_WORDS)
        title = " ".join(unique[:UNIQUE_TITLE] + common[:3])
        lead = common[3:] + unique[UNIQUE_TITLE:]
        rng.shuffle(lead)
        for phrase in self.phrases_of(feed, n):
            at = rng.randrange(len(lead))
            lead[at:at] = [self.phrases[phrase]]
        text = " ".join(lead)
        text = text[0].upper() + text[1:] + "."
        when = format_datetime(PINNED_AT if n == "p" else self.published(feed, int(n)))
        link = f"{base}/a/{feed}/{n}"
        return (
            f"<item><title>{escape(title)}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>{when}</pubDate><description>{escape(text)}</description></item>\n"
        )


def serve(world: World, now: multiprocessing.Value, pipe) -> None:  # type: ignore[valid-type]
    """Child process: /feed/N.xml is feed N as it stands at the parent's clock (`now`, a timestamp),
    ETag and 304 as a news site answers; it keeps only each feed's latest items."""

    async def main() -> None:
        cache: dict[int, deque[tuple[int, str]]] = {}
        base = ""

        async def feed(request: web.Request) -> web.Response:
            number = int(request.match_info["n"])
            at = datetime.fromtimestamp(now.value, UTC)
            latest = world.latest(number, at)
            etag = f'"{number}-{latest}"'
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            items = cache.setdefault(number, deque(maxlen=FEED_ITEMS))
            start = max(latest - FEED_ITEMS + 1, items[-1][0] + 1 if items else -FEED_ITEMS)
            items.extend((n, world.item(base, number, n)) for n in range(start, latest + 1))
            pinned = world.item(base, number, "p") if at >= PINNED_AT else ""
            body = (
                '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
                f"<title>Outlet {number}</title><link>{base}/</link><description>news</description>\n"
                + "".join(xml for _, xml in reversed(items))
                + pinned
                + "</channel></rss>\n"
            )
            headers = {"ETag": etag, "Content-Type": "application/rss+xml; charset=utf-8"}
            return web.Response(body=body.encode(), headers=headers)

        app = web.Application()
        app.router.add_get("/feed/{n}.xml", feed)
        _, port = await start_web(app, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{port}"
        pipe.send(base)
        await asyncio.Event().wait()

    asyncio.run(main())


class Tally(io.TextIOBase):
    """The console the 50 chats print to: counts the alerts each item got, by its link (one link an
    alert), in arrays made at the start so that counting holds this process's memory still."""

    def __init__(self, world: World):
        self.world = world
        self.counts = bytearray(world.feeds * world.days * ITEMS_A_DAY)
        self.pinned = bytearray(world.feeds)
        self.unexpected = 0  # alerts for items that match no rule
        self.edits = 0  # "also in" edits: an item joined another's story
        self.notices = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        for match in LINK.finditer(text):
            feed, n = int(match[1]), match[2]
            if n == "p":
                self.pinned[feed] = min(self.pinned[feed] + 1, 255)
                self.unexpected += not self.world.expected(feed, n)
            else:
                at = feed * self.world.days * ITEMS_A_DAY + int(n)
                self.counts[at] = min(self.counts[at] + 1, 255)
                self.unexpected += not self.world.expected(feed, int(n))
        self.edits += text.startswith("~~ ")
        self.notices += text.startswith("!! ")
        return len(text)


@dataclass(frozen=True)
class Matched:
    feed: int
    n: int | str
    want: int


def matched_items(world: World) -> list[Matched]:
    items = [Matched(f, "p", world.expected(f, "p")) for f in range(world.feeds) if world.expected(f, "p")]
    for feed in range(world.feeds):
        for n in range(world.days * ITEMS_A_DAY):
            if want := world.expected(feed, n):
                items.append(Matched(feed, n, want))
    return items


def check(world: World, tally: Tally, matched: list[Matched], now: datetime) -> dict:
    """Alerts delivered and expected so far; missing: items published over two days ago and short of
    alerts; duplicates: alerts past the one each chat is owed."""
    delivered, expected, missing, duplicates = 0, 0, 0, 0
    for item in matched:
        if item.n == "p":
            got, when = tally.pinned[item.feed], PINNED_AT
        else:
            got = tally.counts[item.feed * world.days * ITEMS_A_DAY + item.n]
            when = world.published(item.feed, item.n)
        if when > now:
            continue
        delivered, expected = delivered + got, expected + item.want
        duplicates += max(0, got - item.want)
        missing += max(0, item.want - got) if now - when > 2 * DAY else 0
    return dict(delivered=delivered + tally.unexpected, expected=expected, missing=missing, dups=duplicates)


def rss_kb() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status)[1])


def workers_rss_kb() -> int:
    """The RSS of this process's parse workers (`python -m bot.feeds.parsers`, bodies of 16 KB and more)."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text, command = status.read_text(), (status.parent / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        parent = re.search(r"PPid:\s+(\d+)", text)
        if parent and int(parent[1]) == os.getpid() and b"bot.feeds.parsers" in command:
            total += int(re.search(r"VmRSS:\s+(\d+)", text)[1])
    return total


def db_sizes(db: Path) -> tuple[int, int]:
    wal = db.with_name(db.name + "-wal")
    return db.stat().st_size, wal.stat().st_size if wal.exists() else 0


def count_rows(db: Path) -> dict:
    """Rows of articles and outbox, the bytes of each table and index (SQLite's dbstat), free pages."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("articles", "outbox")}
        tables = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
        free = (
            conn.execute("PRAGMA freelist_count").fetchone()[0]
            * conn.execute("PRAGMA page_size").fetchone()[0]
        )
        return rows | dict(tables=tables, free=free)
    finally:
        conn.close()


def config(db: Path, base: str, world: World) -> dict:
    subscriptions = []
    for chat in range(CHATS):
        rules = [world.phrases[p] for p, chats in enumerate(world.chats_of) if chat in chats]
        subscriptions.append({"channel": "console", "address": f"chat-{chat}", "rules": rules})
    return {
        "database_url": f"sqlite:///{db}",
        "poll_interval": f"{int(POLL_INTERVAL.total_seconds())}s",
        "feeds": [{"url": f"{base}/feed/{f}.xml", "name": f"Outlet {f}"} for f in range(world.feeds)],
        "subscriptions": subscriptions,
        "summary": {"fetch_pages": "never"},  # the items' links lead nowhere worth reading
        "delivery": {"burst_stories": 1000},  # one message per alert: each counted by its link
    }


async def soak(
    world: World,
    base: str,
    now: multiprocessing.Value,  # type: ignore[valid-type]
    tmp: Path,
    prune: bool,
    monthly: Callable[[dict], None],
) -> dict:
    """The run; `monthly` is given the result so far after each simulated month."""
    db = tmp / "soak.db"
    path = tmp / "soak.yaml"
    path.write_text(yaml.safe_dump(config(db, base, world)))
    matched = matched_items(world)
    tally = Tally(world)
    clock = FakeClock(START + SKEW)
    app = App(load_settings(path, {}), clock=clock, console=tally)
    await app.start()
    pruner = getattr(app, "prune_due", None) if prune else None
    months, polls, new, failed, last_month, pruned = [], 0, 0, [], -1, {}
    end = START + world.days * DAY + TAIL
    wall0 = time.perf_counter()

    def result() -> dict:
        published = world.feeds * (FEED_ITEMS + world.days * ITEMS_A_DAY + 1)  # backlog, items, pinned
        extra = dict(edits=tally.edits, notices=tally.notices, unexpected=tally.unexpected, errors=failed[:3])
        return dict(
            months=months, pruning=pruner is not None, pruned=dict(pruned), published=published, **extra
        )

    try:
        while True:
            now.value = clock.now().timestamp()
            while reports := await app.poll_due():
                polls += len(reports)
                new += sum(r.new for r in reports)
                failed += [r.error for r in reports if r.error]
            while (await app.deliver_due()).claimed:
                pass
            if pruner:
                for table, rows in (await pruner()).items():
                    pruned[table] = pruned.get(table, 0) + rows
            day = (clock.now() - START) // DAY
            done = clock.now() + STEP > end
            if day // MONTH != last_month and day % MONTH == 0 or done:
                last_month = day // MONTH
                row = dict(day=day, wall=time.perf_counter() - wall0, rss=rss_kb(), workers=workers_rss_kb())
                row |= dict(polls=polls, new=new)
                row |= dict(zip(("db", "wal"), db_sizes(db), strict=True)) | count_rows(db)
                row |= check(world, tally, matched, clock.now()) | dict(failed=len(failed))
                months.append(row)
                print(
                    f"day {day:3}: {row['wall']:6.0f} s, db {row['db'] / 1e6:7.1f} MB + wal "
                    f"{row['wal'] / 1e6:5.1f}, rss {row['rss'] / 1024:5.0f} MB (parse workers "
                    f"{row['workers'] / 1024:3.0f}), {row['articles']:,} articles,"
                    f" {row['outbox']:,} outbox, {row['delivered']:,}/{row['expected']:,} alerts,"
                    f" {row['missing']} missing, {row['dups']} dups, {new:,} new, {len(failed)} failed; MB: "
                    + ", ".join(
                        f"{t} {b / 1e6:.1f}"
                        for t, b in sorted(row["tables"].items(), key=lambda i: -i[1])[:6]
                    ),
                    flush=True,
                )
                monthly(result())
            if done:
                break
            clock.advance(STEP)
    finally:
        await app.close()
    return result()


def run(world: World, prune: bool, directory: str | None, monthly: Callable[[dict], None]) -> dict:
    now = multiprocessing.get_context("fork").Value("d", START.timestamp(), lock=False)
    here, there = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(target=serve, args=(world, now, there), daemon=True)
    child.start()
    try:
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            return asyncio.run(soak(world, here.recv(), now, Path(tmp), prune, monthly))
    finally:
        child.terminate()
        child.join()


def spread(values: list[float]) -> float:
    """How far apart the largest and the smallest are, as a share of the smallest."""
    return (max(values) - min(values)) / min(values)


def report(result: dict, wall: float) -> str:
    months = result["months"]
    lines = [
        "| day | DB MB | WAL MB | articles | outbox rows | RSS MB | parse workers' RSS MB | alerts delivered"
        " | expected | missing | duplicates | wall s |",
        "|" + "---|" * 12,
    ]
    for m in months:
        cells = [
            m["day"],
            f"{m['db'] / 1e6:,.1f}",
            f"{m['wal'] / 1e6:,.1f}",
            f"{m['articles']:,}",
            f"{m['outbox']:,}",
            f"{m['rss'] / 1024:,.0f}",
            f"{m['workers'] / 1024:,.0f}",
            f"{m['delivered']:,}",
            f"{m['expected']:,}",
            m["missing"],
            m["dups"],
            f"{m['wall']:,.0f}",
        ]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    final = months[-1]
    last_day = max(m["day"] for m in months if m["day"] % MONTH == 0)
    tail = [m for m in months if m["day"] % MONTH == 0 and m["day"] >= last_day - FLAT_MONTHS * MONTH]
    sizes = spread([m["db"] + m["wal"] for m in tail])
    rss = spread([m["rss"] for m in tail])
    exact = final["delivered"] == final["expected"] and not (final["dups"] or final["missing"])
    window = f"days {tail[0]['day']}-{tail[-1]['day']}"
    judged = tail[0]["day"] >= JUDGED_FROM
    if not judged:
        window += f" (too short a run: the window must start after day {JUDGED_FROM})"
    every = "equal" if final["new"] == result["published"] else "NOT equal"
    lines += [
        "",
        f"- {verdict(sizes <= FLAT, judged)}: database size (file + WAL) within {FLAT:.0%} over {window}:"
        f" {sizes:.1%} apart",
        f"- {verdict(rss <= FLAT, judged)}: RSS flat within {FLAT:.0%} over {window}: {rss:.1%} apart",
        f"- {verdict(exact)}: alerts delivered == expected, no duplicates: {final['delivered']:,} of"
        f" {final['expected']:,}, {final['dups']} duplicates, {final['missing']} missing,"
        f' {result["unexpected"]} for items no rule matches, {result["edits"]} "also in" edits',
        f"- new articles the polls reported: {final['new']:,}; items published {result['published']:,}"
        f" (backlog, items, pinned items): {every}; {final['polls']:,} polls, {final['failed']} failed",
        f"- wall time: {wall:,.0f} s for {final['day']} simulated days",
    ]
    before = next((m for m in months if m["day"] >= 90), None)
    if result["pruning"] and before:
        per_article = before["db"] / before["articles"]
        never, kept = per_article * result["published"], final["db"] + final["wal"]
        lines.append(
            f"- the baseline, no retention: by day {before['day']} (nothing was older than 90 days yet) the"
            f" file held {per_article:,.0f} bytes an article; kept forever, the {result['published']:,}"
            f" articles make about {never / 1e6:,.0f} MB, {never / kept:.1f}x the pruned database's"
            f" {kept / 1e6:,.0f} MB (extrapolated, not run)"
        )
    first = tail[0] if judged else next((m for m in months if m["day"] >= 90), tail[0])
    grown = sorted(final["tables"], key=lambda t: -final["tables"][t])[:6]  # the largest
    lines.append(
        f"- what the file holds, MB, day {first['day']} -> day {final['day']}: "
        + ", ".join(
            f"{t} {first['tables'].get(t, 0) / 1e6:,.1f} -> {final['tables'][t] / 1e6:,.1f}" for t in grown
        )
        + f"; free pages {first['free'] / 1e6:,.1f} -> {final['free'] / 1e6:,.1f}"
    )
    if result["pruned"]:
        lines.append("- rows pruned: " + ", ".join(f"{n:,} {t}" for t, n in sorted(result["pruned"].items())))
    elif result["pruning"]:
        lines.append("- nothing was old enough to prune")
    else:
        lines.append("- nothing was pruned (no `App.prune_due`, or `--no-prune`): the baseline")
    return "\n".join(lines)


def verdict(ok: bool, judged: bool = True) -> str:
    return "NOT JUDGED" if not judged else "MET" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--no-prune", action="store_true", help="never prune (the baseline)")
    parser.add_argument(
        "--dir",
        default="/dev/shm" if Path("/dev/shm").is_dir() else None,
        help="where the database file goes (default /dev/shm: a soak of a year must not wait for fsyncs)",
    )
    parser.add_argument("--quick", action="store_true", help="10 feeds, 30 days, no RESULTS.md")
    args = parser.parse_args()
    if args.quick:
        args.feeds, args.days = 10, 30
    t0 = time.perf_counter()
    world = World.make(SEED, args.feeds, args.days)
    command = " ".join([".venv/bin/python bench/soak_bench.py", *sys.argv[1:]])
    where = args.dir or "a temporary directory"
    pruning = PRUNING if not args.no_prune else "Never pruned (`--no-prune`): the baseline."
    notes = NOTES.format(
        feeds=world.feeds, days=world.days, where=where, rules=PHRASES * CHATS_A_PHRASE, pruning=pruning
    )
    title = "Soak benchmark" + (": the baseline, never pruned" if args.no_prune else "")

    def record(result: dict) -> None:
        """The section as it stands: rewritten each month, so that a run cut short leaves its months."""
        day = result["months"][-1]["day"]
        table = report(result, time.perf_counter() - t0)
        ongoing = "" if day >= world.days else f"\n(In progress: day {day} of {world.days}.)\n"
        if not args.quick:
            write_section(title, command, time.perf_counter() - t0, f"{notes}{ongoing}\n{table}\n")

    result = run(world, not args.no_prune, args.dir, record)
    record(result)
    print(f"\n{report(result, time.perf_counter() - t0)}")


if __name__ == "__main__":
    main()
