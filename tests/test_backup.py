"""Backups a user can count on: `newsalert db backup` copies a SQLite database consistently while the
bot runs and writes, `newsalert db restore` puts one back (never over a database a running bot holds)
and nothing alerted before the backup alerts again; on PostgreSQL both say what to run instead."""

from __future__ import annotations

import asyncio
import io
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from shutil import which

import pytest
from aiohttp import web

from bot.app import FEED_LEASE, App
from bot.store import Store
from bot.store.backup import back_up, known_schemas, last_backup, restore
from tests.conftest import POSTGRES, SEED_TITLE
from tests.test_cli import _listening_port, clean_env, newsalert, started, write_config
from tests.test_fetching import item, rss

RULE = "Membership Action Plan"
ABOUT = "Talks on a Membership Action Plan."


def alerted(console: str) -> list[str]:
    """The titles the console channel alerted, in order."""
    return re.findall(r"^== (.+)$", console, re.M)


def feeds_and_subscriptions(database: Path) -> tuple[int, int, str]:
    with sqlite3.connect(database) as db:
        [[feeds]] = db.execute("SELECT count(*) FROM feeds")
        [[subscriptions]] = db.execute("SELECT count(*) FROM subscriptions")
        [[check]] = db.execute("PRAGMA quick_check")
    return feeds, subscriptions, check


WRITER = """
import pathlib, sqlite3, sys
database, stop = sys.argv[1], pathlib.Path(sys.argv[2])
db = sqlite3.connect(database, timeout=10, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
n = 0
while not stop.exists():
    n += 1
    db.execute("BEGIN")
    db.execute(
        "INSERT INTO feeds (url, name, interval_seconds, source, active, error_count, next_check_at,"
        " created_at, failure_noticed, fixed_interval)"
        " VALUES (?, ?, 300, 'chat', 1, 0, '2026-03-01', '2026-03-01', 0, 0)",
        (f"https://feeds.example/{n}", "x" * 2000),
    )
    db.execute(
        "INSERT INTO subscriptions (channel, address, name, source, active, created_at, digest)"
        " VALUES ('telegram', ?, 'a chat', 'chat', 1, '2026-03-01', 'instant')",
        (str(n),),
    )
    db.execute("COMMIT")
    if n == 1:
        print("writing", flush=True)
print(n, flush=True)
"""


async def test_a_backup_taken_while_another_process_writes_is_whole_and_consistent(tmp_path, clock):
    """Each transaction of the writer adds a feed and a subscription: a consistent copy holds as many
    of each, whenever it was taken."""
    database = tmp_path / "newsalert.db"
    store = Store.open(f"sqlite:///{database}")
    await store.upgrade()
    await store.close()
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(database), str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout and writer.stdout.readline() == "writing\n"
        copies = []
        for n in range(5):
            made = back_up(database, tmp_path / f"copy-{n}.db", clock.now())
            copies.append(feeds_and_subscriptions(made.path))
            assert made.schema == max(known_schemas())
            assert not Path(f"{made.path}-wal").exists(), "a backup is one file"
    finally:
        stop.touch()
        written = int(writer.communicate(timeout=30)[0])
    assert writer.returncode == 0
    for feeds, subscriptions, check in copies:
        assert check == "ok"
        assert feeds == subscriptions > 0
    assert len({feeds for feeds, _, _ in copies}) > 1, "the writer went on between the backups"
    assert written > copies[-1][0], "and after them"
    assert last_backup(database) == clock.now()


async def test_a_backup_taken_mid_poll_restores_and_nothing_alerted_before_it_alerts_again(
    make_settings, feed_server, clock, tmp_path
):
    settings = make_settings(
        f"feeds:\n  - url: {feed_server.url('/feed.xml')}\n    backfill: all\n"
        f"subscriptions:\n  - channel: console\n    rules: [{RULE}]\n"
    )
    database, backup = tmp_path / "newsalert.db", tmp_path / "backups" / "mid-poll.db"
    backup.parent.mkdir()
    feed_server.files["/feed.xml"] = rss(item(1, ABOUT) + item(2, ABOUT) + item(9))
    before = io.StringIO()
    app = App(settings, clock=clock, console=before)
    try:
        await app.start()
        await app.poll_due()
        await app.deliver_due()
        assert sorted(alerted(before.getvalue())) == ["Story 1", "Story 2"]

        async def back_up_while_the_bot_waits(_request: web.Request) -> web.Response:
            """The bot has claimed the feed and waits for it: the backup is taken now."""
            await asyncio.to_thread(back_up, database, backup, clock.now())
            return web.Response(body=rss(item(3, ABOUT) + item(1, ABOUT) + item(2, ABOUT) + item(9)))

        feed_server.handlers["/feed.xml"] = back_up_while_the_bot_waits
        clock.advance(timedelta(minutes=6))
        [report] = await app.poll_due()
        assert (report.new, report.alerts) == (1, 1)
        await app.deliver_due()
        assert alerted(before.getvalue())[2:] == ["Story 3"]
    finally:
        await app.close()

    restored = await asyncio.to_thread(
        newsalert, "db", "restore", str(backup), "--config", str(tmp_path / "newsalert.yaml"), cwd=tmp_path
    )
    assert restored.returncode == 0, restored.stderr
    assert f"restored {database} from {backup}" in restored.stdout
    assert len(list(tmp_path.glob("newsalert.db.replaced-*"))) == 1, "the database it replaced is kept"

    del feed_server.handlers["/feed.xml"]
    feed_server.files["/feed.xml"] = rss(item(4, ABOUT) + item(3, ABOUT) + item(1, ABOUT) + item(2, ABOUT))
    after = io.StringIO()
    app = App(settings, clock=clock, console=after)  # as `newsalert run` starts on it
    try:
        await app.start()
        clock.advance(FEED_LEASE + timedelta(minutes=6))  # the backup holds the feed's claim until then
        [report] = await app.poll_due()
        assert report.error is None
        await app.deliver_due()
    finally:
        await app.close()
    # Stories 1 and 2 were alerted before the backup: never again. Story 3 was alerted after it, which
    # the restored database cannot know: it comes again, as docs/backups.md says. Story 4 is new.
    assert sorted(alerted(after.getvalue())) == ["Story 3", "Story 4"]


async def test_restore_refuses_the_database_of_a_running_bot_and_works_once_it_stops(tmp_path):
    config = str(write_config(tmp_path))
    database, backup = tmp_path / "db" / "newsalert.db", tmp_path / "backup.db"
    process = await started("run", "--config", config, cwd=tmp_path, env=clean_env())
    try:
        await asyncio.wait_for(_listening_port(process), timeout=30)
        alert = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert alert.decode().strip() == f"== {SEED_TITLE}"
        made = await asyncio.to_thread(
            newsalert, "db", "backup", str(backup), "--config", config, cwd=tmp_path
        )
        assert made.returncode == 0, made.stderr
        assert made.stdout.startswith(f"backed up {database} to {backup} (")

        refused = await asyncio.to_thread(
            newsalert, "db", "restore", str(backup), "--config", config, cwd=tmp_path
        )
        assert refused.returncode == 3
        assert refused.stderr.splitlines() == [
            f"newsalert: cannot restore over {database}: another process has it open "
            "(a newsalert running on it?)",
            "  Stop the bot first (with Docker: docker compose stop newsalert), then restore; "
            "nothing was changed.",
        ]
        assert sorted(p.name for p in database.parent.iterdir()) == [
            "newsalert.db", "newsalert.db-shm", "newsalert.db-wal", "newsalert.db.last-backup",
        ]  # fmt: skip
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    done = await asyncio.to_thread(newsalert, "db", "restore", str(backup), "--config", config, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [kept] = database.parent.glob("newsalert.db.replaced-*")
    assert done.stdout.splitlines()[-1] == f"the database it replaced is kept as {kept}"
    again = await asyncio.to_thread(newsalert, "run", "--once", "--config", config, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "", "the seed story was alerted before the backup"


def test_a_backup_never_overwrites_a_file_and_names_one_by_the_time_in_a_directory(tmp_path):
    config = str(write_config(tmp_path))
    assert newsalert("run", "--once", "--config", config, cwd=tmp_path).returncode == 0
    backups = tmp_path / "backups"
    backups.mkdir()
    first = newsalert("db", "backup", str(backups), "--config", config, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    [made] = backups.iterdir()
    assert re.fullmatch(r"newsalert-\d{8}-\d{6}\.db", made.name)
    assert first.stdout.strip().endswith("MB, schema " + max(known_schemas()) + ")")

    made.write_bytes(b"last week's backup")
    again = newsalert("db", "backup", str(made), "--config", config, cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.splitlines() == [
        f"newsalert: cannot back up to {made}: a file is there already",
        "  Give a new file name, or a directory (a file named by the time is made in it).",
    ]
    assert made.read_bytes() == b"last week's backup"
    nowhere = newsalert("db", "backup", str(tmp_path / "no" / "x.db"), "--config", config, cwd=tmp_path)
    assert nowhere.returncode == 2
    assert nowhere.stderr.splitlines()[0].endswith(f"there is no directory {tmp_path / 'no'}")
    assert list(backups.iterdir()) == [made], "no partial file left behind"


def test_restore_refuses_a_file_that_is_not_a_newsalert_backup_and_changes_nothing(tmp_path):
    config = str(write_config(tmp_path))
    assert newsalert("run", "--once", "--config", config, cwd=tmp_path).returncode == 0
    database = tmp_path / "db" / "newsalert.db"
    good = tmp_path / "good.db"
    assert newsalert("db", "backup", str(good), "--config", config, cwd=tmp_path).returncode == 0
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (text)")
    newer = tmp_path / "newer.db"
    newer.write_bytes(good.read_bytes())
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    damaged = tmp_path / "damaged.db"
    body = bytearray(good.read_bytes())
    body[8192:12288] = b"\xff" * 4096  # the third page
    damaged.write_bytes(bytes(body))
    (tmp_path / "notes.txt").write_text("not a database")
    cases = {
        "missing.db": f"no backup at {tmp_path / 'missing.db'}",
        "notes.txt": f"cannot read {tmp_path / 'notes.txt'} as a SQLite database: file is not a database",
        "other.db": f"{other} is a SQLite database, but not newsalert's: it has no schema version",
        "newer.db": f"{newer} holds a newer schema (9999) than this newsalert knows",
        "damaged.db": f"{damaged} is damaged: ",
        "db/newsalert.db": f"{database} is the database itself",
    }
    before = database.read_bytes()
    for name, said in cases.items():
        result = newsalert("db", "restore", str(tmp_path / name), "--config", config, cwd=tmp_path)
        assert result.returncode == 2, (name, result.stderr)
        assert result.stderr.startswith(f"newsalert: {said}"), result.stderr
        assert len(result.stderr.splitlines()) == 2, "what failed and why, then what to do"
    assert database.read_bytes() == before
    assert sorted(p.name for p in database.parent.iterdir()) == ["newsalert.db", "newsalert.db.last-backup"]


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_on_postgresql_backup_and_restore_say_what_to_run_and_never_the_password(tmp_path, command):
    config = write_config(tmp_path)
    env = {
        **clean_env(),
        "NEWSALERT_DATABASE_URL": "postgresql://alerts@db.internal:5433/newsalert",
        "NEWSALERT_DATABASE_PASSWORD": "pg-secret-value",
    }
    result = newsalert("db", command, "/backups/news dump", "--config", str(config), cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "pg-secret-value" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith(
        "newsalert: this command works on SQLite; the database is PostgreSQL (newsalert at db.internal:5433)"
    )
    server = "--host=db.internal --port=5433 --username=alerts"
    if command == "backup":
        assert lines[1] == f"  pg_dump --format=custom '--file=/backups/news dump' {server} newsalert"
    else:
        assert lines[1:3] == [
            f"  createdb {server} newsalert_restored",
            f"  pg_restore --no-owner {server} --dbname=newsalert_restored '/backups/news dump'",
        ]
    assert lines[-1] == "  A password is never shown here: they ask for it, or read ~/.pgpass or PGPASSWORD."


@pytest.mark.skipif(not POSTGRES, reason="NEWSALERT_TEST_POSTGRES_URL is not set")
@pytest.mark.skipif(
    not all(map(which, ("pg_dump", "pg_restore", "createdb", "dropdb"))), reason="no pg tools"
)
async def test_the_postgresql_commands_printed_back_up_and_restore_the_database(tmp_path):
    """The pg_dump and pg_restore lines, run as printed, copy the bot's database to a new one."""
    from sqlalchemy import text

    from tests.conftest import empty_postgres

    await empty_postgres(POSTGRES)
    config = str(write_config(tmp_path))
    env = {**clean_env(), "NEWSALERT_DATABASE_URL": POSTGRES}
    once = await asyncio.to_thread(newsalert, "run", "--once", "--config", config, cwd=tmp_path, env=env)
    assert once.returncode == 0, once.stderr
    dump = tmp_path / "newsalert.dump"
    printed = []
    for command in ("backup", "restore"):
        said = newsalert("db", command, str(dump), "--config", config, cwd=tmp_path, env=env)
        printed += [line.strip() for line in said.stderr.splitlines()[1:-1]]
    dump_line, createdb_line, restore_line = printed
    restored = createdb_line.split()[-1]
    dropdb = [*shlex.split(createdb_line)[:-1], restored]
    dropdb[0] = "dropdb"
    subprocess.run([*dropdb, "--if-exists"], check=True, capture_output=True)
    try:
        for line in (dump_line, createdb_line, restore_line):
            done = subprocess.run(shlex.split(line), capture_output=True, text=True)
            assert done.returncode == 0, (line, done.stderr)
        copy_url = POSTGRES.rsplit("/", 1)[0] + f"/{restored}"
        store = Store.open(copy_url)
        try:
            async with store.engine.connect() as conn:
                sent = (
                    await conn.execute(text("SELECT count(*) FROM outbox WHERE status = 'sent'"))
                ).scalar()
        finally:
            await store.close()
        assert sent == 1, "the seed story's alert is in the copy"
    finally:
        subprocess.run([*dropdb, "--if-exists"], capture_output=True)


async def test_restoring_twice_in_the_same_second_keeps_both_databases_it_replaced(tmp_path, clock):
    database, backup = tmp_path / "newsalert.db", tmp_path / "backup.db"
    store = Store.open(f"sqlite:///{database}")
    await store.upgrade()
    await store.close()
    back_up(database, backup, clock.now())
    first = restore(backup, database, clock.now(), known_schemas())
    second = restore(backup, database, clock.now(), known_schemas())
    assert first.kept and second.kept and first.kept != second.kept
    assert first.kept.exists() and second.kept.exists() and database.exists()
