"""Faults the disk and the database cause while the bot runs: a disk that fills up, a file system the
system makes read-only, PostgreSQL read-only or its connections killed. Polling and delivery pause
with one log line and a /healthz problem, keep nothing half-written, resume by themselves, and alert
nothing twice.

Real parts: a small file system of its own (tmpfs, or ext4 on a loop device) for the SQLite file, where
this machine lets the tests mount one (as root; skipped elsewhere); a scratch database on the local
PostgreSQL, whose backends are killed with pg_terminate_backend."""

from __future__ import annotations

import errno
import logging
import os
import random
import secrets
import shutil
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import DELIVER_TICK, FEED_LEASE, POLL_TICK, App
from bot.errors import StoreError
from bot.store import async_url
from tests.conftest import SAMPLES, SEED_TITLE
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.telegram_api import TOKEN, FakeTelegram
from tests.test_cli import clean_env, newsalert, write_config
from tests.test_cli_errors import LOCAL_POSTGRES, answers

WORLD = (SAMPLES / "world-news.xml").read_bytes()
SCIENCE = (SAMPLES / "science-tech.xml").read_bytes()
NEXT_POLL = timedelta(minutes=6)  # the 5-minute interval plus at most 10% jitter
NEW_ITEM = b"""    <item>
      <title>Ukraine asks again for a Membership Action Plan</title>
      <link>https://world.example.org/news/ukraine-map</link>
      <guid>https://world.example.org/news/ukraine-map</guid>
      <pubDate>Wed, 03 Dec 2008 10:00:00 GMT</pubDate>
      <description>Kiev renewed its request for a Membership Action Plan on Wednesday.</description>
    </item>
"""
WORLD_FEED = """
feeds:
  - url: {world}
    name: World Desk
    backfill: all
"""
SCIENCE_FEED = """  - url: {science}
    backfill: all
"""
SUBSCRIPTION = """subscriptions:
  - channel: {channel}
    address: '1001'
    rules: [NATO-Russia Council, Membership Action Plan]
"""


def mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


def unmount(where: Path) -> None:
    if subprocess.run(["umount", str(where)], capture_output=True).returncode:
        subprocess.run(["umount", "--lazy", str(where)], capture_output=True)


@dataclass
class Disk:
    """A file system of its own at `path`, that a test fills up and frees again."""

    path: Path

    def fill(self) -> None:
        """Write a file until the disk has no room left (ENOSPC), as a log or a download would."""
        with open(self.path / "filler", "ab", buffering=0) as filler:
            for chunk in (1 << 16, 1 << 12, 1 << 9):
                try:
                    while True:
                        filler.write(b"\0" * chunk)
                except OSError as error:
                    assert error.errno == errno.ENOSPC, error
        assert shutil.disk_usage(self.path).free < 1 << 12

    def free(self) -> None:
        (self.path / "filler").unlink()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Disk]:
    """A 16 MB tmpfs mounted for the test: the data directory of a bot whose disk fills up."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0 or not mount("-t", "tmpfs", "-o", "size=16m", "newsalert-test", str(where)):
        pytest.skip("this machine does not let the tests mount a small file system (it needs root)")
    yield Disk(where)
    unmount(where)


@pytest.fixture
def ext4_disk(tmp_path: Path) -> Iterator[tuple[Disk, Path]]:
    """A 32 MB ext4 image on a loop device, mounted errors=remount-ro as data disks are; and the
    kernel's switch (sysfs trigger_fs_error) that makes it meet an error, and so turn read-only."""
    image, where = tmp_path / "disk.img", tmp_path / "disk"
    where.mkdir()
    with open(image, "wb") as file:
        file.truncate(32 << 20)
    made = shutil.which("mkfs.ext4") and subprocess.run(
        ["mkfs.ext4", "-q", "-F", str(image)], capture_output=True
    ).returncode == 0  # fmt: skip
    if os.geteuid() != 0 or not made or not mount("-o", "loop,errors=remount-ro", str(image), str(where)):
        pytest.skip("this machine does not let the tests mount an ext4 image (it needs root and mkfs.ext4)")
    device = subprocess.run(["findmnt", "-no", "SOURCE", str(where)], capture_output=True, text=True)
    trigger = Path("/sys/fs/ext4") / Path(device.stdout.strip()).name / "trigger_fs_error"
    try:
        if not trigger.exists():
            pytest.skip("this kernel has no ext4 trigger_fs_error: a file system cannot be made to fail")
        yield Disk(where), trigger
    finally:
        unmount(where)


def settings_on(
    make_settings: Any,
    feed_server: Any,
    database_url: str,
    channel: str = "console",
    extra: str = "",
    *,
    science: bool = True,
) -> Any:
    """The sample feeds (world, and science unless not), the seed story's rules, on this database."""
    feed_server.files["/world.xml"] = WORLD
    feed_server.files["/science.xml"] = SCIENCE
    config = (WORLD_FEED + (SCIENCE_FEED if science else "") + SUBSCRIPTION).format(
        world=feed_server.url("/world.xml"), science=feed_server.url("/science.xml"), channel=channel
    )
    offline = "summary:\n  fetch_pages: never\n"  # the samples' links name hosts that are not there
    return make_settings(offline + extra + config, {"NEWSALERT_DATABASE_URL": database_url})


def said(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if words in r.getMessage()]


async def stored(app: App) -> dict[str, int]:
    """How many articles each feed has stored, by feed name."""
    return {
        feed.name: (await app.store.feed_items(feed.id))[0] for feed, _error in await app.store.feed_list()
    }


def at_next_try(app: App, clock: Any, job: str) -> None:
    """The clock moved on to the paused job's next try."""
    clock.current = max(clock.current, app.paused[job].retry_at)


# --- a full disk (SQLite) ---------------------------------------------------------------------------


async def test_a_full_disk_pauses_polling_with_one_line_and_it_resumes_when_there_is_room(
    small_disk, feed_server, make_settings, start_app, clock, caplog
):
    database = small_disk.path / "newsalert.db"
    app, out = await start_app(settings_on(make_settings, feed_server, f"sqlite:///{database}"))
    small_disk.fill()
    caplog.set_level(logging.INFO, logger="bot")
    for _ in range(12):  # two minutes of ticks: tries at 10 s, 20 s, 40 s, then every minute
        assert await app.poll_due() == []
        await app.deliver_due()  # nothing to send: it needs no room, and goes on
        clock.advance(POLL_TICK)
    assert feed_server.requests == [], "no feed is fetched while the database cannot keep it"
    assert app.paused["poll"].tries == 4, "tried at 0 s, 10 s, 30 s and 70 s; next at 130 s"
    assert "deliver" not in app.paused
    assert said(caplog, " paused:") == [
        f"polling paused: cannot write to the SQLite database {database}: the disk is full. Free some "
        f"space on the disk that holds {small_disk.path} (df -h {small_disk.path}). It resumes by itself "
        "once the database works again: next try at 12:00:10 UTC, then at least once a minute."
    ]
    assert [r.levelname for r in caplog.records if r.levelno >= logging.WARNING] == ["WARNING"]
    status, details = await app.health()
    assert status == "unhealthy"
    assert details["problems"] == [
        f"polling paused since 12:00:00: cannot write to the SQLite database {database}: the disk is full "
        f"(next try {app.paused['poll'].retry_at:%H:%M:%S}). Free some space on the disk that holds "
        f"{small_disk.path} (df -h {small_disk.path})."
    ]

    small_disk.free()
    at_next_try(app, clock, "poll")
    assert len(await app.poll_due()) == 2
    assert (await app.deliver_due()).sent == 1
    assert said(caplog, "resumed") == [
        "polling resumed: the database works again (paused since 12:00:00 UTC)"
    ]
    assert out.getvalue().count(f"== {SEED_TITLE}") == 1
    assert (await app.health())[0] == "ok"


async def test_run_once_on_a_full_disk_says_so_and_exits_3(small_disk, tmp_path):
    """`newsalert run --once` (from cron, say): one sentence, what to do, the database's exit code."""
    config = str(write_config(tmp_path))
    database = small_disk.path / "newsalert.db"
    environ = {**clean_env(), "NEWSALERT_DATABASE_URL": f"sqlite:///{database}"}
    assert newsalert("db", "upgrade", "--config", config, cwd=tmp_path, env=environ).returncode == 0
    small_disk.fill()
    result = newsalert("run", "--once", "--config", config, cwd=tmp_path, env=environ)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-2:] == [
        f"newsalert: cannot write to the SQLite database {database}: the disk is full",
        f"  Free some space on the disk that holds {small_disk.path} (df -h {small_disk.path}).",
    ]


async def test_a_disk_that_fills_during_run_once_fails_it_with_the_reason(
    small_disk, feed_server, make_settings, start_app
):
    app, out = await start_app(
        settings_on(make_settings, feed_server, f"sqlite:///{small_disk.path}/newsalert.db")
    )
    small_disk.fill()
    with pytest.raises(StoreError, match="the disk is full$"):
        await app.run_once()
    assert out.getvalue() == ""


async def test_a_poll_the_disk_fills_up_under_keeps_nothing_and_is_done_again_once(
    small_disk, feed_server, make_settings, start_app, clock, caplog
):
    """The disk fills while the feed is fetched (after the claim): the poll's rows are one transaction,
    so none of them is kept; the poll is done again, whole, and alerts once."""
    database = small_disk.path / "newsalert.db"
    app, out = await start_app(settings_on(make_settings, feed_server, f"sqlite:///{database}"))

    async def fills_the_disk(_request: web.Request) -> web.Response:
        del feed_server.handlers["/world.xml"]
        small_disk.fill()
        return web.Response(body=WORLD, content_type="application/rss+xml")

    feed_server.handlers["/world.xml"] = fills_the_disk
    caplog.set_level(logging.INFO, logger="bot")
    assert await app.poll_due() == []
    assert app.paused["poll"].problem.args[0].endswith("the disk is full")
    assert set((await stored(app)).values()) == {0}, "nothing of the poll was kept"
    assert await app.store.count_outbox() == {}
    assert [f.etag for f, _ in await app.store.feed_list()] == [None, None], "nor the feeds' new state"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == said(
        caplog, " paused:"
    )
    assert len(said(caplog, " paused:")) == 1

    small_disk.free()
    clock.advance(FEED_LEASE)  # the database refused to free the claim too: it ends with its lease
    for _ in range(3):
        await app.poll_due()
        await app.deliver_due()
        clock.advance(NEXT_POLL)
    assert out.getvalue().count("== ") == 1 and f"== {SEED_TITLE}" in out.getvalue()
    assert await app.store.count_outbox() == {"sent": 1}
    assert (await stored(app))["World Desk"] == WORLD.count(b"<item>")


async def test_a_full_disk_pauses_delivery_and_nothing_is_lost_or_sent_twice(
    small_disk, feed_server, make_settings, start_app, clock, caplog
):
    database = small_disk.path / "newsalert.db"
    app, out = await start_app(settings_on(make_settings, feed_server, f"sqlite:///{database}"))
    assert len(await app.poll_due()) == 2
    small_disk.fill()
    caplog.set_level(logging.INFO, logger="bot")
    for _ in range(30):
        assert (await app.deliver_due()).sent == 0
        clock.advance(DELIVER_TICK)
    assert out.getvalue() == ""
    assert [m.split(": the disk")[0] for m in said(caplog, " paused:")] == [
        f"delivery paused: cannot write to the SQLite database {database}"
    ]
    small_disk.free()
    at_next_try(app, clock, "deliver")
    assert (await app.deliver_due()).sent == 1
    clock.advance(timedelta(minutes=5))
    assert (await app.deliver_due()).sent == 0
    assert out.getvalue().count("== ") == 1
    assert said(caplog, "resumed") == [
        "delivery resumed: the database works again (paused since 12:00:00 UTC)"
    ]


class FillsTheDisk(FakeTelegram):
    """Telegram, while the disk of the bot's database fills up: the message goes out, and then the
    database has no room to record that it did."""

    disk: Disk | None = None

    async def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.disk and not self.sent:
            self.disk.fill()
        return await super()._sendMessage(params)


async def test_a_message_sent_as_the_disk_fills_is_recorded_later_and_not_sent_again(
    small_disk, feed_server, make_settings, start_app, clock, caplog
):
    telegram = await FillsTheDisk().start()
    telegram.disk = small_disk
    try:
        settings = settings_on(
            make_settings, feed_server, f"sqlite:///{small_disk.path}/newsalert.db", "telegram",
            f"telegram:\n  token: {TOKEN}\n  api_url: {telegram.api_url}\n",
        )  # fmt: skip
        app, _out = await start_app(settings)
        await app.poll_due()
        caplog.set_level(logging.INFO, logger="bot")
        await app.deliver_due()
        assert len(telegram.sent) == 1 and "deliver" in app.paused
        for _ in range(200):  # longer than the claim's lease: still the one message
            await app.deliver_due()
            clock.advance(DELIVER_TICK)
        assert len(telegram.sent) == 1
        small_disk.free()
        at_next_try(app, clock, "deliver")
        await app.deliver_due()
        assert await app.store.count_outbox() == {"sent": 1}
        clock.advance(timedelta(minutes=5))
        await app.poll_due()
        await app.deliver_due()
        assert [m["text"].splitlines()[0] for m in telegram.sent] == [SEED_TITLE]
        assert len(said(caplog, "delivery paused:")) == 1
    finally:
        await telegram.stop()


# --- a file system made read-only (SQLite) ------------------------------------------------------------


async def test_a_file_system_made_read_only_pauses_polling_and_says_so(
    ext4_disk, feed_server, make_settings, start_app, clock, caplog
):
    """The kernel turns a disk read-only after an error (errors=remount-ro): polling pauses, saying
    why, and what was stored stays as it was."""
    disk, trigger = ext4_disk
    database = disk.path / "newsalert.db"
    app, out = await start_app(settings_on(make_settings, feed_server, f"sqlite:///{database}"))
    await app.poll_due()
    await app.deliver_due()
    before = await stored(app)
    feed_server.files["/world.xml"] = WORLD.replace(b"    <item>", NEW_ITEM + b"    <item>", 1)
    trigger.write_text("newsalert test: a disk error\n")
    caplog.set_level(logging.INFO, logger="bot")
    for _ in range(4):
        clock.advance(NEXT_POLL)
        assert await app.poll_due() == []
        await app.deliver_due()
    assert said(caplog, "polling paused:") == [
        f"polling paused: cannot write to the SQLite database {database}: its file system is read-only. "
        f"Find out why (dmesg), and make {disk.path} writable again. It resumes by itself once the "
        f"database works again: next try at {app.paused['poll'].since + POLL_TICK:%H:%M:%S} UTC, then at "
        "least once a minute."
    ]
    assert await stored(app) == before
    assert out.getvalue().count("== ") == 1
    status, details = await app.health()
    assert status == "unhealthy"
    assert any(p.startswith("polling paused since") and "read-only" in p for p in details["problems"])


# --- PostgreSQL ---------------------------------------------------------------------------------------


@dataclass
class ScratchPostgres:
    """A database of this test's own on the local PostgreSQL, and the hands of its administrator."""

    url: str
    admin: Any  # an engine on the server's postgres database, autocommit

    @property
    def name(self) -> str:
        return make_url(self.url).database or ""

    async def kill_connections(self) -> int:
        """pg_terminate_backend on every connection to this database (and only to it), as a restart
        of PostgreSQL does; how many there were."""
        async with self.admin.connect() as conn:
            killed = await conn.execute(
                text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :name"),
                {"name": self.name},
            )
            return int(killed.scalar() or 0)

    async def read_only(self, on: bool) -> None:
        """The database read-only (as a standby is) for every new connection, and the old ones killed."""
        async with self.admin.connect() as conn:
            setting = (
                "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
            )
            await conn.execute(text(f'ALTER DATABASE "{self.name}" {setting}'))
        await self.kill_connections()


@pytest.fixture
async def scratch_postgres() -> AsyncIterator[ScratchPostgres]:
    if not await answers(LOCAL_POSTGRES):
        pytest.skip(f"no PostgreSQL answers at {make_url(LOCAL_POSTGRES).render_as_string()}")
    name = f"newsalert_faults_{secrets.token_hex(4)}"
    admin = create_async_engine(async_url(LOCAL_POSTGRES), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield ScratchPostgres(make_url(LOCAL_POSTGRES).set(database=name).render_as_string(False), admin)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


async def test_connections_killed_between_ticks_are_opened_again_unnoticed(
    scratch_postgres, feed_server, make_settings, start_app, clock, caplog
):
    app, out = await start_app(settings_on(make_settings, feed_server, scratch_postgres.url))
    assert await scratch_postgres.kill_connections() >= 1
    caplog.set_level(logging.INFO, logger="bot")
    assert len(await app.poll_due()) == 2
    await scratch_postgres.kill_connections()
    assert (await app.deliver_due()).sent == 1
    assert app.paused == {} and said(caplog, " paused:") == []
    assert out.getvalue().count("== ") == 1


async def test_a_read_only_postgresql_pauses_polling_keeps_nothing_half_written_and_it_resumes(
    scratch_postgres, feed_server, make_settings, start_app, clock, caplog
):
    """PostgreSQL made read-only while a feed is fetched (after the claim): the poll keeps nothing, says
    why once, and is done again, whole, when the database takes writes again. (One feed: another's
    poll cut by the connections killed would say so first.)"""
    app, out = await start_app(settings_on(make_settings, feed_server, scratch_postgres.url, science=False))

    async def read_only_now(_request: web.Request) -> web.Response:
        del feed_server.handlers["/world.xml"]
        await scratch_postgres.read_only(True)
        return web.Response(body=WORLD, content_type="application/rss+xml")

    feed_server.handlers["/world.xml"] = read_only_now
    caplog.set_level(logging.INFO, logger="bot")
    for _ in range(6):
        assert await app.poll_due() == []
        clock.advance(POLL_TICK)
    assert set((await stored(app)).values()) == {0}
    assert await app.store.count_outbox() == {}
    assert said(caplog, " paused:") == [
        f"polling paused: cannot write to PostgreSQL at 127.0.0.1:5432: the database "
        f'"{scratch_postgres.name}" is read-only. Set database_url '
        "(NEWSALERT_DATABASE_URL) to the primary server, or turn default_transaction_read_only off. "
        "It resumes by itself once the database works again: next try at 12:00:10 UTC, then at least "
        "once a minute."
    ]

    await scratch_postgres.read_only(False)
    clock.advance(FEED_LEASE)
    for _ in range(3):
        await app.poll_due()
        await app.deliver_due()
        clock.advance(NEXT_POLL)
    assert len(said(caplog, "polling resumed")) == 1
    assert out.getvalue().count("== ") == 1 and f"== {SEED_TITLE}" in out.getvalue()
    assert (await stored(app))["World Desk"] == WORLD.count(b"<item>")


async def test_postgresql_down_for_a_while_mid_poll_blames_no_feed_and_polling_resumes(
    scratch_postgres, feed_server, make_settings, start_app, clock, caplog
):
    """PostgreSQL goes away while a feed is fetched (a restart: its connections cut, new ones refused)
    and comes back: polling pauses, saying so once; the feeds are not counted as failing (it was not
    their fault); once it is back, the poll is done again and alerts once."""
    server = make_url(scratch_postgres.url)
    proxy = await TcpProxy(server.host or "127.0.0.1", server.port or 5432).up()
    url = server.set(port=proxy.listen_port).render_as_string(hide_password=False)
    try:
        app, out = await start_app(settings_on(make_settings, feed_server, url, science=False))

        async def restarting(_request: web.Request) -> web.Response:
            del feed_server.handlers["/world.xml"]
            await proxy.down()
            return web.Response(body=WORLD, content_type="application/rss+xml")

        feed_server.handlers["/world.xml"] = restarting
        caplog.set_level(logging.INFO, logger="bot")
        for _ in range(6):
            assert await app.poll_due() == []
            await app.deliver_due()
            clock.advance(POLL_TICK)
        where = f"PostgreSQL at 127.0.0.1:{proxy.listen_port}"
        assert [line.split(". ")[0] for line in said(caplog, " paused:")] == [
            f"{job} paused: cannot connect to {where}: connection refused (nothing listens there)"
            for job in ("polling", "delivery")
        ]
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == [], "no feed crashed"
        assert "the database does not answer (ConnectionRefusedError)" in (await app.health())[1]["problems"]

        await proxy.up()
        clock.advance(FEED_LEASE)  # its claim could not be freed while the database was away
        for _ in range(3):
            await app.poll_due()
            await app.deliver_due()
            clock.advance(NEXT_POLL)
        assert [error for _feed, error in await app.store.feed_list()] == [None], "the feed was not blamed"
        assert out.getvalue().count("== ") == 1 and f"== {SEED_TITLE}" in out.getvalue()
        assert app.paused == {} and len(said(caplog, "polling resumed")) == 1
    finally:
        await proxy.down()


class KillsConnections(FakeTelegram):
    """Telegram, while PostgreSQL restarts: the message goes out as the bot's connections die."""

    postgres: ScratchPostgres | None = None
    read_only: bool = False

    async def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.postgres and not self.sent:
            await (self.postgres.read_only(True) if self.read_only else self.postgres.kill_connections())
        return await super()._sendMessage(params)


@pytest.mark.parametrize("read_only", [False, True], ids=["killed", "read-only"])
async def test_a_delivery_cut_short_by_postgresql_sends_nothing_twice(
    scratch_postgres, feed_server, make_settings, start_app, clock, caplog, read_only
):
    """The connections die (or the database turns read-only) while a message is being sent: it was
    sent, so it is recorded as sent once the database takes it, and never sent again."""
    telegram = await KillsConnections().start()
    telegram.postgres, telegram.read_only = scratch_postgres, read_only
    try:
        settings = settings_on(
            make_settings, feed_server, scratch_postgres.url, "telegram",
            f"telegram:\n  token: {TOKEN}\n  api_url: {telegram.api_url}\n",
        )  # fmt: skip
        app, _out = await start_app(settings)
        await app.poll_due()
        caplog.set_level(logging.INFO, logger="bot")
        await app.deliver_due()
        assert len(telegram.sent) == 1
        for _ in range(150):  # longer than the claim's lease
            await app.deliver_due()
            clock.advance(DELIVER_TICK)
        if read_only:
            assert "read-only" in app.paused["deliver"].problem.args[0]
            await scratch_postgres.read_only(False)
            at_next_try(app, clock, "deliver")
            await app.deliver_due()
        assert app.paused == {}
        assert await app.store.count_outbox() == {"sent": 1}
        assert [m["text"].splitlines()[0] for m in telegram.sent] == [SEED_TITLE]
        paused = said(caplog, "delivery paused:")  # the lock held while sending was lost first
        assert "lost the connection to PostgreSQL at 127.0.0.1:5432" in paused[0]
        assert ["read-only" in line for line in paused] == ([False, True] if read_only else [False])
        assert len(said(caplog, "delivery resumed")) == 1
    finally:
        await telegram.stop()


FEEDS = 24
KILLS = 2
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar".split()


def numbered_feed(i: int) -> bytes:
    """Three stories, each its own (words at random), each matching the rule."""
    rng = random.Random(i)
    items = ""
    for n in range(3):
        words = " ".join(rng.choice(WORDS) + str(rng.randrange(1000)) for _ in range(40))
        items += (
            f"<item><title>Membership item {i}-{n}</title><link>https://news.example/{i}/{n}</link>"
            f"<description>Membership item {i}-{n}. {words}.</description></item>"
        )
    return f'<rss version="2.0"><channel><title>Feed {i}</title>{items}</channel></rss>'.encode()


async def test_postgresql_restarting_under_load_loses_nothing_and_alerts_nothing_twice(
    scratch_postgres, feed_server, make_settings, start_app, clock, caplog
):
    """24 feeds polled ten at a time, and every connection killed in the middle of a tick's polls, tick
    after tick: every story is stored once and alerted once, however the polls were cut."""
    kills, requests = 0, Counter[datetime]()

    async def restarts(request: web.Request) -> web.Response:
        nonlocal kills
        requests[clock.now()] += 1
        if requests[clock.now()] == 12 and kills < KILLS:  # the first feeds of the tick are being saved
            kills += 1
            await scratch_postgres.kill_connections()
        return web.Response(body=feed_server.files[request.path], content_type="application/rss+xml")

    for i in range(FEEDS):
        feed_server.files[f"/f{i}.xml"] = numbered_feed(i)
        feed_server.handlers[f"/f{i}.xml"] = restarts
    feeds = "".join(f"  - url: {feed_server.url(f'/f{i}.xml')}\n    backfill: all\n" for i in range(FEEDS))
    settings = make_settings(
        f"delivery:\n  burst_stories: 1000\nsummary:\n  fetch_pages: never\nfeeds:\n{feeds}"
        "subscriptions:\n  - channel: console\n    rules: [Membership]\n",
        {"NEWSALERT_DATABASE_URL": scratch_postgres.url},
    )
    app, out = await start_app(settings)
    caplog.set_level(logging.INFO, logger="bot")
    for _ in range(15):  # every feed polled two or three times
        await app.poll_due()
        await app.deliver_due()
        clock.advance(timedelta(minutes=1))
    assert kills == KILLS
    assert said(caplog, "polling paused: lost the connection"), "a poll was cut short"
    titles = [line for line in out.getvalue().splitlines() if line.startswith("== ")]
    assert sorted(titles) == sorted(f"== Membership item {i}-{n}" for i in range(FEEDS) for n in range(3))
    assert await app.store.count_outbox() == {"sent": FEEDS * 3}
    assert set((await stored(app)).values()) == {3}
    assert app.paused == {}


async def test_a_read_only_postgresql_pauses_pruning_with_one_line_and_it_resumes(
    scratch_postgres, feed_server, make_settings, start_app, clock, caplog
):
    app, out = await start_app(settings_on(make_settings, feed_server, scratch_postgres.url, science=False))
    await app.poll_due()
    await app.deliver_due()
    clock.advance(timedelta(days=91))
    await scratch_postgres.read_only(True)
    caplog.set_level(logging.INFO, logger="bot")
    assert await app.prune_due() == {}
    assert await app.prune_due() == {}, "not tried again before its time"
    assert said(caplog, " paused:") == [
        f"pruning paused: cannot write to PostgreSQL at 127.0.0.1:5432: the database "
        f'"{scratch_postgres.name}" is read-only. Set database_url '
        "(NEWSALERT_DATABASE_URL) to the primary server, or turn default_transaction_read_only off. "
        "It resumes by itself once the database works again: next try at 12:01:00 UTC, then at least "
        "once a minute."
    ]
    assert "pruning paused since" in " ".join((await app.health())[1]["problems"])

    await scratch_postgres.read_only(False)
    at_next_try(app, clock, "prune")
    assert (await app.prune_due())["articles"] == WORLD.count(b"<item>")
    assert said(caplog, "resumed") == [
        "pruning resumed: the database works again (paused since 12:00:00 UTC)"
    ]
