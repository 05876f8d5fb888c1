"""Why the database cannot be used, in words a person can act on: the driver's error (PostgreSQL's
SQLSTATE, SQLite's message, the socket's errno) -> StoreError(what failed and why, what to do).
At start-up that stops the bot; while it runs (a disk filling up, a file system made read-only, a
PostgreSQL restarted), it pauses the job that met it until the database takes writes again (app.py).

Only the host, port, user and database name of the URL are ever shown: never its password.
"""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from bot.errors import NewsalertError, StoreError

SET_URL = "database_url (NEWSALERT_DATABASE_URL)"


@contextmanager
def translated(database_url: str) -> Iterator[None]:
    """Database errors raised inside as StoreError with the reason and what to do; others as they are."""
    try:
        yield
    except NewsalertError:
        raise
    except Exception as error:
        problem = database_problem(error, database_url)
        if problem is None:
            raise
        raise problem from error


def from_the_database(error: BaseException) -> bool:
    """Whether the database raised this, not a feed or our code: an error of SQLAlchemy or of a
    driver, or a connection to the database server refused or reset (SQLAlchemy passes those on as
    the socket raised them). A feed's poll lets these through: the database failed, not the feed."""
    return isinstance(error, SQLAlchemyError | sqlite3.Error | ConnectionError) or (
        isinstance(error, OSError) and "Connect call failed" in str(error)
    )


def database_problem(error: BaseException, database_url: str) -> StoreError | None:
    """The StoreError that says why this error keeps us from the database, or None when it is not a
    database problem we know."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    if url.get_backend_name() == "sqlite":
        return _sqlite_problem(error, Path(url.database or ""))
    if url.get_backend_name() == "postgresql":
        return _postgres_problem(error, url)
    return None


def _writer() -> str:
    return f"the user that runs newsalert (uid {os.geteuid()})"


def _sqlite_problem(error: BaseException, path: Path) -> StoreError | None:
    cause = error.orig if isinstance(error, DBAPIError) else error
    message = str(cause).lower()
    where = f"the SQLite database {path}"
    refused = (
        _write_refused(path.parent)
        if any(m in message for m in ("readonly database", "disk i/o error", "unable to open database file"))
        else None
    )
    if refused == errno.EROFS:  # the system made the disk read-only after an error, say
        return StoreError(
            f"cannot write to {where}: its file system is read-only",
            f"Find out why (dmesg), and make {path.parent} writable again.",
        )
    if "disk is full" in message or refused in (errno.ENOSPC, errno.EDQUOT):
        return StoreError(
            f"cannot write to {where}: the disk is full",
            f"Free some space on the disk that holds {path.parent} (df -h {path.parent}).",
        )
    if "unable to open database file" in message:
        if not path.exists():
            return StoreError(
                f"cannot create {where}: its directory {path.parent} is not writable",
                f"Give {_writer()} write access to {path.parent}, or set {SET_URL} to a writable place.",
            )
        return StoreError(
            f"cannot open {where}: the file, or its directory (SQLite writes beside it), is not writable",
            f"Give {_writer()} read and write access to {path} and {path.parent}.",
        )
    if "readonly database" in message:
        return StoreError(
            f"cannot write to {where}: this user may not write to it, or to its directory (its journal)",
            f"Give {_writer()} write access to {path} and its directory {path.parent}.",
        )
    if "database is locked" in message:
        return StoreError(
            f"{where} is locked by another process",
            "Stop the other newsalert: SQLite serves one process; several replicas need PostgreSQL.",
        )
    if "not a database" in message:
        return StoreError(
            f"{path} is not a SQLite database",
            f"Set {SET_URL} to the database file, or move that file away to start a new database.",
        )
    if "disk i/o error" in message:
        return StoreError(f"cannot write to {where}: a disk I/O error", "Check the disk (dmesg).")
    return None


def uncreatable(path: Path) -> StoreError | None:
    """Why a new SQLite file cannot be made at path, asked before any connection is opened (a failed
    connect leaves the driver's thread posting to a loop that may be gone), or None."""
    if path.exists() or _write_refused(path.parent) is None:
        return None
    return _sqlite_problem(sqlite3.OperationalError("unable to open database file"), path)


def _write_refused(directory: Path) -> int | None:
    """Why a byte cannot be written beside the database (errno: EROFS, ENOSPC...), or None when it can:
    SQLite says "disk I/O error" or "readonly database" whatever the system said to it."""
    probe = directory / f".newsalert-probe-{os.getpid()}"
    try:
        with open(probe, "wb") as file:
            file.write(b"\0")
            file.flush()
            os.fsync(file.fileno())
    except OSError as error:
        return error.errno
    finally:
        with suppress(OSError):
            probe.unlink()
    return None


# SQLSTATE codes: https://www.postgresql.org/docs/current/errcodes-appendix.html
def _postgres_problem(error: BaseException, url: URL) -> StoreError | None:
    host = url.host or "localhost"
    where = f"PostgreSQL at {host}:{url.port or 5432}"
    name, user = url.database or "", url.username or "(your login)"
    if isinstance(error, DBAPIError):
        state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        said = str(error.orig).strip()
        if state == "3D000":
            return StoreError(
                f'cannot use {where}: the database "{name}" does not exist',
                f"Create it (createdb -h {host} -U {user} {name}), or correct the name in {SET_URL}.",
            )
        if state == "28P01":
            return StoreError(
                f'cannot connect to {where}: it refused the password of user "{user}"',
                "Set the right one: database_password (NEWSALERT_DATABASE_PASSWORD, or its _FILE).",
            )
        if state == "28000":
            return StoreError(
                f"cannot connect to {where}: {said}",
                f"Correct the user in {SET_URL}, or let it connect (CREATE ROLE, pg_hba.conf).",
            )
        if state == "42501":
            return StoreError(
                f'cannot create tables in {where}, database "{name}", as user "{user}": {said}',
                f"Make it the database's owner (ALTER DATABASE {name} OWNER TO {user}), "
                "or grant it CREATE ON SCHEMA public.",
            )
        if state in ("57P03", "53300"):
            return StoreError(f"cannot connect to {where}: {said}", "Try again in a moment.")
        if state == "53100":
            return StoreError(
                f"cannot write to {where}: its disk is full ({said})",
                "Free some space on the disk of the PostgreSQL server.",
            )
        if state == "25006":  # a standby, or default_transaction_read_only
            return StoreError(
                f'cannot write to {where}: the database "{name}" is read-only',
                f"Set {SET_URL} to the primary server, or turn default_transaction_read_only off.",
            )
        if error.connection_invalidated or state in ("57P01", "57P02") or (state or "").startswith("08"):
            return StoreError(
                f"lost the connection to {where} ({said or type(error.orig).__name__})",
                "Check that PostgreSQL runs there; newsalert connects again by itself.",
            )
        return None
    if isinstance(error, socket.gaierror):
        return StoreError(
            f"cannot connect to PostgreSQL: there is no host named {host}", f"Correct the host in {SET_URL}."
        )
    if isinstance(error, ConnectionRefusedError) or (
        isinstance(error, OSError) and "Connect call failed" in str(error)
    ):
        return StoreError(
            f"cannot connect to {where}: connection refused (nothing listens there)",
            f"Start PostgreSQL, or correct the host and port in {SET_URL}.",
        )
    if isinstance(error, TimeoutError):
        return StoreError(
            f"cannot connect to {where}: no answer in time",
            "Check that it runs there, and that no firewall drops the connection.",
        )
    if isinstance(error, OSError):
        return StoreError(
            f"cannot connect to {where}: {error.strerror or error}", f"Check the host in {SET_URL}."
        )
    return None
