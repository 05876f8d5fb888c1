"""Every ordinary failure as the real command line shows it: one line saying what failed and why, one
saying what to do, the exit code the README documents, and no traceback unless asked for with --debug.

Real parts throughout: a port really taken, PostgreSQL on a port where nothing listens, a database that
does not exist on the local PostgreSQL, a directory the process may not write to, fake chat APIs that
refuse the token."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.cli import report
from bot.store import async_url
from tests.conftest import POSTGRES, SEED_TITLE
from tests.fakes.slack_api import SIGNING_SECRET, FakeSlack
from tests.fakes.telegram_api import TOKEN, FakeTelegram
from tests.test_cli import clean_env, newsalert, write_config

LOCAL_POSTGRES = POSTGRES or "postgresql://postgres@127.0.0.1:5432/postgres"
SET_URL = "database_url (NEWSALERT_DATABASE_URL)"


def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What the command said on standard error, asserting it showed no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.splitlines()


def run_with(tmp_path: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    return newsalert(*args, cwd=tmp_path, env={**clean_env(), **environ})


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_plain_user() -> list[str]:
    """A prefix that runs a command without root's power over file modes, so that a read-only
    directory is read-only for it too (root may write anywhere, whatever the mode says)."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: no directory can be read-only here")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]


def newsalert_as_plain_user(*args: str, cwd: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*as_plain_user(), sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**clean_env(), **environ},
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- the port ----------------------------------------------------------------------------------


def test_a_port_in_use_says_so_and_exits_4(tmp_path):
    config = write_config(tmp_path).read_text().replace("port: 0", "port: {port}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (tmp_path / "newsalert.yaml").write_text(config.format(port=port))
        result = run_with(tmp_path, "run", "--config", str(tmp_path / "newsalert.yaml"))
    assert result.returncode == 4
    assert lines(result)[-2:] == [
        f"newsalert: cannot listen on 127.0.0.1:{port}: the port is in use "
        "(by another newsalert, or another server)",
        "  Stop that program, or set http.port (NEWSALERT_HTTP_PORT) to a free port.",
    ]


# --- the database ------------------------------------------------------------------------------


def test_postgresql_that_does_not_answer_says_so_and_exits_3(tmp_path):
    port = free_port()
    url = f"postgresql://newsalert:hunter2-secret@127.0.0.1:{port}/newsalert"
    result = run_with(
        tmp_path, "run", "--once", "--config", str(write_config(tmp_path)), NEWSALERT_DATABASE_URL=url
    )
    assert result.returncode == 3
    assert lines(result) == [
        f"newsalert: cannot connect to PostgreSQL at 127.0.0.1:{port}: "
        "connection refused (nothing listens there)",
        f"  Start PostgreSQL, or correct the host and port in {SET_URL}.",
    ]


async def answers(url: str) -> bool:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


@pytest.fixture
async def postgres() -> str:
    """The local PostgreSQL (NEWSALERT_TEST_POSTGRES_URL, else 127.0.0.1:5432), when it answers."""
    if not await answers(LOCAL_POSTGRES):
        pytest.skip(f"no PostgreSQL answers at {make_url(LOCAL_POSTGRES).render_as_string()}")
    return LOCAL_POSTGRES


async def test_a_postgresql_database_that_does_not_exist_says_how_to_make_it(tmp_path, postgres):
    name = f"newsalert_missing_{secrets.token_hex(4)}"
    url = make_url(postgres).set(database=name)
    result = await asyncio.to_thread(
        run_with, tmp_path, "db", "upgrade", "--config", str(write_config(tmp_path)),
        NEWSALERT_DATABASE_URL=url.render_as_string(hide_password=False),
    )  # fmt: skip
    assert result.returncode == 3
    where, user = f"{url.host}:{url.port or 5432}", url.username
    assert lines(result) == [
        f'newsalert: cannot use PostgreSQL at {where}: the database "{name}" does not exist',
        f"  Create it (createdb -h {url.host} -U {user} {name}), or correct the name in {SET_URL}.",
    ]


async def test_a_postgresql_user_without_rights_says_which_right(tmp_path, postgres):
    """A user that may connect but not create tables (PostgreSQL 15's default for all but the owner)."""
    name = f"newsalert_rights_{secrets.token_hex(4)}"
    admin = create_async_engine(async_url(postgres), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE ROLE {name} LOGIN"))
        await conn.execute(text(f"CREATE DATABASE {name}"))
    in_it = create_async_engine(async_url(make_url(postgres).set(database=name).render_as_string(False)))
    async with in_it.begin() as conn:
        await conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))  # as PostgreSQL 15 does
    await in_it.dispose()
    try:
        url = make_url(postgres).set(username=name, password=None, database=name)
        result = await asyncio.to_thread(
            run_with, tmp_path, "run", "--once", "--config", str(write_config(tmp_path)),
            NEWSALERT_DATABASE_URL=url.render_as_string(hide_password=False),
        )  # fmt: skip
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE {name}"))
            await conn.execute(text(f"DROP ROLE {name}"))
        await admin.dispose()
    assert result.returncode == 3
    where = f"{url.host}:{url.port or 5432}"
    assert lines(result) == [
        f'newsalert: cannot create tables in PostgreSQL at {where}, database "{name}", as user "{name}": '
        "permission denied for schema public",
        f"  Make it the database's owner (ALTER DATABASE {name} OWNER TO {name}), "
        "or grant it CREATE ON SCHEMA public.",
    ]


def test_a_data_directory_that_cannot_be_made_says_where_and_exits_3(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    config = write_config(tmp_path)
    url = f"sqlite:///{locked}/data/newsalert.db"
    result = newsalert_as_plain_user(
        "run", "--once", "--config", str(config), cwd=tmp_path, NEWSALERT_DATABASE_URL=url
    )
    assert result.returncode == 3
    assert lines(result) == [
        f"newsalert: cannot create the data directory {locked}/data: Permission denied",
        f"  Create it, writable by the user that runs newsalert (uid {os.geteuid()}), "
        f"or set {SET_URL} to a writable place.",
    ]
    assert result.stdout == "", "nothing was polled"


def test_a_data_directory_that_is_not_writable_says_so_and_exits_3(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o555)
    config = write_config(tmp_path)
    url = f"sqlite:///{data}/newsalert.db"
    result = newsalert_as_plain_user(
        "run", "--once", "--config", str(config), cwd=tmp_path, NEWSALERT_DATABASE_URL=url
    )
    assert result.returncode == 3
    assert lines(result) == [
        f"newsalert: cannot create the SQLite database {data}/newsalert.db: "
        f"its directory {data} is not writable",
        f"  Give the user that runs newsalert (uid {os.geteuid()}) write access to {data}, "
        f"or set {SET_URL} to a writable place.",
    ]


def test_a_read_only_database_file_says_so_and_exits_3(tmp_path):
    config = str(write_config(tmp_path))
    assert run_with(tmp_path, "db", "upgrade", "--config", config).returncode == 0
    database = tmp_path / "db" / "newsalert.db"
    database.chmod(0o444)
    result = newsalert_as_plain_user("run", "--once", "--config", config, cwd=tmp_path)
    assert result.returncode == 3
    assert lines(result)[-2:] == [
        f"newsalert: cannot write to the SQLite database {database}: this user may not write to it, "
        "or to its directory (its journal)",
        f"  Give the user that runs newsalert (uid {os.geteuid()}) write access to {database} "
        f"and its directory {database.parent}.",
    ]


# --- the configuration file --------------------------------------------------------------------


def test_no_config_file_says_how_to_name_one_and_exits_2(tmp_path):
    result = run_with(tmp_path, "run", "--once")
    assert result.returncode == 2
    assert lines(result) == [
        "newsalert: configuration error: no configuration file at config/newsalert.yaml",
        "  Give its path with --config PATH or NEWSALERT_CONFIG, or run from the directory that holds "
        "config/newsalert.yaml.",
    ]
    named = run_with(tmp_path, "config", "show", NEWSALERT_CONFIG=str(tmp_path / "gone.yaml"))
    assert named.returncode == 2
    assert lines(named)[0] == f"newsalert: configuration error: no configuration file at {tmp_path}/gone.yaml"


def test_an_unreadable_config_file_says_why_and_exits_2(tmp_path):
    config = write_config(tmp_path)
    config.chmod(0o000)
    result = newsalert_as_plain_user("config", "show", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert lines(result) == [
        f"newsalert: configuration error: cannot read {config}: Permission denied",
        f"  Make it readable by the user that runs newsalert (uid {os.geteuid()}).",
    ]


def test_debug_shows_the_traceback_behind_the_message(tmp_path):
    result = run_with(tmp_path, "--debug", "run", "--once", "--config", str(tmp_path / "gone.yaml"))
    assert result.returncode == 2
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert (
        result.stderr.splitlines()[-2]
        == f"newsalert: configuration error: no configuration file at {tmp_path}/gone.yaml"
    )


def test_an_error_we_did_not_expect_is_one_line_and_how_to_see_more():
    lines, code = report(KeyError("feeds"))
    assert code == 1
    assert lines == [
        "newsalert: unexpected error: KeyError: 'feeds'",
        "  Run it again as `newsalert --debug ...` to see where, and please report it.",
    ]


# --- tokens ------------------------------------------------------------------------------------


NOT_A_TOKEN = [
    (
        "TELEGRAM_BOT_TOKEN",
        "bot123456:AAF-secret-part",
        "the token starts with 'bot'; give it without, as @BotFather",
    ),
    (
        "TELEGRAM_BOT_TOKEN",
        "AAF-secret-part",
        "not a bot token (digits, a colon, then letters, like 123456789:AAE3x",
    ),
    (
        "TELEGRAM_BOT_TOKEN",
        "123456:AAF-secret-part\n",
        "spaces or quotes around the token; give the token alone",
    ),
    (
        "SLACK_BOT_TOKEN",
        "xapp-1-AAF-secret-part",
        "an app-level token (xapp-...): it goes in slack.app_token",
    ),
]


@pytest.mark.parametrize(("variable", "token", "problem"), NOT_A_TOKEN)
def test_a_token_that_cannot_be_one_is_named_by_its_variable_and_not_shown(
    tmp_path, variable, token, problem
):
    config = str(write_config(tmp_path))
    result = run_with(
        tmp_path, "run", "--once", "--config", config, **{variable: token, "SLACK_SIGNING_SECRET": "s"}
    )
    assert result.returncode == 2
    [line] = lines(result)
    assert line.startswith(f"newsalert: configuration error: {variable}: {problem}")
    assert "secret-part" not in result.stderr


async def test_a_token_telegram_refuses_stops_start_up_with_what_to_do(tmp_path):
    telegram = await FakeTelegram(token="654321:the-right-one").start()
    try:
        result = await asyncio.to_thread(
            run_with, tmp_path, "run", "--once", "--config", str(write_config(tmp_path)),
            TELEGRAM_BOT_TOKEN=TOKEN, NEWSALERT_TELEGRAM_API_URL=telegram.api_url,
        )  # fmt: skip
    finally:
        await telegram.stop()
    assert result.returncode == 2
    assert lines(result)[-2:] == [
        "newsalert: configuration error: telegram.token: Telegram refused this token (401 Unauthorized)",
        "  Copy it again from @BotFather (/mybots, then API Token); a revoked token no longer works.",
    ]
    assert TOKEN not in result.stderr and result.stdout == ""


async def test_a_token_slack_refuses_stops_start_up_with_what_to_do(tmp_path):
    slack = await FakeSlack().start()
    try:
        result = await asyncio.to_thread(
            run_with, tmp_path, "run", "--once", "--config", str(write_config(tmp_path)),
            SLACK_BOT_TOKEN="xoxb-revoked-secret", SLACK_SIGNING_SECRET=SIGNING_SECRET,
            NEWSALERT_SLACK_API_URL=slack.api_url,
        )  # fmt: skip
    finally:
        await slack.stop()
    assert result.returncode == 2
    assert lines(result)[-2:] == [
        "newsalert: configuration error: slack.bot_token: Slack refused this token (invalid_auth)",
        "  Copy the Bot User OAuth Token (xoxb-...) again from your app's OAuth & Permissions page; "
        "reinstall the app to the workspace if it was removed.",
    ]
    assert "revoked-secret" not in result.stderr


def test_telegram_unreachable_does_not_stop_the_rest(tmp_path):
    """run --once with Telegram down: the feeds are polled, the console alerts, Telegram's alerts
    wait in the outbox for the next run, and a warning says so; not a failure."""
    port = free_port()
    config = write_config(
        tmp_path, "  - channel: telegram\n    address: '1001'\n    rules: [Membership Action Plan]\n"
    )
    result = run_with(
        tmp_path, "run", "--once", "--config", str(config),
        TELEGRAM_BOT_TOKEN=TOKEN, NEWSALERT_TELEGRAM_API_URL=f"http://127.0.0.1:{port}/bot",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"== {SEED_TITLE}" in result.stdout
    unreachable, still = [line for line in lines(result) if "WARNING" in line]
    assert f"telegram: cannot reach Telegram at 127.0.0.1:{port} (" in unreachable
    assert "its alerts wait in the outbox" in unreachable
    assert still.endswith("telegram could not be reached: its alerts wait in the outbox for the next run")
    assert TOKEN not in result.stderr
