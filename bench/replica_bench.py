"""Measures poll and delivery throughput of 1, 2 and 3 `newsalert run` replicas on one PostgreSQL database.

Each run starts from an empty schema in its own database (never `test`), starts N replicas as real
subprocesses (as tests/test_replicas.py does), and watches from outside:
- poll run: 1,000 feeds (--feeds) made from corpus/real-feeds as bench/poll_bench.py makes them
  (~100 KB, ~40 items each) on a loopback feed server (this process), all due at start; feeds/s from
  the first fetch until every feed has `last_success_at` (its articles are rows by then).
  Then database size, rows and bytes per table.
- delivery run: one feed whose 10 stories match the one rule of each of 300 chats on
  the fake Telegram (this process): messages/s from the first message until all have arrived.
Throughout: connections of this database in pg_stat_activity (peak), and the CPU time of the replicas
and of their PostgreSQL backends (from /proc) over the measured window.
Run from the repo root:  .venv/bin/python bench/replica_bench.py [--quick] [--database URL]
The full run rewrites the "# Scale on paper" section of bench/RESULTS.md; --quick only prints.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.poll_bench import build_bodies  # noqa: E402
from bench.results import write_section  # noqa: E402
from tests.fakes.feed_server import FeedServer  # noqa: E402
from tests.fakes.telegram_api import TOKEN, FakeTelegram  # noqa: E402

DATABASE = "postgresql://postgres@127.0.0.1:5432/newsalert_bench"
REPLICAS = (1, 2, 3)
WORDS = (
    "minister council vote budget energy market strike court ruling border talks election storm "
    "flood harbour railway union inflation rates bank deal summit treaty protest police report "
    "hospital school climate drought wildfire tariff export import shares profit loss airline "
    "airport bridge tunnel mayor senate parliament coalition opposition reform tax pension"
).split()
TICKS = os.sysconf("SC_CLK_TCK")
POOL = 5 + 10  # SQLAlchemy's default QueuePool: pool_size 5, max_overflow 10 (Store.open keeps them)


@dataclass
class Run:
    kind: str  # "poll" or "delivery"
    replicas: int
    work: int  # feeds polled, or messages delivered
    seconds: float = 0.0  # first fetch (or message) to the last
    startup: float = 0.0  # launch to the first fetch (or message)
    replica_cpu: float = 0.0  # seconds, all replicas, over `seconds`
    postgres_cpu: float = 0.0  # seconds, this database's backends, over `seconds` (a lower bound)
    connections: int = 0  # peak in pg_stat_activity, this database, the bench's own excluded
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.work / self.seconds


def words(rng: random.Random, n: int) -> str:
    return " ".join(
        rng.choice(WORDS) + ("" if rng.random() < 0.7 else str(rng.randrange(100))) for _ in range(n)
    )


def rss(title: str, items: list[tuple[str, str, str]], now: datetime) -> bytes:
    """An RSS 2.0 feed of (title, link, description) items, newest first, an hour apart."""
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{format_datetime(now - timedelta(hours=k))}</pubDate>"
        f"<description>{d}</description></item>\n"
        for k, (t, link, d) in enumerate(items)
    )
    channel = f"<channel><title>{title}</title>{body}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


def alert_feed(stories: int, now: datetime) -> bytes:
    rng = random.Random(-1)
    items = [
        (f"Membership {words(rng, 8)}", f"https://alerts.example/{k}", words(rng, 60) + ".")
        for k in range(stories)
    ]
    return rss("Alerts", items, now)


def write_config(path: Path, database: str, feed_urls: list[str], chats: int) -> None:
    feeds = "".join(f"  - url: {url}\n    backfill: all\n" for url in feed_urls)
    subs = "".join(
        f"  - channel: telegram\n    address: '{4001 + c}'\n    rules: [Membership]\n" for c in range(chats)
    )
    path.write_text(
        f"database_url: {database}\nhttp:\n  host: 127.0.0.1\n  port: 0\n"
        "delivery:\n  burst_stories: 100000\n"  # one message per alert, no rolling "breaking" edits
        f"feeds:\n{feeds}subscriptions:\n{subs}",
        encoding="utf-8",
    )


def bot_env(telegram: FakeTelegram) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSALERT_", "TELEGRAM_", "SLACK_"))}
    return {
        **env,
        "NO_COLOR": "1",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "NEWSALERT_TELEGRAM_API_URL": telegram.api_url,
    }


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class TimedTelegram(FakeTelegram):
    """The fake Telegram, noting when each message arrived."""

    arrivals: list[float] = field(default_factory=list)

    async def _sendMessage(self, params: dict) -> dict:
        message = await super()._sendMessage(params)
        self.arrivals.append(time.perf_counter())
        return message


class Watch:
    """The bench's own connection to the database: counts, connections, backend CPU."""

    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn
        self.peak = 0

    async def sample(self) -> None:
        count = await self.conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        self.peak = max(self.peak, count)

    async def backends(self) -> dict[int, float]:
        pids = await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {row["pid"]: cpu_seconds(row["pid"]) for row in pids}

    async def tables(self) -> dict[str, tuple[int, int]]:
        """Rows and bytes (with indexes and TOAST) of every table."""
        names = await self.conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        result = {}
        for row in names:
            name = row["tablename"]
            rows = await self.conn.fetchval(f'SELECT count(*) FROM "{name}"')
            size = await self.conn.fetchval("SELECT pg_total_relation_size($1::regclass)", f'"{name}"')
            result[name] = (rows, size)
        return result


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


async def empty_schema(database: str) -> None:
    """The bench's database, created on a server that does not have it yet, emptied."""
    try:
        conn = await asyncpg.connect(database)
    except asyncpg.InvalidCatalogNameError:
        server, name = database.rsplit("/", 1)
        admin = await asyncpg.connect(f"{server}/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(database)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


async def start_replicas(n: int, config: Path, env: dict[str, str]) -> list[asyncio.subprocess.Process]:
    return [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(config),
            env=env,
            cwd=config.parent,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=open(config.parent / f"replica{r}.log", "wb"),
        )  # fmt: skip
        for r in range(n)
    ]


async def stop_replicas(processes: list[asyncio.subprocess.Process]) -> list[int | None]:
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    codes = []
    for process in processes:
        try:
            codes.append(await asyncio.wait_for(process.wait(), 30))
        except TimeoutError:
            process.kill()
            codes.append(await process.wait())
    return codes


async def measure(
    run: Run,
    processes: list[asyncio.subprocess.Process],
    watch: Watch,
    started: Callable[[], Awaitable[bool]],
    finished: Callable[[], Awaitable[bool]],
    timeout: float,
) -> None:
    """Sample every 0.2 s: the window runs from `started()` to `finished()`; CPU is taken at both ends."""
    launch = time.perf_counter()
    first = None
    cpu0: tuple[float, dict[int, float]] = (0.0, {})
    while time.perf_counter() - launch < timeout:
        await watch.sample()
        if first is None and await started():
            first = time.perf_counter()
            cpu0 = (sum(cpu_seconds(p.pid) for p in processes), await watch.backends())
        if first is not None and await finished():
            run.seconds, run.startup = time.perf_counter() - first, first - launch
            run.replica_cpu = sum(cpu_seconds(p.pid) for p in processes) - cpu0[0]
            run.postgres_cpu = spent(cpu0[1], await watch.backends())
            run.connections = watch.peak
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{run.kind} run with {run.replicas} replicas unfinished after {timeout:.0f} s")


async def poll_run(n: int, feeds: int, chats: int, database: str, tmp: Path) -> Run:
    await empty_schema(database)
    cold, _changed, _templates = build_bodies(feeds, random.Random(20240601))
    server = await FeedServer(files=cold).start()
    telegram = await FakeTelegram().start()
    config = tmp / "poll.yaml"
    write_config(config, database, [server.url(path) for path in cold], chats)
    watch = Watch(await asyncpg.connect(database))
    run = Run("poll", n, feeds)

    async def started() -> bool:
        return bool(server.requests)

    async def finished() -> bool:
        polled = await watch.conn.fetchval("SELECT count(*) FROM feeds WHERE last_success_at IS NOT NULL")
        return polled == feeds  # a poll's articles and its last_success_at are one transaction

    processes = await start_replicas(n, config, bot_env(telegram))
    try:
        await measure(run, processes, watch, started, finished, timeout=60 + feeds * 1.0)
        run.extra["db_bytes"] = await watch.conn.fetchval("SELECT pg_database_size(current_database())")
        run.extra["tables"] = await watch.tables()
        run.extra["most_fetches"] = max(map(server.hits, cold))
        run.extra["feed_kb"] = sum(map(len, server.files.values())) / feeds / 1000
    finally:
        run.extra["exit"] = await stop_replicas(processes)
        await watch.conn.close()
        await server.stop()
        await telegram.stop()
    return run


async def delivery_run(n: int, chats: int, per_chat: int, database: str, tmp: Path) -> Run:
    await empty_schema(database)
    server = await FeedServer(files={"/alerts.xml": alert_feed(per_chat, datetime.now(UTC))}).start()
    telegram = await TimedTelegram().start()
    config = tmp / "delivery.yaml"
    write_config(config, database, [server.url("/alerts.xml")], chats)
    watch = Watch(await asyncpg.connect(database))
    total = chats * per_chat
    run = Run("delivery", n, total)

    async def started() -> bool:
        return bool(telegram.sent)

    async def finished() -> bool:
        return len(telegram.sent) >= total

    processes = await start_replicas(n, config, bot_env(telegram))
    try:
        await measure(run, processes, watch, started, finished, timeout=60 + total / 10)
        await asyncio.sleep(2)  # anything sent twice would arrive now
        run.extra["tables"] = await watch.tables()
        distinct = {(m["chat"]["id"], m["text"].split("\n")[0]) for m in telegram.sent}
        run.extra["sent"], run.extra["distinct"] = len(telegram.sent), len(distinct)
        run.extra["peak_per_second"] = peak_per_second(telegram)
    finally:
        run.extra["exit"] = await stop_replicas(processes)
        await watch.conn.close()
        await server.stop()
        await telegram.stop()
    return run


def peak_per_second(telegram: TimedTelegram) -> int:
    """Messages that arrived within the busiest second (a sliding window)."""
    times, peak, start = telegram.arrivals, 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def table(polls: list[Run], deliveries: list[Run]) -> str:
    head = "replicas | feeds/s | per replica | startup s | replica CPU ms/feed | PostgreSQL CPU ms/feed"
    head += " | peak connections | messages/s | busiest second | replica CPU ms/message"
    lines = [f"| {head} |", "|" + "---|" * 10]
    for p, d in zip(polls, deliveries, strict=True):
        cells = [
            p.replicas, f"{p.rate:.1f}", f"{p.rate / p.replicas:.1f}", f"{p.startup:.1f}",
            f"{p.replica_cpu * 1000 / p.work:.1f}", f"{p.postgres_cpu * 1000 / p.work:.1f}",
            f"{max(p.connections, d.connections)}", f"{d.rate:.1f}", d.extra["peak_per_second"],
            f"{d.replica_cpu * 1000 / d.work:.1f}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def checks(polls: list[Run], deliveries: list[Run]) -> str:
    lines = []
    for p in polls:
        lines.append(
            f"- poll, {p.replicas} replica(s): {p.work:,} feeds in {p.seconds:.1f} s, each fetched at most "
            f"{p.extra['most_fetches']} time(s); exit codes {p.extra['exit']}"
        )
    for d in deliveries:
        lines.append(
            f"- delivery, {d.replicas} replica(s): {d.extra['sent']:,} messages "
            f"({d.extra['distinct']:,} distinct) "
            f"in {d.seconds:.1f} s after a {d.startup:.1f} s start; exit codes {d.extra['exit']}"
        )
    return "\n".join(lines)


def sizes(run: Run) -> str:
    rows = sorted(run.extra["tables"].items(), key=lambda kv: -kv[1][1])
    lines = ["| table | rows | MB (with indexes, TOAST) |", "|---|---|---|"]
    lines += [f"| {name} | {n:,} | {b / 1e6:.1f} |" for name, (n, b) in rows if name != "alembic_version"]
    lines.append(f"| whole database (pg_database_size) | | {run.extra['db_bytes'] / 1e6:.1f} |")
    return "\n".join(lines)


def projection(polls: list[Run], deliveries: list[Run], feeds: int = 100_000, chats: int = 100_000) -> str:
    """From the measured figures to 100,000 feeds and 100,000 chats; every number says where it comes from."""
    from bot.app import FEEDS_PER_TICK, POLL_TICK  # the tick's fixed batch: a ceiling on each replica

    top, one = polls[-1], polls[0]
    need = feeds / 300  # polls a second at the default 5-minute interval
    ceiling = FEEDS_PER_TICK / POLL_TICK.total_seconds()
    middle = sorted(polls, key=lambda p: p.replica_cpu + p.postgres_cpu)[len(polls) // 2]  # the median run
    cpu_ms = (middle.replica_cpu + middle.postgres_cpu) * 1000 / middle.work
    tables = top.extra["tables"]
    per_article = (tables["articles"][1] + tables["story_clues"][1]) / tables["articles"][0]
    outbox = deliveries[-1].extra["tables"]["outbox"]
    per_alert = outbox[1] / outbox[0]
    peak = max(r.connections for r in polls + deliveries if r.replicas == top.replicas) / top.replicas
    cores = need * cpu_ms / 1000
    replicas = max(math.ceil(need / ceiling), math.ceil(cores))
    day = [(a, feeds * a * per_article / 1e9) for a in (10, 50)]
    hour, fastest = 30 * 3600, max(d.rate for d in deliveries)
    pace = f"The limit is per bot token: {hour:,} messages an hour, whatever the replicas." + (
        f" The fastest run here sent {fastest:.0f}/s: Telegram would answer 429 (each `retry_after` is"
        " honoured, so nothing is lost, but it is wasted work and risks longer bans)."
        if fastest > 30
        else ""
    )
    return f"""\
Polling. {feeds:,} feeds every 5 minutes is {need:.0f} polls/s. Measured: {one.rate:.1f} feeds/s with one
replica, {top.rate:.1f} with {top.replicas}: on 2 CPUs shared with PostgreSQL and the servers, polling is
CPU-bound, so replicas past the first add little here. A cold
poll (every item new, {top.extra["feed_kb"]:.0f} KB, ~40 items) cost {cpu_ms:.0f} ms of CPU
({middle.replica_cpu * 1000 / middle.work:.0f} in the replicas, {middle.postgres_cpu * 1000 / middle.work:.0f}
in PostgreSQL's backends; the median of the three runs). Each replica is also capped by its tick,
`FEEDS_PER_TICK / POLL_TICK` =
{FEEDS_PER_TICK} / {POLL_TICK.total_seconds():.0f} s = {ceiling:.0f} feeds/s. Extrapolated: {need:.0f} cold
polls/s would need about {cores:.0f} cores, i.e. **{replicas} replicas** of one core each (at least
{math.ceil(need / ceiling)} for the tick cap alone). That is the worst case: in steady state most polls are
304s or bring a few new items, and bench/poll_bench.py measures those at under 1% and under a fifth
of a cold poll's CPU (SQLite, in-process), so a steady state likely needs a quarter of that CPU or
less; the tick cap of {ceiling:.0f}/s per replica then binds first ({math.ceil(need / ceiling)} replicas)
unless it is raised.

Database. Measured {per_article:,.0f} bytes per article (articles + story_clues, indexes and TOAST
included; real feed items, text as the feeds give it), {per_alert:,.0f} bytes per outbox row. Nothing
prunes articles or outbox rows today, so the database grows by (extrapolated): {day[0][1]:.1f} GB a day at
{day[0][0]} new articles per feed per day, {day[1][1]:.1f} GB a day at {day[1][0]} (about
{day[0][1] * 365 / 1000:.1f} / {day[1][1] * 365 / 1000:.1f} TB a year), plus {per_alert:,.0f} bytes per
alert sent.

Connections. Each replica has SQLAlchemy's default pool: up to {POOL} connections (5 kept, 10 more at
peaks). Measured peak: {peak:.1f} per replica with {top.replicas} replicas. {replicas} replicas could open
{replicas * POOL} (or about {replicas * peak:.0f} at the measured peak): past PostgreSQL's default
`max_connections` of 100, so that many replicas need PgBouncer (transaction pooling breaks the session
advisory locks: keep the listener's and the config lock on a session connection) or a smaller pool.

Delivery. The replicas share one pace per bot token (each tick, the replica holding the token's
advisory lock sends): measured {", ".join(f"{d.rate:.1f}" for d in deliveries)} messages/s with
{", ".join(str(d.replicas) for d in deliveries)} replicas on the fake Telegram, which does not limit.
{pace}
For {chats:,} chats: one alert to every chat takes
{chats / 30 / 60:.0f} minutes at best; a day holds {30 * 86400 / 1e6:.2f} million messages, i.e. at most
{30 * 86400 / chats:.0f} a chat a day on average. More replicas add polling capacity and redundancy, not
delivery: for more, digests (one message for many alerts) or more bot tokens.
"""


async def bench(args: argparse.Namespace, tmp: Path) -> tuple[list[Run], list[Run]]:
    polls, deliveries = [], []
    for n in REPLICAS:
        polls.append(await poll_run(n, args.feeds, args.chats, args.database, tmp))
        p = polls[-1]
        print(f"  poll, {n} replica(s): {p.rate:.1f} feeds/s, {p.connections} connections at peak")
        deliveries.append(await delivery_run(n, args.chats, args.per_chat, args.database, tmp))
        d = deliveries[-1]
        print(f"  delivery, {n} replica(s): {d.rate:.1f} messages/s, {d.extra['distinct']:,} distinct")
    await empty_schema(args.database)
    return polls, deliveries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 feeds, 300 messages, no RESULTS.md")
    parser.add_argument("--feeds", type=int, default=1000, help="feeds in the poll run (full run)")
    parser.add_argument("--database", default=DATABASE, help="a database of your own: it is emptied")
    args = parser.parse_args()
    if args.database.rsplit("/", 1)[-1] == "test":
        parser.error("the database `test` belongs to the test runs: use one of your own")
    args.per_chat = 10
    args.feeds, args.chats = (100, 30) if args.quick else (args.feeds, 300)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        polls, deliveries = asyncio.run(bench(args, Path(tmp)))
    text = f"{table(polls, deliveries)}\n\n{checks(polls, deliveries)}\n\n{sizes(polls[-1])}\n"
    print(f"\n{text}\n{projection(polls, deliveries)}")
    if args.quick:
        return
    notes = f"""
Poll run: {args.feeds:,} feeds built by bench/poll_bench.build_bodies from corpus/real-feeds (9 files,
feed N from file N mod 9 with its own guids and links, so each story recurs in ~1 feed in 9 and dedupe
joins them; {polls[0].extra["feed_kb"]:.0f} KB a feed) on tests/fakes/feed_server.FeedServer in the bench
process; {args.chats} Telegram chats with one rule each (`Membership`, which no poll-run item matches);
every feed `backfill: all` and due at start. feeds/s: from the first fetch until every feed has
`last_success_at` (set in the transaction that stores its articles; sampled every 0.2 s). startup:
launch to first fetch (migrations, config sync one replica at a time). Delivery run: one feed of
{args.per_chat} matching stories and {args.chats} chats, {args.chats * args.per_chat:,} alerts on
tests/fakes/telegram_api.FakeTelegram (in the bench process, no rate limit of its own); messages/s from
the first message to the last. CPU: utime + stime from /proc of the replicas, and of this database's
PostgreSQL backends alive at the end of the window (a lower bound: a pool connection closed meanwhile
takes its CPU with it). Peak connections: pg_stat_activity for this database, sampled, the bench's own
excluded. The feed server, the fake Telegram and PostgreSQL share the 2 CPUs with the replicas.
"""
    write_section(
        "Scale on paper",
        ".venv/bin/python bench/replica_bench.py",
        time.perf_counter() - t0,
        f"{notes}\n## Measured\n\n{text}\n## 100,000 feeds and 100,000 chats (from the figures above)\n\n"
        f"{projection(polls, deliveries)}",
        ", PostgreSQL on the same machine",
    )


if __name__ == "__main__":
    main()
