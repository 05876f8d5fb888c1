"""Wiring: build everything from Settings, run the ticking jobs, stop cleanly.

A chat app that cannot be reached at start does not stop the rest: feeds are polled, its alerts wait
in the outbox, and it is tried again, backing off, until it answers. One that refuses the token stops
the bot: only the operator can fix that.

A database that fails while the bot runs (a full disk, a file system made read-only, PostgreSQL
restarted) pauses the job that met it, polling or delivery, with one log line and a /healthz problem;
the job tries again, backing off, and resumes by itself once the database takes writes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TextIO

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.channels import CHANNELS
from bot.channels.base import Channel, Parts
from bot.commands import Commands
from bot.config import Settings
from bot.delivery import DeliveryReport, Dispatcher
from bot.domain import Clock, Feed, Subscription, SystemClock
from bot.errors import ConfigError, QueryError, StoreError, UnreachableError
from bot.feeds.discover import find_feed
from bot.feeds.extract import PageReader
from bot.feeds.fetch import Fetcher, open_session
from bot.feeds.guard import check_url, guarded_connector
from bot.feeds.parsers import Parsers
from bot.feeds.schedule import Bounds, chat_interval
from bot.pacing import Bursts
from bot.pipeline import Matcher, Poller, PollReport
from bot.push import Pushes
from bot.rules.query import parse_rule
from bot.rules.text import is_language
from bot.store import Store
from bot.store.problems import database_problem, translated
from bot.stories import Stories
from bot.summary.embeddings import Embedder
from bot.summary.llm import LlmSummarizer
from bot.web import build_web_app, start_web

log = logging.getLogger(__name__)

POLL_TICK = timedelta(seconds=10)
DELIVER_TICK = timedelta(seconds=1)  # a chat's pace is a message a second at best
FEED_LEASE = timedelta(minutes=5)
FEEDS_PER_TICK = 100
CONCURRENT_FETCHES = 10
STRAGGLER_GRACE = timedelta(seconds=2)  # the tick waits this long for its last feeds, then leaves them
HEALTH_TIMEOUT = 5.0  # seconds the database has to answer /healthz
LISTEN_RETRY = timedelta(seconds=15)  # a replica waiting to take over Telegram's long polling
STOP_GRACE_SECONDS = 8.0  # in-flight work gets this long after SIGTERM, then is cancelled
CONNECT_TICK = timedelta(seconds=5)  # how often the chat apps not reached yet are looked at
RECONNECT_FIRST = timedelta(seconds=5)  # a chat app not reached is tried again after this, doubling
RECONNECT_MOST = timedelta(minutes=2)
PAUSED_MOST = timedelta(minutes=1)  # a job the database paused tries again at least this often
PUSH_TICK = timedelta(minutes=1)  # WebSub leases are renewed, and silent hubs given up, this often
PRUNE_TICK = timedelta(hours=1)
TICKS = {"poll": POLL_TICK, "deliver": DELIVER_TICK, "prune": PRUNE_TICK}
JOBS = {"poll": "polling", "deliver": "delivery", "prune": "pruning"}  # as a log line or /healthz names them


def config_feeds(settings: Settings) -> list[Feed]:
    return [
        Feed(
            0,
            f.url,
            f.name or "",
            f.interval or settings.poll_interval,
            None if f.backfill == "all" else f.backfill,
            fixed_interval=f.interval is not None,
        )
        for f in settings.feeds
    ]


def config_subscriptions(settings: Settings) -> list[tuple[Subscription, list[str]]]:
    """Subscriptions from the config file; every rule is checked here so start-up names a bad one."""
    if not is_language(settings.rules_language):
        raise ConfigError(
            "rules_language", f"no stemmer for {settings.rules_language!r}; try english, french..."
        )
    result = []
    for i, sub in enumerate(settings.subscriptions):
        for j, query in enumerate(sub.rules):
            try:
                parse_rule(query, settings.rules_language)
            except QueryError as error:
                raise ConfigError(f"subscriptions[{i}].rules[{j}]", error.pointed(query)) from None
        name = sub.name or f"{sub.channel}:{sub.address}"
        result.append((Subscription(0, sub.channel, sub.address, name), sub.rules))
    return result


@dataclass(frozen=True)
class Waiting:
    """A chat app not reached yet: why, how many tries so far, and when to try again."""

    reason: str
    tries: int
    retry_at: datetime


def reconnect_at(now: datetime, tries: int) -> datetime:
    """After `tries` failed tries: 5 s, 10 s, 20 s... at most 2 minutes."""
    return now + min(RECONNECT_FIRST * 2 ** min(tries - 1, 10), RECONNECT_MOST)


@dataclass(frozen=True)
class Paused:
    """A ticking job the database stopped (a full disk, a read-only file system, a lost connection):
    why and what to do, since when, how many tries so far, and when it tries again."""

    problem: StoreError
    since: datetime
    tries: int
    retry_at: datetime


def retry_paused_at(now: datetime, tick: timedelta, tries: int) -> datetime:
    """After `tries` failed tries: the next tick, then twice as long each time, at most a minute. A
    failed try is cheap (its first write fails), and the job resumes soon after the disk has room."""
    return now + min(tick * 2 ** min(tries - 1, 10), PAUSED_MOST)


@dataclass(frozen=True)
class Cutoffs:
    """What retention deletes (store/retention.py): articles fetched before `articles`, alerts and
    notices done with before `outbox` (None: kept forever), alerts only of stories with no article
    fetched since `live_since`."""

    articles: datetime | None
    outbox: datetime | None
    live_since: datetime


def retention_cutoffs(settings: Settings, now: datetime) -> Cutoffs:
    """The settings' retention as times. An alert outlives its story's window (stories.window): while
    an article may still join the story, its alert row is what keeps the chat from a second alert."""
    kept = settings.retention
    return Cutoffs(
        kept.articles and now - kept.articles,
        kept.outbox and now - kept.outbox,
        now - settings.stories.window,
    )


def health_status(core: Sequence[str], chats: Sequence[str]) -> str:
    """unhealthy (503) when the core fails (the database, the ticks): nothing works; degraded when only
    chat apps do (their alerts wait in the outbox); else ok."""
    return "unhealthy" if core else "degraded" if chats else "ok"


class App:
    def __init__(self, settings: Settings, *, clock: Clock | None = None, console: TextIO | None = None):
        self.settings = settings
        self.clock = clock or SystemClock()
        self.store = Store.open(settings.database_url)
        self.console = console  # where the console channel prints (None: stdout)
        self.channels: dict[str, Channel] = {}  # the registry's channels that are configured, by name
        self.poller: Poller | None = None
        self.commands: Commands | None = None
        self.matcher = Matcher(settings.rules_language)
        bursts = Bursts(settings.delivery.burst_stories, settings.delivery.burst_window)
        self.dispatcher = Dispatcher(
            self.store, self.channels, self.clock, lease=settings.delivery.lease, bursts=bursts
        )
        self.bounds = Bounds(settings.polling.min_interval, settings.polling.max_interval)
        self._rules_seen: tuple[int, ...] | None = None
        self.last_tick: dict[str, datetime] = {}
        self._inflight: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self.waiting: dict[str, Waiting] = {}  # chat apps not reached yet, by name
        self._listening: list[asyncio.Task[None]] = []
        self._fatal: ConfigError | None = None  # what stopped `serve` (a token refused), to raise
        self.paused: dict[str, Paused] = {}  # jobs the database stopped ("poll", "deliver")
        self.pushes: Pushes | None = None  # WebSub, when http.public_url is set
        self._scheduler: AsyncIOScheduler | None = None
        self._delivering = False

    async def start(self) -> None:
        """Migrate the database, load the config's feeds and subscriptions, open the HTTP client, and
        connect the chat apps that can be reached. StoreError when the database cannot be used,
        ConfigError when a setting is wrong or a chat app refuses its token."""
        subscriptions = config_subscriptions(self.settings)
        with translated(self.settings.database_url):  # the reason, not the driver's traceback
            await self.store.upgrade()
            now = self.clock.now()
            async with self.store.exclusive("config", wait=True):  # replicas starting together: one by one
                await self.store.sync_config_feeds(config_feeds(self.settings), now)
                await self.store.sync_config_subscriptions(subscriptions, now)
            retired = await self.store.retired_config_feeds()
        for url, reason in retired:
            log.warning("feed %s is retired (%s): remove it from the config file", url, reason)
        trusted = Fetcher(open_session())
        guarded = Fetcher(open_session(guarded_connector()), check_hop=check_url)
        max_words = self.settings.summary.max_words
        parsers = Parsers(deadline=self.settings.polling.parse_deadline.total_seconds())
        pages = PageReader(self.settings.summary.fetch_pages, self.clock, parsers)
        models = self.settings.summary.llm
        llm = LlmSummarizer(models, self.store) if models.base_url and models.model else None
        embedder = Embedder(models, self.store) if models.embeddings_model else None
        self.poller = Poller(
            trusted, guarded, self.store, self.matcher, self.clock, max_words, self.bounds, pages, llm,
            adaptive=self.settings.polling.adaptive,
            parsers=parsers,
            stories=Stories(self.settings.stories.window, models.embeddings_bar if embedder else None),
            embedder=embedder,
            find_hubs=self.settings.http.public_url is not None,
        )  # fmt: skip
        if public_url := self.settings.http.public_url:
            self.pushes = Pushes(
                public_url, self.store, self.poller, self.clock, self._record, self.wake_delivery
            )
        self.commands = Commands(
            self.store,
            self.clock,
            find_feed=partial(find_feed, guarded, parsers),
            chat_feed_interval=chat_interval(self.settings.poll_interval, self.bounds),
            language=self.settings.rules_language,
            limits=self.settings.limits,
            poll=self.poll_due,
        )
        parts = Parts(self.commands, self.clock, self.store, self.console)
        built = (spec.build(getattr(self.settings, spec.name, None), parts) for spec in CHANNELS)
        configured = [channel for channel in built if channel]  # each loads its chat library only if built
        self.channels.update((channel.name, channel) for channel in configured)
        try:
            for channel in configured:
                await self._connect(channel)
        except BaseException:
            await self.close()
            raise

    async def _connect(self, channel: Channel) -> bool:
        """Start a chat app. One that cannot be reached waits, its alerts in the outbox, and is tried
        again later (connect_due), backing off; ConfigError (a refused token) goes up."""
        try:
            await channel.start()
        except UnreachableError as error:
            before = self.waiting.get(channel.name)
            tries = before.tries + 1 if before else 1
            waiting = Waiting(str(error), tries, reconnect_at(self.clock.now(), tries))
            self.waiting[channel.name] = waiting
            log.warning(
                "%s: %s; its alerts wait in the outbox; trying again at %s UTC",
                channel.name, error, f"{waiting.retry_at:%H:%M:%S}",
            )  # fmt: skip
            return False
        if self.waiting.pop(channel.name, None):
            log.info("%s: connected; the alerts that waited go out now", channel.name)
        return True

    async def connect_due(self) -> list[Channel]:
        """Try again each chat app not reached yet whose time has come; the ones that answered.
        ConfigError when one now refuses its token."""
        now = self.clock.now()
        due = [self.channels[name] for name, waiting in self.waiting.items() if waiting.retry_at <= now]
        return [channel for channel in due if await self._connect(channel)]

    async def close(self) -> None:
        for task in self._inflight:  # polls the last tick left running
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        with contextlib.suppress(Exception):  # sent while the database failed: recorded now, if it can
            await self.dispatcher.record_sent()
        if unrecorded := len(self.dispatcher.unrecorded):
            log.warning("%d messages sent could not be recorded as sent: they may go again", unrecorded)
        for channel in self.channels.values():
            await channel.close()
        if self.poller:
            await self.poller.parsers.close()
            await self.poller.fetcher.session.close()
            await self.poller.guarded.session.close()
            if self.poller.llm:
                await self.poller.llm.close()
            if self.poller.embedder:
                await self.poller.embedder.close()
        await self.store.close()

    async def poll_due(
        self, *, only: Sequence[int] | None = None, grace: timedelta | None = None
    ) -> list[PollReport]:
        """Poll the feeds that are due (or just these), each end to end into the outbox; the reports of
        those done when it returns.

        grace (the scheduler's tick): once every claimed feed has started, wait at most this long for the
        last ones. A feed still in flight then (a server dripping its bytes) finishes on its own and
        records itself: one slow feed holds its worker, never the next tick. None: wait for them all.

        A database that fails pauses polling (see _pause): until it is time to try again, nothing."""
        assert self.poller, "start() first"
        if not self._may_run("poll"):
            return []
        try:
            reports = await self._poll_due(only, grace)
        except Exception as error:
            if not self._pause("poll", error):
                raise
            return []
        self._resume("poll")
        return reports

    async def _poll_due(self, only: Sequence[int] | None, grace: timedelta | None) -> list[PollReport]:
        now = self.clock.now()
        feeds = await self.store.claim_due_feeds(now, FEEDS_PER_TICK, FEED_LEASE, only=only)
        if self.pushes:  # a feed its hub pushes is polled only as a safety net
            feeds = await self.pushes.polled_as(feeds)
        queue, finished, late = iter(feeds), {}, False  # late: the tick has returned
        running: set[int] = set()
        failed: list[Exception] = []  # the database failed a feed's poll: no other feed starts

        async def worker() -> None:
            # each of CONCURRENT_FETCHES workers takes the next: no task waits its turn
            while not failed and (feed := next(queue, None)) is not None:
                running.add(feed.id)
                try:
                    report = await self._poll_one(feed)
                except Exception as error:  # the database's (_poll_one keeps a feed's own)
                    failed.append(error)
                    if late:
                        self._pause("poll", error)
                    return
                finally:
                    running.discard(feed.id)
                if late:
                    await self._record_late(report)
                else:
                    finished[feed.id] = report

        try:
            await self._refresh_rules()
            workers = [asyncio.create_task(worker()) for _ in range(min(CONCURRENT_FETCHES, len(feeds)))]
            if workers and grace is not None:
                await asyncio.wait(workers, return_when=asyncio.FIRST_COMPLETED)  # every feed has started
                await asyncio.wait(workers, timeout=grace.total_seconds())
            elif workers:
                await asyncio.gather(*workers)
            late = True
            for task in workers:
                if not task.done():
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
            if failed:
                raise failed[0]
            self.last_tick["poll"] = now
            reports = [finished[feed.id] for feed in feeds if feed.id in finished]
            await self._record(reports)
            if self.pushes:
                await self.pushes.after_polls(feeds, reports)
        except Exception:  # a poll cut short is done again next time, from the start: nothing of it was kept
            with contextlib.suppress(Exception):  # the database may refuse this too: then the lease ends
                await self.store.release_feeds([feed.id for feed in feeds if feed.id not in running])
            raise
        return reports

    async def poll_tick(self) -> None:
        """The scheduler's poll job: poll_due, not waiting for stragglers."""
        await self.poll_due(grace=STRAGGLER_GRACE)

    async def _record(self, reports: list[PollReport]) -> None:
        metrics = self.dispatcher.metrics
        for report in reports:
            metrics.add("newsalert_feeds_polled_total", outcome="failed" if report.error else "ok")
            metrics.add("newsalert_articles_seen_total", report.new)
            metrics.add("newsalert_matches_total", report.alerts)
        quiet = [(r.feed_id, r.unrecorded) for r in reports if r.unrecorded]
        await self.store.save_polls_without_news(quiet, self.clock.now())

    async def _record_late(self, report: PollReport) -> None:
        try:
            await self._record([report])
        except Exception as error:  # the store failed: the feed's lease frees it later
            if not self._pause("poll", error):
                log.exception("recording the poll of feed %s failed", report.feed_id)

    async def _poll_one(self, feed: Feed) -> PollReport:
        """The feed polled: its own failure is in its report; the database's goes up, for the tick."""
        assert self.poller
        started = time.perf_counter()
        try:
            return await self.poller.poll(feed)
        except Exception as error:
            if database_problem(error, self.settings.database_url):
                raise
            log.error("polling feed %s crashed", feed.id, exc_info=error)  # the lease frees it later
            return PollReport(feed.id, error=f"crashed: {type(error).__name__}")
        finally:
            self.dispatcher.metrics.observe("newsalert_poll_duration_seconds", time.perf_counter() - started)

    async def _refresh_rules(self) -> None:
        """Reload rules only when they changed: at 100,000 rules a reload is not free."""
        fingerprint = await self.store.rules_fingerprint()
        if fingerprint != self._rules_seen:
            self.matcher.sync(await self.store.active_rules())
            self._rules_seen = fingerprint

    async def deliver_due(self) -> DeliveryReport:
        """Send what is due. A chat app whose limits hold per bot (Telegram's 30 a second) is sent to by
        one replica at a time: the one holding its lock this tick.

        A database that fails pauses delivery (see _pause) as it pauses polling; it is tried on its own,
        since sending needs only small writes (a claim, a mark) that a nearly full disk may still take."""
        if not self._may_run("deliver"):
            return DeliveryReport()
        try:
            report = await self._deliver_due()
        except Exception as error:
            if not self._pause("deliver", error):
                raise
            return DeliveryReport()
        self._resume("deliver")
        return report

    async def _deliver_due(self) -> DeliveryReport:
        async with contextlib.AsyncExitStack() as held:
            self._delivering = True
            held.callback(setattr, self, "_delivering", False)
            mine = [  # a chat app not reached yet keeps its alerts in the outbox
                name
                for name, channel in self.channels.items()
                if name not in self.waiting
                and (
                    not channel.one_sender
                    or await held.enter_async_context(self.store.exclusive(f"send:{name}"))
                )
            ]
            report = await self.dispatcher.deliver_due(mine)
        self.last_tick["deliver"] = self.clock.now()
        return report

    def wake_delivery(self) -> None:
        """Run the delivery job now, not at its next tick (a push brought alerts); while it runs, its
        next tick comes within a second anyway."""
        if self._scheduler and not self._delivering and not self._stopping:
            self._scheduler.modify_job("deliver_due", next_run_time=datetime.now(UTC))

    async def prune_due(self) -> dict[str, int]:
        """Delete what the retention settings no longer keep (retention_cutoffs), in small batches; how
        many rows of each table went. One replica at a time prunes. A database that fails pauses it
        (see _pause) as it pauses polling."""
        if not self._may_run("prune"):
            return {}
        cut = retention_cutoffs(self.settings, self.clock.now())
        try:
            async with self.store.exclusive("prune") as mine:
                pruned = await self.store.prune(cut.articles, cut.outbox, cut.live_since) if mine else {}
        except Exception as error:
            if not self._pause("prune", error):
                raise
            return {}
        self._resume("prune")
        for table, rows in pruned.items():
            self.dispatcher.metrics.pruned(table, rows)
        if pruned:
            log.info("pruned %s", ", ".join(f"{rows} {table}" for table, rows in pruned.items()))
        return pruned

    def _may_run(self, job: str) -> bool:
        """Whether the job runs this tick: it is not paused, or its time to try again has come (give or
        take half a tick: the scheduler's tick may come a moment before it)."""
        paused = self.paused.get(job)
        return paused is None or self.clock.now() >= paused.retry_at - TICKS[job] / 2

    def _pause(self, job: str, error: Exception) -> bool:
        """Pause a job the database failed, until its next try (retry_paused_at). It says so once, when
        it pauses (or the problem becomes another), not once a tick or a feed: /healthz has it meanwhile.
        False when the error is not the database's: it goes up as before."""
        problem = database_problem(error, self.settings.database_url)
        if problem is None:
            return False
        now, before = self.clock.now(), self.paused.get(job)
        tries = before.tries + 1 if before else 1
        since = before.since if before else now
        self.paused[job] = paused = Paused(problem, since, tries, retry_paused_at(now, TICKS[job], tries))
        if before is None or before.problem.hint != problem.hint:  # a new kind of problem: say it too
            log.warning(
                "%s paused: %s. %s It resumes by itself once the database works again: next try at "
                "%s UTC, then at least once a minute.",
                JOBS[job], problem, problem.hint, f"{paused.retry_at:%H:%M:%S}",
            )  # fmt: skip
        return True

    def _resume(self, job: str) -> None:
        if paused := self.paused.pop(job, None):
            log.info(
                "%s resumed: the database works again (paused since %s UTC)",
                JOBS[job], f"{paused.since:%H:%M:%S}",
            )  # fmt: skip

    async def run_once(self) -> None:
        """`newsalert run --once`: poll every feed once, deliver what is due, prune, return. StoreError when
        the database failed (a full disk, say): what was not done then is done by the next run."""
        self.pushes = None  # no hub is asked: nothing would be listening for its call
        reports: list[PollReport] = []
        ids = await self.store.active_feed_ids()
        for at in range(0, len(ids), FEEDS_PER_TICK):
            reports += await self.poll_due(only=ids[at : at + FEEDS_PER_TICK])
        sent = 0
        while (delivered := await self.deliver_due()).claimed:
            sent += delivered.sent
        await self.prune_due()  # run from cron, it is the only prune there is
        log.info(
            "polled %d feeds: %d new stories, %d alerts queued, %d sent",
            len(reports),
            sum(r.new for r in reports),
            sum(r.alerts for r in reports),
            sent,
        )
        for name in self.waiting:
            log.warning("%s could not be reached: its alerts wait in the outbox for the next run", name)
        for paused in self.paused.values():
            raise paused.problem

    async def metrics_text(self) -> str:
        """/metrics: what this process has done, and the database as it is now (bot/metrics.py)."""
        return await self.dispatcher.metrics.scrape(self.store)

    async def health(self) -> tuple[str, dict[str, Any]]:
        """ok while both ticking jobs have run recently, the database answers and every chat app is
        reachable; else degraded or unhealthy (see health_status), and the problems, one sentence each:
        a job the database paused says why, and what to do."""
        now = self.clock.now()
        limits = {"poll": POLL_TICK * 3 + FEED_LEASE, "deliver": DELIVER_TICK * 3 + self.dispatcher.lease}
        problems = [
            f"{name} has not run since {self.last_tick[name]:%H:%M:%S}" if name in self.last_tick
            else f"{name} has not run yet"
            for name, limit in limits.items()
            if name not in self.paused and (name not in self.last_tick or now - self.last_tick[name] > limit)
        ]  # fmt: skip
        problems += [
            f"{JOBS[job]} paused since {paused.since:%H:%M:%S}: {paused.problem} "
            f"(next try {paused.retry_at:%H:%M:%S}). {paused.problem.hint}"
            for job, paused in self.paused.items()
        ]
        try:
            await asyncio.wait_for(self.store.ping(), HEALTH_TIMEOUT)
        except Exception as error:
            problems.append(f"the database does not answer ({type(error).__name__})")
        chats = [
            f"{name}: {waiting.reason}; its alerts wait in the outbox (next try {waiting.retry_at:%H:%M:%S})"
            for name, waiting in self.waiting.items()
        ]
        chats += [problem for channel in self.channels.values() if (problem := channel.problem())]
        details: dict[str, Any] = {name: at.isoformat() for name, at in self.last_tick.items()}
        every = problems + chats
        return health_status(problems, chats), {**details, **({"problems": every} if every else {})}

    async def serve(self, stop: asyncio.Event) -> None:
        """`newsalert run`: tick until stop is set, then finish in-flight work and return."""
        routes = [route for channel in self.channels.values() for route in channel.routes()]
        routes += self.pushes.routes() if self.pushes else []
        runner, port = await start_web(
            build_web_app(self.health, routes, self.metrics_text),
            self.settings.http.host,
            self.settings.http.port,
        )
        log.info("listening on http://%s:%d (GET /healthz)", self.settings.http.host, port)
        assert self.commands, "start() first"
        await self.commands.offer_claim(
            [
                spec.name
                for spec in CHANNELS
                if spec.admins
                and spec.name in self.channels
                and not spec.admins(getattr(self.settings, spec.name))
            ]
        )
        for channel in self.channels.values():
            if channel.name not in self.waiting:
                self._listening.append(asyncio.create_task(self._listen(channel, stop)))

        async def connect_tick() -> None:
            """The chat apps not reached yet, tried again; each listens once it answers."""
            try:
                connected = await self.connect_due()
            except ConfigError as error:  # a token refused: nothing to wait for
                self._fatal = error
                stop.set()
                return
            self._listening += [asyncio.create_task(self._listen(channel, stop)) for channel in connected]

        self._scheduler = scheduler = AsyncIOScheduler(timezone=UTC)
        first = datetime.now(UTC)
        jobs = [
            (self.poll_tick, POLL_TICK),
            (self.deliver_due, DELIVER_TICK),
            (connect_tick, CONNECT_TICK),
            (self.prune_due, PRUNE_TICK),
        ]
        jobs += [(self.pushes.renew_due, PUSH_TICK)] if self.pushes else []
        for job, tick in jobs:
            scheduler.add_job(
                self._tracked(job),
                "interval",
                seconds=tick.total_seconds(),
                next_run_time=first,
                id=job.__name__,
                name=job.__name__,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        scheduler.start()
        try:
            await stop.wait()
        finally:
            log.info("stopping: finishing work in flight")
            self._stopping = True
            scheduler.pause()  # no new runs; shutdown() would cancel the running ones mid-write
            for task in self._listening:  # a Telegram update not yet confirmed comes again on the next start
                task.cancel()
            await asyncio.gather(*self._listening, return_exceptions=True)
            await self._drain()
            scheduler.shutdown(wait=False)
            await runner.cleanup()
        if self._fatal:
            raise self._fatal

    async def _listen(self, channel: Channel, stop: asyncio.Event) -> None:
        """The channel's own way of receiving commands; where only one process may (Telegram's long
        polling), the one holding the lock does, and another takes over when it dies."""
        if not channel.exclusive_listen:
            await channel.listen(stop)
            return
        while not stop.is_set():
            async with self.store.exclusive(f"listen:{channel.name}") as mine:
                if mine:
                    await channel.listen(stop)
                    return
            with contextlib.suppress(TimeoutError):  # another replica listens; check again later
                await asyncio.wait_for(stop.wait(), LISTEN_RETRY.total_seconds())

    def _tracked(self, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            task = asyncio.current_task()
            assert task
            if self._stopping:
                return
            self._inflight.add(task)
            try:
                await job()
            except Exception:
                log.exception("%s failed; it runs again next tick", job.__name__)
            finally:
                self._inflight.discard(task)

        run.__name__ = job.__name__
        return run

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # a job the scheduler launched just before stopping starts, sees _stopping
        pending = set(self._inflight)
        if pending:
            _done, late = await asyncio.wait(pending, timeout=STOP_GRACE_SECONDS)
            for task in late:  # a cancelled transaction rolls back; its rows are retried next start
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
