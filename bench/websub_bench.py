"""Measures WebSub push ingest in real time: from a hub's POST to the first chat send, median over N pushes.

A real bot.app.App runs as `newsalert run` does (`App.serve`: the scheduler's ticks, the web app on
http.port, a SQLite file, SystemClock) with one feed, one rule and the console channel, whose writes are
timed. A fake hub (tests/fakes/websub_hub.FakeHub) on loopback gets the bot's subscription, checks its
intent, then pushes N stories one at a time, each a new entry matching the rule, signed with sha256; a
push's latency is from just before its POST to the console's write of its alert. Nothing else is due.
The same pushes are then made with delivery not woken (the alert waits for the 1 s delivery tick).
Baseline, the same story found by polling: a feed polled every poll_interval (5 minutes by default)
finds a story half an interval after it appears, on average, plus the time from the poll to the send,
measured here too (`app.poll_due()` of the feed, then the delivery tick).
Run from the repo root:  .venv/bin/python bench/websub_bench.py [--pushes N] [--quick]
The full run writes the "WebSub push benchmark" section of bench/RESULTS.md; --quick only prints.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import random
import socket
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.results import write_section  # noqa: E402
from bot.app import DELIVER_TICK, App  # noqa: E402
from bot.config import load_settings  # noqa: E402
from tests.fakes.feed_server import FeedServer  # noqa: E402
from tests.fakes.websub_hub import FakeHub  # noqa: E402

PUBLIC = "https://bot.example.org"
RULE = "Membership Action Plan"


class TimedConsole(io.StringIO):
    """The console channel's stream: when each alert's first line was written."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: dict[str, float] = {}
        self.new = asyncio.Event()
        self._read = 0  # how much of what was written has been looked at, whole lines

    def write(self, text: str) -> int:
        written = super().write(text)
        if "\n" in text:  # a line ends: rich writes one in several pieces
            value = self.getvalue()
            end = value.rindex("\n") + 1
            for line in value[self._read : end].splitlines():
                if line.startswith("== "):
                    self.sent.setdefault(line[3:].strip(), time.perf_counter())
                    self.new.set()
            self._read = end
        return written


def item(i: int, rng: random.Random) -> tuple[str, str]:
    """A story of its own: made-up words (no two stories share one), and the rule's phrase."""
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 9))) for _ in range(14)]
    title = f"{words[0].title()} {words[1]} {words[2]} seeks a {RULE} for {words[3].title()}"
    body = (
        f"{' '.join(words[4:9]).capitalize()}. {words[9].title()} {words[10]} {words[11]} told reporters a "
        f"{RULE} was {words[12]} {words[13]} ({i})."
    )
    guid = f"https://world.example.org/news/{i}-{words[0]}"
    return title, (
        f"<item><title>{title}</title><guid>{guid}</guid><link>{guid}</link>"
        f"<description>{body}</description></item>"
    )


def rss(hub: str, items: list[str]) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f'<title>World</title><atom:link rel="hub" href="{hub}"/>'
        f'<atom:link rel="self" href="https://world.example.org/rss"/>{"".join(reversed(items))}'
        "</channel></rss>"
    ).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def until_sent(console: TimedConsole, title: str, timeout: float = 30.0) -> float:
    deadline = time.perf_counter() + timeout
    while title not in console.sent:
        console.new.clear()
        await asyncio.wait_for(console.new.wait(), max(deadline - time.perf_counter(), 0.001))
    return console.sent[title]


async def bench(pushes: int, polls: int, tmp: Path) -> dict[str, list[float] | float]:
    rng = random.Random(22)
    feeds, hub = await FeedServer().start(), await FakeHub(public=PUBLIC, auto_verify=True).start()
    items = [item(0, rng)[1]]
    feeds.files["/world.xml"] = rss(hub.url, items)
    port = free_port()
    hub.reaches = f"http://127.0.0.1:{port}"
    config = tmp / "newsalert.yaml"
    config.write_text(
        f"database_url: sqlite:///{tmp}/bench.db\nlog_level: WARNING\n"
        f"http: {{host: 127.0.0.1, port: {port}, public_url: '{PUBLIC}'}}\n"
        f"feeds: [{{url: '{feeds.url('/world.xml')}', name: World Desk}}]\n"
        f"subscriptions: [{{channel: console, rules: ['{RULE}']}}]\n"
        "delivery: {burst_stories: 1000}\n"  # each story its own first send, not one breaking-news message
    )
    console = TimedConsole()
    app = App(load_settings(config, {}), console=console)
    await app.start()
    stop = asyncio.Event()
    serving = asyncio.create_task(app.serve(stop))
    try:
        assert app.pushes
        while (sub := await app.store.push_subscription(1)) is None or sub.state != "subscribed":
            await asyncio.sleep(0.05)  # the first poll tick subscribes; the hub checks at once
        woken = await push_series(app, hub, console, items, rng, pushes, 1)
        wake, app.pushes.wake = app.pushes.wake, lambda: None
        unwoken = await push_series(app, hub, console, items, rng, pushes, 1 + pushes)
        app.pushes.wake = wake
        polled = await poll_series(app, feeds, hub, console, items, rng, polls, 1 + 2 * pushes)
    finally:
        stop.set()
        await serving
        await app.close()
        await hub.stop()
        await feeds.stop()
    interval = app.settings.poll_interval.total_seconds()
    return {"woken": woken, "unwoken": unwoken, "polled": polled, "interval": interval}


async def push_series(
    app: App, hub: FakeHub, console: TimedConsole, items: list[str], rng: random.Random, n: int, first: int
) -> list[float]:
    latencies = []
    for i in range(first, first + n):
        await asyncio.sleep(rng.uniform(0.2, 1.2))  # any phase of the delivery tick
        title, entry = item(i, rng)
        items.append(entry)
        body = rss(hub.url, items)
        started = time.perf_counter()
        status = await hub.publish(body)
        assert status == 204, status
        latencies.append(await until_sent(console, title) - started)
    return latencies


async def poll_series(
    app: App, feeds: FeedServer, hub: FakeHub, console: TimedConsole, items: list[str], rng: random.Random,
    n: int, first: int,
) -> list[float]:  # fmt: skip
    """From the poll that finds a new story to its send: what polling adds to its half interval."""
    latencies = []
    for i in range(first, first + n):
        await asyncio.sleep(rng.uniform(0.2, 1.2))
        title, entry = item(i, rng)
        items.append(entry)
        feeds.files["/world.xml"] = rss(hub.url, items)
        started = time.perf_counter()
        await app.poll_due(only=[1])
        latencies.append(await until_sent(console, title) - started)
    return latencies


def report(results: dict[str, list[float] | float]) -> tuple[str, bool]:
    woken, unwoken, polled = results["woken"], results["unwoken"], results["polled"]
    interval = results["interval"]
    assert isinstance(woken, list) and isinstance(unwoken, list) and isinstance(polled, list)
    assert isinstance(interval, float)
    baseline = interval / 2 + statistics.median(polled)
    ours = statistics.median(woken)

    def row(name: str, values: list[float], expected: float | None = None) -> str:
        cuts = statistics.quantiles(values, n=20, method="inclusive") if len(values) > 1 else values * 19
        median = expected if expected is not None else statistics.median(values)
        return (
            f"| {name} | {len(values)} | {median * 1000:,.0f} | {cuts[18] * 1000:,.0f} | "
            f"{max(values) * 1000:,.0f} | {baseline / median:,.0f}x |"
        )

    lines = [
        "| path | stories | median ms | p95 ms | max ms | faster than polling |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        row("push, delivery woken (as built)", woken),
        row(f"push, delivery at its next tick ({DELIVER_TICK.total_seconds():g} s)", unwoken),
        f"| polling every {interval / 60:g} min: half the interval + poll to send "
        f"({statistics.median(polled) * 1000:,.0f} ms median, {len(polled)} polls) | {len(polled)} | "
        f"{baseline * 1000:,.0f} (expected) | - | - | 1x |",
    ]
    met = ours < 1.0
    lines += [
        "",
        f"- {'MET' if met else 'MISSED'}: from the hub's POST to the first chat send under 1 s (median): "
        f"{ours * 1000:,.0f} ms ({baseline / ours:,.0f}x sooner than polling's expected {baseline:,.1f} s)",
    ]
    return "\n".join(lines), met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=50, help="pushes in each series (50)")
    parser.add_argument("--quick", action="store_true", help="10 pushes, 5 polls, no RESULTS.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    pushes, polls = (10, 5) if args.quick else (args.pushes, 20)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(bench(pushes, polls, Path(tmp)))
    table, _ = report(results)
    print(f"\n{table}")
    if args.quick:
        return
    command = " ".join([".venv/bin/python bench/websub_bench.py", *sys.argv[1:]])
    method = f"""
Setup: one feed naming a hub, one rule ("{RULE}"), the console channel (delivery.burst_stories 1000: each
story is its own alert, not joined into one breaking-news message); `App.serve` as `newsalert run`
runs it (scheduler ticks, web app on loopback, SQLite file, SystemClock), nothing else due. The fake hub
(tests/fakes/websub_hub.FakeHub) is subscribed to and checks intent at once; then {pushes} pushes, each
the feed with one more matching story (the whole feed, as hubs send it), signed sha256, 0.2-1.2 s apart
(any phase of the 1 s delivery tick). Latency: from just before the hub's POST to the console's write of
the story's alert. The second series is the same with delivery not woken by a push.
Baseline: the same story found by polling at the default poll_interval: expected latency half the
interval, plus the time from a poll that finds the story to its send, measured on the same bot
({polls} polls; `app.poll_due()` of the feed, the delivery tick sending it).
"""
    write_section("WebSub push benchmark", command, time.perf_counter() - t0, f"{method}\n{table}\n")


if __name__ == "__main__":
    main()
