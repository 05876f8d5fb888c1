"""Hostile feeds: does the work a changed body gets grow linearly with its size, whatever it holds?

For each kind of input that once took quadratic time (tests/fakes/hostile.py), and for plain prose of the
same size in the same run, it times what a poll does with a changed body in one process: raw_entries,
parse_feed, then cleaning, matching and summarizing every entry (prepare_story, with rules that
match the hostile item, so its summary is made too, and a NEAR rule). CPU seconds, the best of three.
The goal: at most 2.2x per doubling of the size, and within 5x of plain prose at 400 KB.

It also measures the worker hop: what parsing a warm-changed body (a corpus feed's head, two entries and
its tail, as a poll that found two new entries parses) costs in a worker process against a thread.

Run from the repo root:  .venv/bin/python bench/hostile_bench.py [--quick]
The full run writes the "# Hostile input benchmark" section of bench/RESULTS.md; --quick only prints.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.results import write_section  # noqa: E402
from bot.domain import Rule  # noqa: E402
from bot.feeds.parse import only_entries, parse_feed, raw_entries  # noqa: E402
from bot.feeds.parsers import IN_THREAD_BELOW, Parsers  # noqa: E402
from bot.pipeline import Matcher, prepare_story  # noqa: E402
from tests.fakes.hostile import KINDS, PROSE, hostile_feed, plain_feed  # noqa: E402

SIZES = (50, 100, 200, 400)  # KB
MOST_PER_DOUBLING = 2.2
MOST_OVER_PLAIN = 5.0
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real-feeds"


def changed_body_cpu(body: bytes, matcher: Matcher, runs: int = 3) -> float:
    """CPU seconds of what a poll does with this changed body, in this process: the best of `runs`."""
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        raw_entries(body)
        parsed = parse_feed(body, "https://example.org/feed", "application/rss+xml")
        for article in parsed.articles:
            prepare_story(article, parsed.title, matcher, 60, may_alert=True)
        best = min(best, time.process_time() - start)
    return best


def ordinary_feed(size: int) -> bytes:
    """A second control: ordinary items of about 1 KB, and one bare "&" that makes the feed not
    well-formed, so feedparser reads it twice (strictly, then loosely), as it does the hostile feeds."""
    item = (
        "<item><title>Ministers meet on the plan {i}</title><link>https://example.org/{i}</link>"
        "<guid>https://example.org/{i}</guid><pubDate>Tue, 03 Dec 2024 10:00:00 GMT</pubDate>"
        "<description>&lt;p&gt;{prose}&lt;/p&gt;&lt;p&gt;{prose}&lt;/p&gt;</description></item>"
    )
    items = "".join(item.format(i=i, prose=PROSE * 6) for i in range(max(1, size // 1024)))
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Ordinary & plain</title>'
        f"<link>https://example.org/</link>{items}</channel></rss>"
    ).encode()


def growth_table(quick: bool) -> tuple[str, bool]:
    matcher = Matcher()
    matcher.sync(
        [Rule(1, 1, "NATO-Russia Council"), Rule(2, 1, "Brussels"), Rule(3, 1, "minister NEAR/5 vote")]
    )
    sizes = SIZES[:3] if quick else SIZES
    plain = {kb: changed_body_cpu(plain_feed(kb * 1024), matcher) for kb in sizes}
    ordinary = {kb: changed_body_cpu(ordinary_feed(kb * 1024), matcher) for kb in sizes}
    rows = [
        _row("plain prose (the control)", plain, plain, ordinary, sizes),
        _row("ordinary items, not well-formed", ordinary, plain, ordinary, sizes),
    ]
    for kind in KINDS:
        times = {kb: changed_body_cpu(hostile_feed(kind, kb * 1024), matcher) for kb in sizes}
        rows.append(_row(kind, times, plain, ordinary, sizes))
        print(rows[-1][0])
    head = " | ".join(f"{kb} KB ms" for kb in sizes)
    last = f"{sizes[-1]} KB"
    table = (
        f"| input | {head} | most growth per doubling | x plain prose at {last} | x ordinary items at {last} "
        f"| goal met |\n|---|{'---|' * len(sizes)}---|---|---|---|\n" + "\n".join(row for row, _ in rows)
    )
    return table, all(ok for _, ok in rows)


def _row(
    name: str,
    times: dict[int, float],
    plain: dict[int, float],
    ordinary: dict[int, float],
    sizes: tuple[int, ...],
) -> tuple[str, bool]:
    growth = max(times[b] / times[a] for a, b in zip(sizes, sizes[1:], strict=False))
    over_plain, over_ordinary = (times[sizes[-1]] / control[sizes[-1]] for control in (plain, ordinary))
    ok = growth <= MOST_PER_DOUBLING and over_plain <= MOST_OVER_PLAIN
    cells = " | ".join(f"{times[kb] * 1000:.1f}" for kb in sizes)
    ratios = f"{growth:.2f}x | {over_plain:.2f}x | {over_ordinary:.2f}x"
    return f"| {name} | {cells} | {ratios} | {'yes' if ok else 'NO'} |", ok


def warm_changed_bodies() -> list[bytes]:
    """Each corpus feed as a warm-changed poll parses it: its head, its first two entries, its tail."""
    bodies = []
    for line in (CORPUS / "MANIFEST.jsonl").read_text().splitlines():
        body = (CORPUS / json.loads(line)["file"]).read_bytes()
        entries = raw_entries(body)
        if entries and len(entries) > 2:
            bodies.append(only_entries(body, entries, entries[:2]))
    return bodies


async def hop_cost(bodies: list[bytes]) -> str:
    """Per warm-changed body: wall ms parsed in a thread against in a worker process, and this process's
    CPU ms each way (the worker's own CPU is not the event loop's)."""
    in_thread, in_worker = Parsers(in_thread_below=len(max(bodies, key=len)) + 1), Parsers(in_thread_below=0)
    measured = {}
    for name, parsers in (("thread", in_thread), ("worker", in_worker)):
        await parsers.parse(bodies[0], "https://example.org/feed", None)  # the worker started
        walls, cpus = [], []
        for _ in range(3):
            for body in bodies:
                wall, cpu = time.perf_counter(), time.process_time()
                await parsers.parse(body, "https://example.org/feed", None)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
        measured[name] = (statistics.median(walls) * 1000, statistics.median(cpus) * 1000)
        await parsers.close()
    over = sum(len(body) >= IN_THREAD_BELOW for body in bodies)
    (thread_wall, thread_cpu), (worker_wall, worker_cpu) = measured["thread"], measured["worker"]
    return (
        f"{len(bodies)} warm-changed bodies (median {statistics.median(map(len, bodies)) / 1024:.0f} KB); "
        f"{over} of them are over the {IN_THREAD_BELOW // 1024} KB threshold and take the hop.\n\n"
        "| parsed in | wall ms a body (median) | event loop's process CPU ms a body (median) |\n"
        "|---|---|---|\n"
        f"| a thread | {thread_wall:.2f} | {thread_cpu:.2f} |\n"
        f"| a worker process | {worker_wall:.2f} | {worker_cpu:.2f} |\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="up to 200 KB, and print only")
    quick = parser.parse_args().quick
    started = time.perf_counter()
    table, met = growth_table(quick)
    hop = asyncio.run(hop_cost(warm_changed_bodies()))
    print(table, "\n", hop, sep="")
    if quick:
        return
    body = (
        "\nWhat a poll does with a changed body, in one process (raw_entries, parse_feed, prepare_story for "
        "every entry with a rule matching the hostile item): CPU ms, the best of 3. Goal: at most "
        f"{MOST_PER_DOUBLING}x per doubling, within {MOST_OVER_PLAIN:g}x of plain prose at 400 KB. "
        f"**{'Every kind meets it.' if met else 'Some kind misses it.'}**\n\n"
        f"{table}\n\n## The worker hop\n\nBodies of {IN_THREAD_BELOW // 1024} KB and more are parsed in a "
        f"worker process (bot/feeds/parsers.py), smaller ones in a thread. {hop}"
    )
    write_section(
        "Hostile input benchmark", "python bench/hostile_bench.py", time.perf_counter() - started, body
    )


if __name__ == "__main__":
    main()
