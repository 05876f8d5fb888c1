"""Measures the resident memory (RSS) of one bot process with 10,000 feeds and 100,000 rules, polling.

The bot runs alone in a fresh interpreter (this script with --bot), so that nothing the bench itself
holds (the corpus, the rule generator, the feed bodies) is counted: the App as `newsalert run` builds
it, a SQLite file, every feed from its config file on a loopback feed server in another process, and
the rules in the database as 1,000 chats would have added them. Its RSS is read from /proc/self/status:
VmRSS after start and after each pass, VmHWM (reset before each pass) for the peak during it.
Run from the repo root:  .venv/bin/python bench/memory_bench.py [--quick] [--tracemalloc]
The full run rewrites the "# Memory benchmark" section of bench/RESULTS.md; --quick only prints.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MB = 2**20
GOAL_MB = 400
CHATS = 1000
CHANGED_EVERY = 10  # a warm pass brings one new item to one feed in this many


def status() -> dict[str, int]:
    """This process's VmRSS and VmHWM (its peak since start or the last reset_peak), in bytes."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {key: int(fields[key].split()[0]) * 1024 for key in ("VmRSS", "VmHWM")}


def reset_peak() -> None:
    """VmHWM starts again from VmRSS (Linux: 5 written to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def workers_rss() -> int:
    """RSS of this process's parse workers (`python -m bot.feeds.parsers`), in bytes."""
    total = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            command = (proc / "cmdline").read_bytes()
            if int(stat[1]) == os.getpid() and b"bot.feeds.parsers" in command:
                total += int(stat[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError):  # gone meanwhile
            continue
    return total


# The measured process


def run_bot(spec: dict) -> None:
    """The bot's life, measured: start, build the rule index, a cold pass, warm passes; JSON out."""
    bare = status()["VmRSS"]
    import asyncio  # after the bare interpreter's RSS: the bot's imports are measured
    import tracemalloc

    from bot.app import App
    from bot.config import load_settings
    from tests.fakes.clock import FakeClock

    imports = status()["VmRSS"]
    if spec["tracemalloc"]:
        tracemalloc.start()
    out: dict = {"bare": bare, "imports": imports, "marks": [], "passes": [], "top": {}}

    async def life() -> None:
        import aiohttp

        clock = FakeClock()
        with open(os.devnull, "w") as devnull:
            app = App(load_settings(Path(spec["config"]), {}), clock=clock, console=devnull)
            await app.start()
            out["marks"].append(("after start: feeds synced, no rules yet", status()))
            await app.poll_due(only=[])  # loads the rules and builds the index
            out["marks"].append(("rules loaded, index built", status()))
            top("after start")
            async with aiohttp.ClientSession() as session:
                for round_ in range(spec["warm"] + 1):
                    await (await session.get(f"{spec['server']}/_round/{round_}")).read()
                    out["passes"].append(
                        await one_pass(app, clock, "cold" if round_ == 0 else f"warm {round_}")
                    )
            top("after the last pass")
            await app.close()

    def top(when: str) -> None:
        if tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen *>")]
            )
            out["top"][when] = {
                "total": sum(stat.size for stat in snapshot.statistics("filename")),
                "files": [
                    (str(s.traceback[0].filename), s.size, s.count)
                    for s in snapshot.statistics("filename")[:12]
                ],
                "lines": [(str(s.traceback[0]), s.size, s.count) for s in snapshot.statistics("lineno")[:20]],
            }

    async def one_pass(app, clock, name: str) -> dict:
        from datetime import timedelta

        clock.advance(timedelta(days=2))  # every feed due again, whatever its interval
        reset_peak()
        started, polled, new, alerts, sent = time.perf_counter(), 0, 0, 0, 0
        while reports := await app.poll_due():
            polled += len(reports)
            new += sum(r.new for r in reports)
            alerts += sum(r.alerts for r in reports)
        while (delivered := await app.deliver_due()).claimed:
            sent += delivered.sent
        seconds = time.perf_counter() - started
        print(
            f"  {name}: {polled} polled, {new} new, {alerts} alerts, {sent} sent in {seconds:.0f} s",
            flush=True,
        )
        row = dict(name=name, polled=polled, new=new, alerts=alerts, sent=sent, seconds=seconds)
        return row | status() | {"workers": workers_rss()}

    asyncio.run(life())
    Path(spec["out"]).write_text(json.dumps(out))


# The bench around it


def serve(templates: list[tuple[bytes, bool]], stories: list[tuple[str, str]], n: int, pipe) -> None:
    """Child process: FeedServer (ETag, 304) over bodies built on request, plus /_round/N: from then on
    a feed has one new item for each round r <= N with r = its number mod CHANGED_EVERY."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from aiohttp import web

    from bench.poll_bench import tagged, with_items
    from tests.fakes.feed_server import FeedServer

    START = datetime(2026, 3, 1, 12, tzinfo=UTC)  # the fake clock's start

    class Bodies:
        """path -> body, as FeedServer reads its files: 10,000 feeds of 100 KB are not kept."""

        round = 0

        def get(self, path: str, default: bytes | None = None) -> bytes | None:
            number = path.removeprefix("/feed/").removesuffix(".xml")
            if not number.isdigit() or int(number) >= n:
                return default
            i = int(number)
            raw, atom = templates[i % len(templates)]
            rounds = [r for r in range(1, self.round + 1) if r % CHANGED_EVERY == i % CHANGED_EVERY]
            items = [
                (
                    *stories[(i * 7919 + r) % len(stories)],
                    f"https://bench.example/f{i}/r{r}",
                    (START + timedelta(days=2 * r)).isoformat(),  # the bot's clock moves 2 days a pass
                )
                for r in rounds
            ]
            return with_items(tagged(raw, f"#f{i}".encode()), atom, items[::-1])

    async def main() -> None:
        bodies = Bodies()
        server = FeedServer(files=bodies)  # type: ignore[arg-type]

        async def next_round(request: web.Request) -> web.Response:
            bodies.round = int(request.path.rsplit("/", 1)[1])
            server.requests.clear()
            return web.Response(text="ok")

        server.handlers.update({f"/_round/{r}": next_round for r in range(100)})
        await server.start()
        pipe.send(server.base_url)
        await asyncio.Event().wait()

    asyncio.run(main())


def prepare(tmp: Path, base: str, n_feeds: int, rules: list[str]) -> Path:
    """The config file (every feed, trusted) and a database holding CHATS chats and their rules."""
    import asyncio

    import yaml
    from sqlalchemy import insert

    from bot.store import Store
    from bot.store.tables import rules as rule_rows
    from tests.fakes.clock import FakeClock

    config = tmp / "newsalert.yaml"
    url = f"sqlite:///{tmp / 'newsalert.db'}"
    feeds = [{"url": f"{base}/feed/{i}.xml", "name": f"Feed {i}"} for i in range(n_feeds)]
    config.write_text(yaml.safe_dump({"database_url": url, "feeds": feeds}))

    async def fill() -> None:
        store, now = Store.open(url), FakeClock().now()
        await store.upgrade()
        chats = [await store.subscribe("console", f"chat-{k}", f"Chat {k}", now) for k in range(CHATS)]
        rows = [
            dict(subscription_id=chats[k % CHATS].id, query=q, source="chat", active=True, created_at=now)
            for k, q in enumerate(rules)
        ]
        async with store.engine.begin() as conn:
            await conn.execute(insert(rule_rows), rows)
        await store.close()

    asyncio.run(fill())
    return config


def report(out: dict, n_feeds: int, n_rules: int) -> str:
    marks = dict(out["marks"])
    start, indexed = (marks[k]["VmRSS"] for k in marks)
    passes = out["passes"]
    peak = max([marks[k]["VmHWM"] for k in marks] + [p["VmHWM"] for p in passes])
    steady = max(p["VmRSS"] for p in passes[1:]) if len(passes) > 1 else passes[0]["VmRSS"]
    lines = ["| moment | RSS MB | peak MB (VmHWM) |", "|---|---|---|"]
    lines.append(f"| bare interpreter | {out['bare'] / MB:.1f} | |")
    lines.append(f"| interpreter + the bot's imports (naive baseline) | {out['imports'] / MB:.1f} | |")
    lines += [f"| {k} | {v['VmRSS'] / MB:.1f} | {v['VmHWM'] / MB:.1f} |" for k, v in marks.items()]
    lines += ["", "| pass | feeds polled | new items | alerts | sent | wall s | RSS after MB | peak during MB"
              " | parse workers RSS MB |", "|" + "---|" * 9]  # fmt: skip
    for p in passes:
        cells = [p["name"], f"{p['polled']:,}", f"{p['new']:,}", f"{p['alerts']:,}", f"{p['sent']:,}"]
        cells += [f"{p['seconds']:.0f}", f"{p['VmRSS'] / MB:.1f}", f"{p['VmHWM'] / MB:.1f}"]
        lines.append("| " + " | ".join(cells + [f"{p['workers'] / MB:.1f}"]) + " |")
    per_rule = (indexed - start) / n_rules
    per_feed = (start - out["imports"]) / n_feeds
    lines += [
        "",
        f"- {'MET' if peak < GOAL_MB * MB else 'MISSED'}: under {GOAL_MB} MB RSS at {n_feeds:,} feeds and"
        f" {n_rules:,} rules: peak {peak / MB:.0f} MB, steady (warm) {steady / MB:.0f} MB",
        f"- against the naive baseline (interpreter + imports, {out['imports'] / MB:.0f} MB): peak"
        f" {peak / out['imports']:.1f}x, {(peak - out['imports']) / MB:.0f} MB more",
        f"- per rule: {per_rule / 1024:.2f} KB (the index and the rule rows, from loading them);"
        f" per feed: {per_feed / 1024:.2f} KB (start-up beyond the imports, the App's fixed parts included)",
    ]
    for when, top in out["top"].items():
        lines += ["", f"tracemalloc {when}: {top['total'] / MB:.1f} MB traced in Python's allocator", ""]
        lines += ["| file | MB | blocks |", "|---|---|---|"]
        lines += [f"| {short(f)} | {size / MB:.1f} | {count:,} |" for f, size, count in top["files"]]
        lines += ["", "| line | MB | blocks |", "|---|---|---|"]
        lines += [f"| {short(f)} | {size / MB:.1f} | {count:,} |" for f, size, count in top["lines"]]
    return "\n".join(lines)


def short(filename: str) -> str:
    """A path from the package on: bot/rules/index.py, sqlalchemy/..., not the venv's full path."""
    parts = Path(filename).parts
    for root in ("bot", "site-packages", "python3.11"):
        if root in parts:
            at = parts.index(root)
            return "/".join(parts[at + (root != "bot") :])
    return filename


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 feeds, 10,000 rules, no RESULTS.md")
    parser.add_argument("--tracemalloc", action="store_true", help="where the memory goes (slower, larger)")
    parser.add_argument("--warm", type=int, default=4, help="warm passes after the cold one")
    parser.add_argument("--feeds", type=int, help="this many feeds instead (the rules stay), no RESULTS.md")
    parser.add_argument("--bot", type=Path, help=argparse.SUPPRESS)  # the measured process
    args = parser.parse_args()
    if args.bot:
        run_bot(json.loads(args.bot.read_text()))
    else:
        bench(args)


def bench(args: argparse.Namespace) -> None:
    import multiprocessing
    import random
    import subprocess
    import tempfile

    from bench.match_bench import make_rules
    from bench.poll_bench import feed_templates
    from bench.results import write_section
    from bot.feeds.parse import parse_feed

    n_feeds, n_rules = (1000, 10_000) if args.quick else (args.feeds or 10_000, 100_000)
    t0 = time.perf_counter()
    rules = [text for text, _ in make_rules(n_rules, random.Random(20240601), "watchlist")]
    templates = [(raw, row["root"] == "Atom") for row, raw in feed_templates()]
    stories = [(a.title, a.text[:1500]) for raw, _ in templates for a in parse_feed(raw).articles]
    print(f"{n_rules:,} rules over {CHATS:,} chats, e.g. {rules[:5]}; {n_feeds:,} feeds", flush=True)
    here, there = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(
        target=serve, args=(templates, stories, n_feeds, there), daemon=True
    )
    child.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base = here.recv()
            spec = dict(config=str(prepare(Path(tmp), base, n_feeds, rules)), server=base, warm=args.warm)
            spec |= dict(tracemalloc=args.tracemalloc, out=str(Path(tmp) / "out.json"))
            (Path(tmp) / "spec.json").write_text(json.dumps(spec))
            subprocess.run([sys.executable, __file__, "--bot", str(Path(tmp) / "spec.json")], check=True)
            out = json.loads(Path(spec["out"]).read_text())
    finally:
        child.terminate()
        child.join()
    table = report(out, n_feeds, n_rules)
    print(f"\n{table}")
    if args.quick or args.tracemalloc or args.feeds:
        return
    notes = NOTES.format(n_feeds=n_feeds, n_rules=n_rules, chats=CHATS, every=CHANGED_EVERY)
    command = ".venv/bin/python bench/memory_bench.py"
    write_section("Memory benchmark", command, time.perf_counter() - t0, f"{notes}\n{table}\n")


NOTES = """
The measured process: this script again (`--bot`), a fresh interpreter doing nothing but the bot's
life: `App` as `newsalert run` builds it (SQLite file, console channel writing to /dev/null), its
config file listing {n_feeds:,} feeds (trusted, on loopback), its database holding {chats:,} chats
(subscriptions) and {n_rules:,} rules among them (rule k to chat k mod {chats:,}), inserted before it
starts as chats' `/watch` would have. Rules: bench/match_bench.make_rules, watchlist mix (n-grams of the
corpus feeds, 70% phrases, 20% boolean, 5% NEAR, 4% case:, 1% regex). Feeds: bench/poll_bench's
corpus/real-feeds templates (RSS 2.0/Atom of 50-160 KB, about 40 items), feed N from template N mod 9
with its own guids and links, built on each request by tests/fakes/feed_server.FeedServer (ETag,
304) in a forked child process, so its memory is not counted. Every feed has the default `backfill: 0`.
A pass: the fake clock moved 2 days (every feed due), `poll_due()` until it returns nothing (100
feeds a call, 10 fetches at a time), then `deliver_due()` until it claims nothing. Cold: every feed
new, about 40 items each stored. Warm N: one feed in {every} has one new item (a corpus story), the
rest answer 304. Bodies of 16 KB and more are parsed by the bot's 2 parse worker processes: their
RSS is given apart (the last column), the goal is the bot process's.
RSS: VmRSS from /proc/self/status; peak: VmHWM, reset before each pass (5 to /proc/self/clear_refs).
Naive baseline: the same interpreter after the bot's imports, before anything is built. Per rule:
RSS added by loading the rules (rows read, parsed, indexed); per feed: RSS added by start-up beyond
the imports (settings, the config feeds synced), divided by the feeds.
"""


if __name__ == "__main__":
    main()
