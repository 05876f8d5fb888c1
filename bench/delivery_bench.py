"""Measures delivery to Telegram in real time: sustained rate against the 30/s ceiling, 429s, order.

10,000 alerts (10 stories, each alerting 1,000 private chats) are queued in the outbox of a real
bot.app.App (SQLite file, SystemClock). A fake Telegram (tests/fakes/telegram_api.FakeTelegram) in a
child process plays Telegram's limits: a message less than 1 s after the last one to its chat, or the
31st inside any 1 s window, gets 429 with retry_after. The bot delivers with `app.deliver_due()` on the
scheduler's tick (bot.app.DELIVER_TICK); a naive baseline sends the same alerts one after another
through TelegramChannel.send, sleeping retry_after on each 429.
Run from the repo root:  .venv/bin/python bench/delivery_bench.py [--quick]
The full run adds a "# Delivery benchmark" section to bench/RESULTS.md; --quick only prints.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import multiprocessing
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.results import write_section  # noqa: E402
from bot.app import DELIVER_TICK, App  # noqa: E402
from bot.channels.telegram import TelegramChannel  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.domain import Article, Delivery, FeedUpdate, Match, NewStory, Quote, StoryAlert, StoryKey  # noqa: E402
from bot.errors import TransientDeliveryError  # noqa: E402
from bot.pacing import Rate  # noqa: E402
from tests.fakes.telegram_api import TOKEN, FakeTelegram, Refusal  # noqa: E402

CEILING = 30  # messages a second, all chats together (Telegram's documented bulk limit)
PER_CHAT_GAP = 1.0  # seconds between two messages to one private chat
FIRST_CHAT = 10_001  # private chats have positive ids
STORY = re.compile(r"^Story (\d+) ")


# --- the fake, in a child process ----------------------------------------------------------------


@dataclass
class LimitedTelegram(FakeTelegram):
    """FakeTelegram with Telegram's flood limits as sliding windows, on the time a message arrives;
    a refused message does not count. Two extra methods: benchStats and benchReset."""

    refused: dict[str, int] = field(default_factory=lambda: {"chat": 0, "overall": 0})
    stamps: list[float] = field(default_factory=list)  # when each accepted message arrived
    window: deque[float] = field(default_factory=deque)  # accepted in the last second
    last_at: dict[int, float] = field(default_factory=dict)  # per chat

    async def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, now = int(params["chat_id"]), time.monotonic()
        wait, limit = self._wait(chat, now)
        if wait > 0:
            self.refused[limit] += 1
            retry_after = math.ceil(wait)  # Telegram says whole seconds
            raise Refusal(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        message = await super()._sendMessage(params)
        self.window.append(now)
        self.last_at[chat] = now
        self.stamps.append(now)
        return message

    def _wait(self, chat: int, now: float) -> tuple[float, str]:
        """Seconds until this chat may take a message (0: now), and the limit that says so."""
        while self.window and self.window[0] <= now - 1:
            self.window.popleft()
        overall = self.window[0] + 1 - now if len(self.window) >= CEILING else 0.0
        last = self.last_at.get(chat)
        per_chat = last + PER_CHAT_GAP - now if last is not None else 0.0
        return max((overall, "overall"), (per_chat, "chat"))

    async def _benchStats(self, _params: dict[str, Any]) -> dict[str, Any]:
        by_chat: dict[int, list[int]] = defaultdict(list)
        for message in self.sent:
            found = STORY.match(message["text"])
            by_chat[message["chat"]["id"]].append(int(found.group(1)) if found else -1)
        return {"refused": self.refused, "stamps": self.stamps, "by_chat": by_chat}

    async def _benchReset(self, _params: dict[str, Any]) -> bool:
        self.sent.clear()
        self._current.clear()
        self.stamps.clear()
        self.window.clear()
        self.last_at.clear()
        self.refused = dict.fromkeys(self.refused, 0)
        return True


def serve(pipe: Any) -> None:
    async def main() -> None:
        fake = await LimitedTelegram().start()
        pipe.send(fake.api_url)
        await asyncio.Event().wait()

    asyncio.run(main())


async def call_fake(api_url: str, method: str) -> Any:
    async with aiohttp.ClientSession() as session, session.post(f"{api_url}{TOKEN}/{method}") as answer:
        return (await answer.json())["result"]


# --- the bot and its queue -----------------------------------------------------------------------


def make_settings(tmp: Path, api_url: str, chats: int) -> Any:
    config = {
        "database_url": f"sqlite:///{tmp}/bench.db",
        "telegram": {"token": TOKEN, "api_url": api_url},
        "feeds": [{"url": "file:///dev/null"}],
        # ten stories a chat from one rule would be "breaking news" (one rolling message): measured
        # here is one message per alert
        "delivery": {"burst_stories": 1000},
        "subscriptions": [
            {"channel": "telegram", "address": str(FIRST_CHAT + i), "rules": ["Membership"]}
            for i in range(chats)
        ],
    }
    (tmp / "bench.yaml").write_text(yaml.safe_dump(config))
    return load_settings(tmp / "bench.yaml", {})


async def queue_alerts(app: App, chats: int, stories: int) -> None:
    """`stories` new stories in one poll, each alerting every chat (subscription ids 1..chats, in
    config order): the outbox holds story 1 for every chat, then story 2, and so on."""
    now = app.clock.now()
    [feed] = await app.store.claim_due_feeds(now, 1, timedelta(0), only=[1])
    quote = Quote("Membership plan.", ((0, 10),))
    new = []
    for n in range(1, stories + 1):
        title = f"Story {n} about the Membership plan"
        article = Article(title, f"https://news.example/{n}", f"g{n}", "Membership plan.", now, f"h{n}")
        alerts = tuple(StoryAlert(sub, (Match(sub, "Membership", quote),)) for sub in range(1, chats + 1))
        new.append(NewStory(article, "Membership plan.", "A summary.", alerts, StoryKey(f"n/{n}", f"s {n}")))
    await app.store.save_poll(
        feed, new, FeedUpdate(None, None, None, now, "Bench feed"), now, app.poller.stories
    )


async def queued(app: App, chats: int, stories: int) -> list[Delivery]:
    """Every queued alert as the dispatcher would read it, in queue order (a lease of 0 leaves them due)."""
    now, later = app.clock.now(), app.clock.now() + timedelta(days=1)
    rows = []
    for sub in range(1, chats + 1):
        rows += await app.store.claim_batch(sub, later, now, timedelta(0), stories)
    return sorted(rows, key=lambda d: d.id)


class Stopwatch:
    """Wall time spent in some async methods of some objects (wrapped on the instance)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, owner: Any, name: str, label: str) -> None:
        real = getattr(owner, name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await real(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start
                self.calls[label] += 1

        setattr(owner, name, timed)


# --- the two runs --------------------------------------------------------------------------------


async def naive(app: App, deliveries: list[Delivery]) -> dict:
    """One after another, as fast as the API answers; a 429 waits its retry_after and tries again."""
    channel = app.channels["telegram"]
    asleep, refusals, sends = 0.0, 0, []
    start = time.perf_counter()
    for delivery in deliveries:
        while True:
            t0 = time.perf_counter()
            try:
                await channel.send(delivery.subscription.address, delivery.alert)
                sends.append(time.perf_counter() - t0)
                break
            except TransientDeliveryError as error:
                refusals += 1
                asleep += error.retry_after or 1.0
                await asyncio.sleep(error.retry_after or 1.0)
    wall = time.perf_counter() - start
    send_ms = statistics.median(sends) * 1000
    note = f"{asleep:.0f} s asleep on retry_after; send {send_ms:.1f} ms (median)"
    return dict(wall=wall, seen_429=refusals, note=note)


async def paced(app: App, total: int, tick: float) -> dict:
    """`deliver_due()` every tick, as the scheduler runs it (one at a time, missed ticks coalesced),
    until every alert is sent."""
    watch = Stopwatch()
    store = ("claim_due_deliveries", "release", "mark_sent", "mark_retry", "claim_due_notices")
    for name in store:
        watch.wrap(app.store, name, name)
    watch.wrap(app.channels["telegram"], "send", "send")
    sent = retried = ticks = 0
    busy = 0.0
    start = time.perf_counter()
    deadline = start + total / CEILING * 3 + 60
    while sent < total and time.perf_counter() < deadline:
        t0 = time.perf_counter()
        report = await app.deliver_due()
        busy += time.perf_counter() - t0
        sent, retried, ticks = sent + report.sent, retried + report.retried, ticks + 1
        await asyncio.sleep(tick - (time.perf_counter() - start) % tick)
    wall = time.perf_counter() - start
    per_message = {name: watch.seconds[name] * 1000 / max(sent, 1) for name in ("send", *store)}
    parts = ", ".join(f"{name} {ms:.1f}" for name, ms in per_message.items() if ms >= 0.05)
    note = (
        f"{ticks} ticks, deliver_due busy {busy / wall:.0%} of the time; ms per message sent: {parts} "
        f"(claims: {watch.calls['claim_due_deliveries']:,}); {retried} retried"
    )
    return dict(wall=wall, seen_429=retried, note=note)


def analyse(name: str, run: dict, stats: dict, chats: int, stories: int) -> dict:
    """The fake's view of a run: rate, 429s, the busiest second, and every chat's stories in order."""
    stamps = sorted(stats["stamps"])
    n = len(stamps)
    lo, hi = n // 10, n * 9 // 10
    sustained = (hi - lo) / (stamps[hi] - stamps[lo]) if n > 10 and stamps[hi] > stamps[lo] else 0.0
    peak, left = 0, 0
    for right, at in enumerate(stamps):
        while at - stamps[left] >= 1:
            left += 1
        peak = max(peak, right - left + 1)
    expected = list(range(1, stories + 1))
    got = {int(chat): numbers for chat, numbers in stats["by_chat"].items()}
    in_order = sum(got.get(FIRST_CHAT + i) == expected for i in range(chats))
    refused = stats["refused"]
    return dict(name=name, messages=n, wall=run["wall"], sustained=sustained, peak=peak, why=refused,
                refused=sum(refused.values()), in_order=in_order, chats=chats, note=run["note"])  # fmt: skip


async def bench(
    api_url: str, chats: int, stories: int, tick: float, overall: Rate | None, tmp: Path
) -> tuple[list[dict], str]:
    app = App(make_settings(tmp, api_url, chats))
    await app.start()
    if overall:  # an experiment with the bot's overall bucket, without editing bot/
        app.channels["telegram"].overall = overall  # type: ignore[misc]
    try:
        t0 = time.perf_counter()
        await queue_alerts(app, chats, stories)
        setup = f"queued {chats * stories:,} alerts in {time.perf_counter() - t0:.1f} s"
        print(setup)
        rows = []
        await call_fake(api_url, "benchReset")
        print("naive baseline: sending ...")
        run = await naive(app, await queued(app, chats, stories))
        rows.append(analyse("naive baseline", run, await call_fake(api_url, "benchStats"), chats, stories))
        print(f"  {rows[-1]['wall']:.0f} s, {run['note']}")
        await call_fake(api_url, "benchReset")
        print(f"newsalert (deliver_due every {tick:g} s): delivering ...")
        run = await paced(app, chats * stories, tick)
        rows.append(analyse("newsalert", run, await call_fake(api_url, "benchStats"), chats, stories))
        print(f"  {rows[-1]['wall']:.0f} s, {run['note']}")
        left = await app.store.count_outbox()
        return rows, f"{setup}; outbox afterwards: {left}"
    finally:
        await app.close()


# --- report --------------------------------------------------------------------------------------


def report(rows: list[dict]) -> str:
    head = (
        "run | messages | total s | overall msg/s | sustained msg/s (10-90%) | busiest 1 s "
        "| 429s (chat / overall) | chats in order"
    )
    lines = [f"| {head} |", "|" + "---|" * 8]
    for r in rows:
        cells = [
            r["name"], f"{r['messages']:,}", f"{r['wall']:.1f}", f"{r['messages'] / r['wall']:.1f}",
            f"{r['sustained']:.1f} ({r['sustained'] / CEILING:.0%})", r["peak"],
            f"{r['refused']:,} ({r['why']['chat']:,} / {r['why']['overall']:,})",
            f"{r['in_order']:,} / {r['chats']:,}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    ours = rows[-1]
    lines.append("")
    for r in rows:
        lines.append(f"- {r['name']}: {r['note']}")
    lines.append("")
    rate, goal = ours["sustained"], CEILING * 0.95
    met = "MET" if rate >= goal else "MISSED"
    lines.append(f"- {met}: sustained rate >= {goal:.1f} msg/s (95% of 30): {rate:.1f}")
    lines.append(f"- {'MET' if ours['refused'] == 0 else 'MISSED'}: zero 429s provoked: {ours['refused']}")
    kept = ours["in_order"] == ours["chats"]
    lines.append(f"- {'MET' if kept else 'MISSED'}: every chat got its alerts once, in queue order: "
                 f"{ours['in_order']:,} of {ours['chats']:,} chats")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600 alerts to 60 chats, no RESULTS.md")
    tick = DELIVER_TICK.total_seconds()
    parser.add_argument("--tick", type=float, default=tick, help=f"seconds between calls ({tick:g})")
    parser.add_argument("--rate", type=float, help="try another rate for the bot's overall bucket (30/s)")
    parser.add_argument("--burst", type=float, help="try another burst for the bot's overall bucket (30)")
    args = parser.parse_args()
    logging.getLogger("bot.delivery").setLevel(logging.ERROR)  # a line per 429: they are counted
    chats, stories = (60, 10) if args.quick else (1000, 10)
    bot = TelegramChannel.overall
    overall = Rate(args.rate or bot.per_second, args.burst or bot.burst) if args.rate or args.burst else None
    t0 = time.perf_counter()
    here, there = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(target=serve, args=(there,), daemon=True)
    child.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows, setup = asyncio.run(bench(here.recv(), chats, stories, args.tick, overall, Path(tmp)))
    finally:
        child.terminate()
        child.join()
    table = report(rows)
    print(f"\n{table}")
    if args.quick:
        return
    write_results(table, setup, chats, stories, args.tick, time.perf_counter() - t0)


def write_results(table: str, setup: str, chats: int, stories: int, tick: float, total: float) -> None:
    command = " ".join([".venv/bin/python bench/delivery_bench.py", *sys.argv[1:]])
    method = f"""
Queue: {chats * stories:,} alerts, {stories} stories each alerting {chats:,} private chats, saved in one
`store.save_poll` (outbox order: story 1 to every chat, then story 2, ...).
{setup[0].upper()}{setup[1:]}.
Fake Telegram: tests/fakes/telegram_api.FakeTelegram in a child process on loopback, subclassed to
refuse, with 429 and a whole-second retry_after, a message arriving less than 1 s after the last
accepted one to its chat, or the 31st accepted inside any sliding 1 s window; refused messages do not
count. It records when each accepted message arrived and which story each chat got, in order.
newsalert: `App` as `newsalert run` builds it (SQLite file, SystemClock, TelegramChannel over
python-telegram-bot), `app.deliver_due()` every {tick:g} s as the scheduler calls it (one at a time,
late ticks skipped), until all are sent. The store's and the channel's calls are timed by wrapping
them on the instance.
Naive baseline: the same alerts (read back from the queue in order) sent one after another with
`TelegramChannel.send`, no pacing; a 429 sleeps its retry_after and tries the same alert again.
Columns: from the fake's arrival times; sustained = messages between the 10th and 90th percentile
arrival, over that time; busiest 1 s = most accepted messages in any 1 s window (the fake caps it
at 30); chats in order = chats that got exactly stories 1..{stories}, once each, in that order.
"""
    write_section("Delivery benchmark", command, total, f"{method}\n{table}\n")


if __name__ == "__main__":
    main()
