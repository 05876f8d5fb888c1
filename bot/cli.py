"""The `newsalert` command line (also `python -m bot`): run, check, rules, config, opml, db.

It answers at once: `import bot.cli` loads Typer and little more, and each command imports what it
uses when it runs (the bot, the database, the chat libraries are big). Errors end in main(): one or two
lines, what failed and why, then what to do, and the error's exit code (bot/errors.py); a traceback
only with --debug or log level DEBUG.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperArgument, TyperCommand

from bot import __version__
from bot.errors import ConfigError, NewsalertError

if TYPE_CHECKING:
    from bot.commands import Backtest
    from bot.config import Settings
    from bot.store import Store

T = TypeVar("T")


def _group(help_text: str, **options: Any) -> typer.Typer:
    """A command group with plain help: Rich markup would swallow "[env: ...]" and costs 0.1 s."""
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        **options,
    )


class _Argument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> None:
        return None  # its name (RULE, FILE) says what it is: no "<str>" beside it


class _Command(TyperCommand):
    """A command whose arguments show in the help without a type label, as options with a metavar."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument):
                param.__class__ = _Argument


cli = _group("Self-hosted news alerts: watch feeds, match your rules, alert Telegram and Slack.")
db_cli = _group("Database maintenance.")
cli.add_typer(db_cli, name="db")
rules_cli = _group("Watch rules.")
cli.add_typer(rules_cli, name="rules")
config_cli = _group("Settings.")
cli.add_typer(config_cli, name="config")
opml_cli = _group("Feeds in and out as OPML.")
cli.add_typer(opml_cli, name="opml")
LONG_IMPORT = 20  # feeds: from this many, a progress bar
DAYS_LISTED = 14  # a longer backtest is summed per week, and past 13 weeks per month

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="NEWSALERT_CONFIG",
        metavar="PATH",
        readable=False,  # not Typer's check: we say why it cannot be read, and what to do
        help="YAML settings file.",
    ),
]


class _Run:
    """What this run of the command line knows about itself, for reporting an error."""

    debug = False  # --debug or log level DEBUG: tracebacks shown
    secrets: list[str] = []  # once the settings are read, the longest first: blanked out of any error


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"newsalert {__version__}")
        raise typer.Exit()


@cli.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_version, help="Print the version and exit."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Log at level DEBUG, and show the traceback of an error.")
    ] = False,
) -> None:
    _Run.debug = debug  # what the group's help says is in _group's help_text


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"newsalert: {message}", err=True)
    return typer.Exit(code)


def _settings(option: Path | None, *, required: bool = True) -> Settings:
    """The settings (ConfigError, for main, when they cannot be used), and logging set up by them."""
    from bot.config import config_path, load_settings

    path = config_path(str(option) if option else None, os.environ)
    if not required and not option and not path.exists():
        path = None  # `check --feed --rule` works without any config file
    settings = load_settings(path, os.environ)
    _Run.secrets = sorted(settings.secret_values(), key=len, reverse=True)
    _Run.debug = _Run.debug or settings.log_level == "DEBUG"
    _log_to_stderr(settings, "DEBUG" if _Run.debug else settings.log_level)
    return settings


def _log_to_stderr(settings: Settings, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(_Run.secrets, as_json=settings.log.format == "json"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # Their INFO lines say nothing an operator needs (httpx's name every Telegram call, token and all;
    # aiosqlite's DEBUG lines every statement's values, WebSub secrets and all).
    for chatty in ("alembic", "apscheduler", "httpx", "httpcore", "aiosqlite"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level)))


class RedactingFormatter(logging.Formatter):
    """One line per event, plain or JSON (timestamp, level, logger, event, exception), with every
    secret blanked out, whichever library wrote it (tracebacks too)."""

    def __init__(self, secrets: list[str], *, as_json: bool = False):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = sorted(secrets, key=len, reverse=True)
        self.json = as_json and _json_formatter()

    def format(self, record: logging.LogRecord) -> str:
        line = self.json.format(record) if self.json else super().format(record)
        return _blanked(line, self.secrets)


def _json_formatter() -> logging.Formatter:
    import structlog  # only for JSON logs: it takes 0.2 s to load

    return structlog.stdlib.ProcessorFormatter(
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        foreign_pre_chain=[
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
        ],
    )


def _blanked(text: str, secrets: Sequence[str]) -> str:
    """Every secret (longest first: one may hold another) as **********."""
    for secret in secrets:
        text = text.replace(secret, "**********")
    return text


def _run_async(work: Coroutine[Any, Any, T]) -> T:
    import asyncio

    return asyncio.run(work)


async def _with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """work on the database brought up to date; a database that cannot be used is a StoreError
    saying why, and what to do."""
    from bot.store import Store
    from bot.store.problems import translated

    with translated(settings.database_url):
        store = Store.open(settings.database_url)
        try:
            await store.upgrade()
            return await work(store)
        finally:
            await store.close()


@cli.command()
def run(
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="Poll every feed once, deliver, exit.")] = False,
) -> None:
    """Run the bot: poll feeds, match rules, deliver alerts, serve /healthz."""
    settings = _settings(config)
    _run_async(_run(settings, once))


async def _run(settings: Settings, once: bool) -> None:
    import asyncio
    import signal

    from bot.app import App

    app = App(settings)
    try:
        await app.start()
        if once:
            await app.run_once()
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await app.serve(stop)
    finally:
        await app.close()


@cli.command("check")
def check_command(
    config: ConfigOption = None,
    feed: Annotated[
        list[str] | None, typer.Option("--feed", metavar="URL_OR_FILE", help="Feed URL or file (repeatable).")
    ] = None,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", metavar="RULE", help="Watch rule (repeatable).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object a line per alert, for scripts.")
    ] = False,
) -> None:
    """Dry run: show the alerts these feeds and rules would give now. Stores and sends nothing."""
    import json
    from datetime import UTC, datetime

    from bot.channels.console import ConsoleChannel, render_console
    from bot.check import check, feeds_to_check
    from bot.errors import FetchError

    settings = _settings(config, required=not (feed and rule))
    feeds = feeds_to_check(settings, feed or [], Path.cwd())
    rules = list(rule) if rule else [q for s in settings.subscriptions for q in s.rules]
    if not feeds or not rules:
        raise _fail("nothing to check: give --feed and --rule, or a config with feeds and subscriptions")
    _usable(rules, settings.rules_language)
    try:
        report = _run_async(check(settings, feeds, rules))
    except FetchError as error:
        raise _fail(f"cannot fetch the feed: {error}", 1) from None
    now, console = datetime.now(UTC), ConsoleChannel()
    for checked in report.alerts:
        if as_json:
            typer.echo(json.dumps(checked.record(), ensure_ascii=False))
        else:
            console.console.print(render_console(checked.alert(now)))
    typer.echo(  # after JSON lines, on stderr: stdout stays one object a line
        f"checked {report.items} items from {report.feeds} feed(s) against {len(rules)} rule(s): "
        f"{len(report.alerts)} alert(s) would be sent; nothing was stored or sent",
        err=as_json,
    )


@cli.command(cls=_Command)
def init(
    config: Annotated[Path, typer.Option("--config", "-c", metavar="PATH", help="File to write.")] = Path(
        "newsalert.yaml"
    ),
    telegram_token: Annotated[
        str, typer.Option(metavar="TOKEN", help="The bot's token from @BotFather.")
    ] = "",
    telegram_chat: Annotated[
        str, typer.Option(metavar="CHAT_ID", help="A Telegram chat id to alert (your user id).")
    ] = "",
    slack_bot_token: Annotated[str, typer.Option(metavar="TOKEN", help="Slack's bot token, xoxb-...")] = "",
    slack_app_token: Annotated[
        str, typer.Option(metavar="TOKEN", help="Slack's app token, xapp-... (Socket Mode).")
    ] = "",
    slack_signing_secret: Annotated[
        str, typer.Option(metavar="SECRET", help="Slack's signing secret (HTTP mode).")
    ] = "",
    slack_channel: Annotated[
        str, typer.Option(metavar="CHANNEL_ID", help="A Slack channel id to alert.")
    ] = "",
    feed: Annotated[
        list[str] | None,
        typer.Option(metavar="FEED", help="Feed URL, feed file or OPML file (repeatable)."),
    ] = None,
    rule: Annotated[list[str] | None, typer.Option(metavar="RULE", help="Watch rule (repeatable).")] = None,
    no_input: Annotated[bool, typer.Option("--no-input", help="Ask nothing: the flags only.")] = False,
) -> None:
    """Write a config file for real use: a chat app's token, feeds and rules. Never overwrites a file.
    Asks for each unless a flag gives any of them (or --no-input)."""
    from functools import partial

    from bot import init as setup

    answers = setup.Answers(
        telegram_token, telegram_chat, slack_bot_token, slack_app_token, slack_signing_secret,
        slack_channel, rules=tuple(rule or ()),
    )  # fmt: skip
    flags = any((telegram_token, slack_bot_token, feed, rule, telegram_chat, slack_channel))
    prompt = None if no_input or flags else typer.prompt
    complain = partial(typer.echo, err=True)
    raise typer.Exit(setup.main(config, answers, feed or [], prompt, typer.echo, complain))


def _usable(rules: Sequence[str], language: str) -> None:
    """Each rule read as the bot reads it; the first that cannot be used is refused, showing where."""
    from bot.errors import QueryError
    from bot.rules.query import parse_rule

    for query in rules:
        try:
            parse_rule(query, language)
        except QueryError as error:
            raise _fail(f"cannot use that rule: {error.pointed(query)}") from None


@rules_cli.command("test", cls=_Command)
def rules_test(
    rule: Annotated[
        str,
        typer.Argument(metavar="RULE", help="The rule, e.g. 'title:\"Membership Action Plan\" -feed:Sport'"),
    ],
    config: ConfigOption = None,
    days: Annotated[
        int, typer.Option("--days", min=1, max=365, metavar="DAYS", help="How far back to look.")
    ] = 7,
) -> None:
    """Backtest a rule on the stories stored in the last days: hits per day and examples."""
    from datetime import UTC, datetime

    from bot import commands

    settings = _settings(config)
    _usable([rule], settings.rules_language)

    async def backtest(store: Store) -> Backtest:
        now = datetime.now(UTC)
        return await commands.test_rule(store, rule, now=now, days=days, language=settings.rules_language)

    result = _run_async(_with_store(settings, backtest))
    typer.echo(commands.describe_backtest(result) if days <= DAYS_LISTED else describe_long_backtest(result))


def per_period(days: Sequence[tuple[date, int]]) -> list[tuple[str, int]]:
    """Hits per day summed per week (from Monday), or per month when there are more than 13 weeks."""
    monthly = len(days) > 13 * 7
    sums: dict[str, int] = {}
    for day, count in days:
        label = f"{day:%b %Y}" if monthly else f"week of {day - timedelta(days=day.weekday()):%a %d %b}"
        sums[label] = sums.get(label, 0) + count
    return list(sums.items())


def describe_long_backtest(result: Backtest) -> str:
    """A backtest over many days as describe_backtest writes one (bot/commands.py), in a screenful:
    hits per week or month instead of per day."""
    periods = per_period(result.days)
    lines = result.heading()
    lines += [f"  {label:<18} {count:>5}  {'#' * min(count, 40)}".rstrip() for label, count in periods]
    if result.samples:
        lines.append("For example:")
        lines += [f"  - {title} ({feed})" for title, feed in result.samples]
    return "\n".join(lines)


@config_cli.command("show")
def config_show(config: ConfigOption = None) -> None:
    """Print the effective settings (file, then environment) as YAML, every secret blanked out."""
    import yaml

    settings = _settings(config)
    typer.echo(yaml.safe_dump(settings.redacted(), sort_keys=False, allow_unicode=True), nl=False)


@opml_cli.command("import", cls=_Command)
def opml_import(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", readable=False, help="An OPML file, from miniflux or any feed reader."
        ),
    ],
    config: ConfigOption = None,
) -> None:
    """Watch the feeds an OPML file lists; trusted, as the config file's feeds are (yours, not a chat's)."""
    from datetime import UTC, datetime

    from bot.admin import ImportReport, describe_import, import_feeds
    from bot.errors import OpmlError
    from bot.feeds.schedule import Bounds, chat_interval
    from bot.opml import parse_opml

    settings = _settings(config)
    try:
        feeds = parse_opml(file.read_bytes())
    except OSError as error:
        raise _fail(f"cannot read {file}: {error.strerror}") from None
    except OpmlError as error:
        raise _fail(f"cannot import {file}: {error}") from None
    interval = chat_interval(
        settings.poll_interval, Bounds(settings.polling.min_interval, settings.polling.max_interval)
    )

    def load(progress: Callable[[], None]) -> ImportReport:
        async def work(store: Store) -> ImportReport:
            now = datetime.now(UTC)
            return await import_feeds(
                store, feeds, interval=interval, now=now, trusted=True, progress=progress
            )

        return _run_async(_with_store(settings, work))

    if len(feeds) >= LONG_IMPORT:
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(f"importing {file.name}", total=len(feeds))
            report = load(lambda: bar.advance(task))
    else:
        report = load(lambda: None)
    typer.echo(describe_import(report))


@opml_cli.command("export", cls=_Command)
def opml_export(
    file: Annotated[
        Path | None, typer.Argument(metavar="FILE", help="Where to write it; standard output if none.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write every feed being polled as OPML."""
    from datetime import UTC, datetime

    from bot.admin import export_feeds

    settings = _settings(config)

    async def dump(store: Store) -> tuple[int, bytes]:
        return await export_feeds(store, datetime.now(UTC))

    count, document = _run_async(_with_store(settings, dump))
    if file is None:
        sys.stdout.buffer.write(document)
        return
    file.write_bytes(document)
    typer.echo(f"wrote {count} feed(s) to {file}", err=True)


@db_cli.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Bring the database schema up to date (`run` does this on start too)."""
    settings = _settings(config)

    async def nothing(_store: Store) -> None:
        return None

    _run_async(_with_store(settings, nothing))
    typer.echo("database is up to date")


@db_cli.command("copy")
def db_copy(
    source: Annotated[
        str, typer.Option("--from", metavar="URL", help="Database to copy, e.g. sqlite:///data/newsalert.db")
    ],
    target: Annotated[
        str, typer.Option("--to", metavar="URL", help="Empty database to fill, e.g. postgresql://...")
    ],
) -> None:
    """Copy every row into a new database (moving from SQLite to PostgreSQL); stop the bot first."""
    import contextlib

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from bot.store import Store
    from bot.store.copy import copy_database

    async def copy() -> dict[str, int]:
        stores = Store.open(source, existing=True), Store.open(target)
        try:
            return await copy_database(*stores)
        finally:
            for store in stores:
                await store.close()

    try:
        counts = _run_async(copy())
    except (NewsalertError, SQLAlchemyError, OSError) as error:
        message = str(error)
        for url in (source, target):  # a database password never goes to the terminal
            with contextlib.suppress(ArgumentError):
                password = make_url(url).password
                message = message.replace(password, "**********") if password else message
        raise _fail(f"copy failed, nothing was committed to the target: {message}") from None
    for table, count in counts.items():
        typer.echo(f"{table}: {count} rows")
    typer.echo("copied; now set database_url to the new database (the old one is unchanged)")


@db_cli.command("backup", cls=_Command)
def db_backup(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="PATH", help="A new file, or a directory (a file named by the time is made in it)."
        ),
    ],
    config: ConfigOption = None,
) -> None:
    """Back up the database while the bot runs. A consistent copy of the SQLite database (SQLite's
    online backup) to PATH. On PostgreSQL, prints the pg_dump command to run instead."""
    from datetime import UTC, datetime

    from bot.store.backup import back_up, pg_dump_command, sqlite_file

    settings = _settings(config)
    now = datetime.now(UTC)
    database = sqlite_file(settings.database_url)
    if database is None:
        dump = path / f"newsalert-{now:%Y%m%d-%H%M%S}.dump" if path.is_dir() else path
        raise _on_postgres(
            settings.database_url,
            "back it up with pg_dump, while the bot runs:",
            [pg_dump_command(settings.database_url, str(dump))],
        )
    made = back_up(database, path, now)
    typer.echo(f"backed up {database} to {made.path} ({made.size / 1e6:.1f} MB, schema {made.schema})")


@db_cli.command("restore", cls=_Command)
def db_restore(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="A file `newsalert db backup` wrote.")],
    config: ConfigOption = None,
) -> None:
    """Replace the database with a backup. Stop the bot first: a database in use is refused. The
    SQLite database it replaces is kept beside it. On PostgreSQL, prints the pg_restore steps."""
    from datetime import UTC, datetime

    from bot.store.backup import known_schemas, pg_restore_commands, restore, sqlite_file

    settings = _settings(config)
    database = sqlite_file(settings.database_url)
    if database is None:
        from sqlalchemy.engine import make_url

        name = f"{make_url(settings.database_url).database}_restored"
        raise _on_postgres(
            settings.database_url,
            f"restore a pg_dump backup into a new, empty database, then set database_url to {name}:",
            pg_restore_commands(settings.database_url, str(path), name),
        )
    done = restore(path, database, datetime.now(UTC), known_schemas())
    typer.echo(f"restored {database} from {path} (schema {done.schema}); `newsalert run` can start on it")
    if done.kept:
        typer.echo(f"the database it replaced is kept as {done.kept}")


def _on_postgres(database_url: str, what: str, commands: list[str]) -> typer.Exit:
    """This command works on SQLite: on PostgreSQL, what to do instead, and exit code 2."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    where = f"{url.database} at {url.host or 'localhost'}:{url.port or 5432}"
    typer.echo(
        f"newsalert: this command works on SQLite; the database is PostgreSQL ({where}): {what}", err=True
    )
    for command in commands:
        typer.echo(f"  {command}", err=True)
    typer.echo(
        "  A password is never shown here: they ask for it, or read ~/.pgpass or PGPASSWORD.", err=True
    )
    return typer.Exit(2)


def report(error: BaseException) -> tuple[list[str], int]:
    """What the terminal shows for an error that ended a command, and the exit code: what failed and
    why, then what to do; for one we did not expect, how to see its traceback."""
    if isinstance(error, NewsalertError):
        prefix = "configuration error: " if isinstance(error, ConfigError) else ""
        lines = [f"newsalert: {prefix}{error}"] + ([f"  {error.hint}"] if error.hint else [])
        return lines, error.exit_code
    return [
        f"newsalert: unexpected error: {type(error).__name__}: {error}",
        "  Run it again as `newsalert --debug ...` to see where, and please report it.",
    ], 1


def main() -> None:
    """The console script: the command, and its error, if any, as report() says."""
    try:
        cli()
    except Exception as error:  # typer ends usage errors and typer.Exit itself, with their codes
        if _Run.debug or os.environ.get("NEWSALERT_LOG_LEVEL", "").upper() == "DEBUG":  # settings unread
            import traceback

            traceback.print_exception(error, file=sys.stderr)
        lines, code = report(error)
        for line in lines:
            typer.echo(_blanked(line, _Run.secrets), err=True)
        sys.exit(code)
