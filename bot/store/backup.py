"""The database as files: a backup of a SQLite database while the bot runs, a restore that refuses a
database in use, the commands that do both on PostgreSQL, and what /metrics says of the files (their
size, the time of the last backup).

A backup is SQLite's online backup API (sqlite3.Connection.backup) in one step: one read transaction,
so a consistent copy of the database as it was when the step began, while the bot goes on writing (in
WAL mode a reader and the writer do not wait for each other). In several steps, each write of the bot
in between would start the copy over.

The time of the last backup is kept in a small file beside the database (newsalert.db.last-backup),
not in a table: a SQLite database is served by one process and backed up only by this command, so the
file is where that process finds it, whatever PATH the backup went to (and however backups are
rotated); and it needs no migration. pg_dump tells us nothing: on PostgreSQL it is not known.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sqlite3
from collections.abc import Collection
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot.errors import BackupError, StoreError
from bot.store.problems import database_problem

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger(__name__)

STAMP = ".last-backup"  # newsalert.db.last-backup: when the last backup was taken, and where it went
BESIDE = ("-wal", "-shm", "-journal")  # the files SQLite keeps next to a database, by their suffix
LOCK_WAIT = 0.5  # seconds a restore waits for the database's lock before calling it in use


@dataclass(frozen=True)
class Copy:
    """A backup written, or restored: the file, its size in bytes, its schema (Alembic revision)."""

    path: Path
    size: int
    schema: str
    kept: Path | None = None  # a restore: where the database it replaced is now


def sqlite_file(database_url: str | URL) -> Path | None:
    """The file of a SQLite database URL; None for PostgreSQL (or a database in memory)."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise StoreError("not a database URL like sqlite:///data/newsalert.db") from None
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def back_up(database: Path, target: Path, now: datetime) -> Copy:
    """A consistent copy of the SQLite database, taken now while the bot may be writing to it, at
    target: a new file (or, when target is a directory, newsalert-YYYYmmdd-HHMMSS.db in it), never one
    that is there already. The copy is one self-contained file that SQLite's quick check finds whole
    before it takes target's name; then the time is noted beside the database for /metrics."""
    if target.is_dir():
        target = target / f"newsalert-{now:%Y%m%d-%H%M%S}.db"
    if not target.parent.is_dir():
        raise BackupError(
            f"cannot back up to {target}: there is no directory {target.parent}",
            "Create it, or give another place.",
        )
    if target.exists():
        raise BackupError(
            f"cannot back up to {target}: a file is there already",
            "Give a new file name, or a directory (a file named by the time is made in it).",
        )
    partial = target.with_name(f"{target.name}.partial")
    try:
        with closing(_open(database, "rw")) as source, closing(_open_target(partial, target)) as copy:
            _copy(source, copy, target)
            copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
            problem, schema = _examined(copy)
        if problem:
            raise BackupError(
                f"the copy of {database} is damaged, so the database itself may be: {problem}",
                f"Check it: sqlite3 {shlex.quote(str(database))} 'PRAGMA integrity_check'.",
                exit_code=1,
            )
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _note(database, target, now)
    return Copy(target, target.stat().st_size, schema or "")


def restore(backup: Path, database: Path, now: datetime, schemas: Collection[str]) -> Copy:
    """The SQLite database replaced by a copy of backup, once backup is found to be a whole newsalert
    database of one of these schemas (this version's migrations). Refused (StoreError, nothing
    changed) while a process has the database open: a running bot. The database it replaces is kept
    beside it, renamed newsalert.db.replaced-YYYYmmdd-HHMMSS, never deleted."""
    if database.exists() and backup.exists() and backup.samefile(database):
        raise BackupError(f"{backup} is the database itself", "Give the path of a backup.")
    with closing(_open(backup, "ro", named=True)) as source:
        problem, schema = _examined(source)
        if problem:
            raise BackupError(f"{backup} is damaged: {problem}", "Restore another backup.")
        if not schema:
            raise BackupError(
                f"{backup} is a SQLite database, but not newsalert's: it has no schema version",
                "Give the path of a file `newsalert db backup` wrote.",
            )
        if schema not in schemas:
            raise BackupError(
                f"{backup} holds a newer schema ({schema}) than this newsalert knows",
                "Restore it with the newsalert that made it, or upgrade this one first.",
            )
        if database.exists():
            _take_over(database)  # refused at once, before a long copy
        database.parent.mkdir(parents=True, exist_ok=True)
        partial = database.with_name(f"{database.name}.restoring")
        try:
            with closing(_open_target(partial, database)) as copy:
                _copy(source, copy, database)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    kept = None
    if database.exists():
        try:
            _take_over(database)  # still no bot on it
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        kept = database.with_name(f"{database.name}.replaced-{now:%Y%m%d-%H%M%S}")
        while kept.exists():  # restored twice within a second: the first one kept stays
            kept = kept.with_name(f"{kept.name}-again")
        for suffix in ("", *BESIDE):  # a file SQLite could not open keeps whatever was beside it
            if Path(f"{database}{suffix}").exists():
                os.replace(f"{database}{suffix}", f"{kept}{suffix}")
    os.replace(partial, database)
    return Copy(database, database.stat().st_size, schema, kept)


def known_schemas() -> set[str]:
    """The schema revisions this version's migrations know: a backup of any of them can be restored
    (`run` upgrades it at start)."""
    from alembic.script import ScriptDirectory

    from bot.store import MIGRATIONS

    return {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


def last_backup(database: Path) -> datetime | None:
    """When the last `newsalert db backup` of this database was taken, as noted beside it; None if never
    (or the note cannot be read)."""
    try:
        note = json.loads(Path(f"{database}{STAMP}").read_text(encoding="utf-8"))
        return datetime.fromisoformat(note["taken_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


async def database_size(store: Store) -> int | None:
    """Bytes the database takes: the SQLite file with the files beside it (its -wal can be large),
    or PostgreSQL's pg_database_size; None for a database in memory."""
    path = sqlite_file(store.engine.url)
    if path:
        return sum(each.stat().st_size for each in _with_beside(path) if each.exists())
    if store.engine.dialect.name == "postgresql":
        async with store.engine.connect() as conn:
            return (await conn.execute(text("SELECT pg_database_size(current_database())"))).scalar_one()
    return None


def pg_dump_command(database_url: str, target: str) -> str:
    """The pg_dump command that backs up this PostgreSQL database to target, in the custom format
    pg_restore reads. Never the password; nor the URL's query (asyncpg's names are not libpq's)."""
    return shlex.join(
        ["pg_dump", "--format=custom", f"--file={target}", *_pg_options(database_url), _name(database_url)]
    )


def pg_restore_commands(database_url: str, backup: str, name: str) -> list[str]:
    """The commands that restore a pg_dump backup into a new, empty database `name` on the same
    server; never the password."""
    server = _pg_options(database_url)
    return [
        shlex.join(["createdb", *server, name]),
        shlex.join(["pg_restore", "--no-owner", *server, f"--dbname={name}", backup]),
    ]


def _pg_options(database_url: str) -> list[str]:
    """The server and user of a PostgreSQL URL, as pg_dump's options (the defaults left out)."""
    url = make_url(database_url)
    options = [f"--host={url.host}"] if url.host else []
    options += [f"--port={url.port}"] if url.port else []
    return options + ([f"--username={url.username}"] if url.username else [])


def _name(database_url: str) -> str:
    return make_url(database_url).database or ""


def _open(path: Path, mode: str, *, named: bool = False) -> sqlite3.Connection:
    """An existing SQLite file, read-write or read-only; never created. named: a backup the user
    named (BackupError), else the configured database (StoreError)."""
    if not path.is_file():
        if named:
            raise BackupError(f"no backup at {path}", "Give the path of a file `newsalert db backup` wrote.")
        raise StoreError(f"no SQLite database at {path}", "Check database_url (NEWSALERT_DATABASE_URL).")
    try:
        connection = sqlite3.connect(f"file:{quote(str(path))}?mode={mode}", uri=True, timeout=10)
    except sqlite3.Error as error:
        raise _unreadable(path, error, named) from None
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reads the header
    except sqlite3.Error as error:
        connection.close()
        raise _unreadable(path, error, named) from None
    return connection


def _unreadable(path: Path, error: sqlite3.Error, named: bool) -> BackupError | StoreError:
    if named:
        return BackupError(
            f"cannot read {path} as a SQLite database: {error}",
            "Give the path of a file `newsalert db backup` wrote.",
        )
    return database_problem(error, f"sqlite:///{path}") or StoreError(f"cannot read {path}: {error}")


def _open_target(partial: Path, target: Path) -> sqlite3.Connection:
    """A new SQLite file at partial, on its way to becoming target."""
    try:
        partial.unlink(missing_ok=True)  # left by a copy that was stopped half-way
        return sqlite3.connect(partial)
    except (OSError, sqlite3.Error) as error:
        raise _cannot_write(target, error) from None


def _copy(source: sqlite3.Connection, copy: sqlite3.Connection, target: Path) -> None:
    """Every page of source into copy in one step: one read transaction, a consistent copy."""
    try:
        source.backup(copy)
    except sqlite3.Error as error:
        raise _cannot_write(target, error) from None


def _cannot_write(target: Path, error: Exception) -> BackupError:
    return BackupError(
        f"cannot write {target}: {getattr(error, 'strerror', None) or error}",
        "Choose a place this user can write to, with room for a copy of the database.",
        exit_code=1,
    )


def _examined(connection: sqlite3.Connection) -> tuple[str | None, str | None]:
    """What SQLite's quick check finds wrong (None: the file is whole), and the schema revision of a
    newsalert database (None: not one)."""
    try:
        problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        revision = (
            connection.execute("SELECT version_num FROM alembic_version").fetchone()
            if "alembic_version" in tables
            else None
        )
    except sqlite3.DatabaseError as error:  # too damaged to check
        return str(error), None
    problem = (
        None if problems == ["ok"] else " ".join(problems[0].replace("*** in database main ***", "").split())
    )
    return problem, (str(revision[0]) if revision else None)


def _take_over(database: Path) -> None:
    """Refuses (StoreError) while another process has the database open, and folds its WAL into the
    file. Leaving WAL mode takes SQLite's exclusive lock, which no connection gets while another is
    open in WAL mode (each holds a shared lock on the file for as long as it is open). A file that
    is not a SQLite database is left as it is: there is nothing of a bot's in it."""
    try:
        uri = f"file:{quote(str(database))}?mode=rw"
        with closing(sqlite3.connect(uri, uri=True, timeout=LOCK_WAIT)) as connection:
            mode = connection.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
    except sqlite3.OperationalError as error:
        if "locked" not in str(error) and "busy" not in str(error):
            raise database_problem(error, f"sqlite:///{database}") or StoreError(
                f"cannot restore over {database}: {error}"
            ) from None
        mode = "wal"
    except sqlite3.DatabaseError:  # not a database: nothing of a bot's in it
        return
    if mode != "delete":
        raise StoreError(
            f"cannot restore over {database}: another process has it open (a newsalert running on it?)",
            "Stop the bot first (with Docker: docker compose stop newsalert), then restore; "
            "nothing was changed.",
        )


def _note(database: Path, target: Path, now: datetime) -> None:
    """When this backup was taken, and where it went, beside the database (for /metrics); a note that
    cannot be written is a warning, not a failed backup."""
    stamp = Path(f"{database}{STAMP}")
    partial = stamp.with_name(f"{stamp.name}.partial")
    try:
        note = {"taken_at": now.isoformat(), "backup": str(target.resolve())}
        partial.write_text(json.dumps(note) + "\n", encoding="utf-8")
        os.replace(partial, stamp)
    except OSError as error:
        log.warning("cannot note the backup's time in %s (%s): /metrics will not show it", stamp, error)


def _with_beside(path: Path) -> list[Path]:
    return [path, *(Path(f"{path}{suffix}") for suffix in BESIDE)]
