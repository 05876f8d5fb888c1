"""The `newsalert` command line (also `python -m bot`): run, check, rules, config, opml, db."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated

import structlog
import typer
import yaml
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bot import commands
from bot.admin import ImportReport, describe_import, export_feeds, import_feeds
from bot.app import App
from bot.channels.console import ConsoleChannel, render_console
from bot.check import check, feeds_to_check
from bot.config import Settings, config_path, load_settings
from bot.errors import ConfigError, FetchError, NewsalertError, OpmlError, QueryError, StoreError
from bot.feeds.schedule import Bounds, chat_interval
from bot.opml import parse_opml
from bot.store import Store
from bot.store.copy import copy_database

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="Self-hosted news alerts.")
db_cli = typer.Typer(no_args_is_help=True, help="Database maintenance.")
cli.add_typer(db_cli, name="db")
rules_cli = typer.Typer(no_args_is_help=True, help="Watch rules.")
cli.add_typer(rules_cli, name="rules")
config_cli = typer.Typer(no_args_is_help=True, help="Settings.")
cli.add_typer(config_cli, name="config")
opml_cli = typer.Typer(no_args_is_help=True, help="Feeds in and out as OPML.")
cli.add_typer(opml_cli, name="opml")
LONG_IMPORT = 20  # feeds: from this many, a progress bar

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML settings file [env: NEWSALERT_CONFIG]")
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"newsalert: {message}", err=True)
    return typer.Exit(code)


def _settings(option: Path | None, *, required: bool = True) -> Settings:
    path = config_path(str(option) if option else None, os.environ)
    if not required and not option and not path.exists():
        path = None  # `check --feed --rule` works without any config file
    try:
        settings = load_settings(path, os.environ)
    except ConfigError as error:
        raise _fail(f"configuration error: {error}") from None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(settings.secret_values(), as_json=settings.log.format == "json"))
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    # Their INFO lines say nothing an operator needs (httpx's name every Telegram call, token and all).
    for chatty in ("alembic", "apscheduler", "httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    return settings


class RedactingFormatter(logging.Formatter):
    """One line per event, plain or JSON (timestamp, level, logger, event, exception), with every
    secret blanked out, whichever library wrote it (tracebacks too)."""

    def __init__(self, secrets: list[str], *, as_json: bool = False):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = sorted(secrets, key=len, reverse=True)
        self.json = as_json and structlog.stdlib.ProcessorFormatter(
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

    def format(self, record: logging.LogRecord) -> str:
        line = self.json.format(record) if self.json else super().format(record)
        for secret in self.secrets:
            line = line.replace(secret, "**********")
        return line


@cli.command()
def run(
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="Poll every feed once, deliver, exit.")] = False,
) -> None:
    """Run the bot: poll feeds, match rules, deliver alerts, serve /healthz."""
    settings = _settings(config)
    try:
        asyncio.run(_run(settings, once))
    except (ConfigError, StoreError) as error:
        raise _fail(str(error)) from None


async def _run(settings: Settings, once: bool) -> None:
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
    feed: Annotated[list[str] | None, typer.Option("--feed", help="Feed URL or file (repeatable).")] = None,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="Watch rule (repeatable).")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object a line per alert, for scripts.")
    ] = False,
) -> None:
    """Dry run: show the alerts these feeds and rules would give now. Stores and sends nothing."""
    settings = _settings(config, required=not (feed and rule))
    feeds = feeds_to_check(settings, feed or [], Path.cwd())
    rules = list(rule) if rule else [q for s in settings.subscriptions for q in s.rules]
    if not feeds or not rules:
        raise _fail("nothing to check: give --feed and --rule, or a config with feeds and subscriptions")
    try:
        report = asyncio.run(check(settings, feeds, rules))
    except QueryError as error:
        raise _fail(f"cannot use that rule: {error}") from None
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


@cli.command()
def init(
    config: Annotated[Path, typer.Option("--config", "-c", help="File to write.")] = Path("newsalert.yaml"),
    telegram_token: Annotated[str, typer.Option(help="The bot's token from @BotFather.")] = "",
    telegram_chat: Annotated[str, typer.Option(help="A Telegram chat id to alert (your user id).")] = "",
    slack_bot_token: Annotated[str, typer.Option(help="Slack's bot token, xoxb-...")] = "",
    slack_app_token: Annotated[str, typer.Option(help="Slack's app token, xapp-... (Socket Mode).")] = "",
    slack_signing_secret: Annotated[str, typer.Option(help="Slack's signing secret (HTTP mode).")] = "",
    slack_channel: Annotated[str, typer.Option(help="A Slack channel id to alert.")] = "",
    feed: Annotated[
        list[str] | None, typer.Option(help="Feed URL, feed file or OPML file (repeatable).")
    ] = None,
    rule: Annotated[list[str] | None, typer.Option(help="Watch rule (repeatable).")] = None,
    no_input: Annotated[bool, typer.Option("--no-input", help="Ask nothing: the flags only.")] = False,
) -> None:
    """Write a config file for real use: a chat app's token, feeds and rules. Never overwrites a file.
    Asks for each unless a flag gives any of them (or --no-input)."""
    from bot import init as setup

    answers = setup.Answers(
        telegram_token, telegram_chat, slack_bot_token, slack_app_token, slack_signing_secret,
        slack_channel, rules=tuple(rule or ()),
    )  # fmt: skip
    flags = any((telegram_token, slack_bot_token, feed, rule, telegram_chat, slack_channel))
    prompt = None if no_input or flags else typer.prompt
    complain = partial(typer.echo, err=True)
    raise typer.Exit(setup.main(config, answers, feed or [], prompt, typer.echo, complain))


@rules_cli.command("test")
def rules_test(
    query: Annotated[
        str, typer.Argument(help="The rule, e.g. 'title:\"Membership Action Plan\" -feed:Sport'")
    ],
    config: ConfigOption = None,
    days: Annotated[int, typer.Option("--days", min=1, max=365, help="How far back to look.")] = 7,
) -> None:
    """Backtest a rule on the stories stored in the last days: hits per day and examples."""
    settings = _settings(config)

    async def backtest() -> str:
        store = Store.open(settings.database_url)
        try:
            await store.upgrade()
            result = await commands.test_rule(
                store, query, now=datetime.now(UTC), days=days, language=settings.rules_language
            )
            return commands.describe_backtest(result)
        finally:
            await store.close()

    try:
        typer.echo(asyncio.run(backtest()))
    except QueryError as error:
        raise _fail(f"cannot use that rule: {error}") from None
    except NewsalertError as error:
        raise _fail(str(error)) from None


@config_cli.command("show")
def config_show(config: ConfigOption = None) -> None:
    """Print the effective settings (file, then environment) as YAML, every secret blanked out."""
    settings = _settings(config)
    typer.echo(yaml.safe_dump(settings.redacted(), sort_keys=False, allow_unicode=True), nl=False)


@opml_cli.command("import")
def opml_import(
    file: Annotated[Path, typer.Argument(help="An OPML file, from miniflux or any feed reader.")],
    config: ConfigOption = None,
) -> None:
    """Watch the feeds an OPML file lists; trusted, as the config file's feeds are (yours, not a chat's)."""
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

    async def load(progress: Callable[[], None]) -> ImportReport:
        store = Store.open(settings.database_url)
        try:
            await store.upgrade()
            now = datetime.now(UTC)
            return await import_feeds(
                store, feeds, interval=interval, now=now, trusted=True, progress=progress
            )
        finally:
            await store.close()

    try:
        if len(feeds) >= LONG_IMPORT:
            with Progress(console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task(f"importing {file.name}", total=len(feeds))
                report = asyncio.run(load(lambda: bar.advance(task)))
        else:
            report = asyncio.run(load(lambda: None))
    except NewsalertError as error:
        raise _fail(str(error)) from None
    typer.echo(describe_import(report))


@opml_cli.command("export")
def opml_export(
    file: Annotated[Path | None, typer.Argument(help="Where to write it; standard output if none.")] = None,
    config: ConfigOption = None,
) -> None:
    """Write every feed being polled as OPML."""
    settings = _settings(config)

    async def dump() -> tuple[int, bytes]:
        store = Store.open(settings.database_url)
        try:
            await store.upgrade()
            return await export_feeds(store, datetime.now(UTC))
        finally:
            await store.close()

    try:
        count, document = asyncio.run(dump())
    except NewsalertError as error:
        raise _fail(str(error)) from None
    if file is None:
        sys.stdout.buffer.write(document)
        return
    file.write_bytes(document)
    typer.echo(f"wrote {count} feed(s) to {file}", err=True)


@db_cli.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Bring the database schema up to date (`run` does this on start too)."""
    settings = _settings(config)

    async def upgrade() -> None:
        store = Store.open(settings.database_url)
        try:
            await store.upgrade()
        finally:
            await store.close()

    try:
        asyncio.run(upgrade())
    except NewsalertError as error:
        raise _fail(str(error)) from None
    typer.echo("database is up to date")


@db_cli.command("copy")
def db_copy(
    source: Annotated[str, typer.Option("--from", help="Database to copy, e.g. sqlite:///data/newsalert.db")],
    target: Annotated[str, typer.Option("--to", help="Empty database to fill, e.g. postgresql://...")],
) -> None:
    """Copy every row into a new database (moving from SQLite to PostgreSQL); stop the bot first."""

    async def copy() -> dict[str, int]:
        stores = Store.open(source, existing=True), Store.open(target)
        try:
            return await copy_database(*stores)
        finally:
            for store in stores:
                await store.close()

    try:
        counts = asyncio.run(copy())
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


def main() -> None:
    cli()
