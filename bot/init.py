"""`newsalert init`: a config file for real use, from a few answers: a chat app's token, feeds, rules.

`config_text` is pure: answers in, YAML text out, checked with the same model `run` loads. `read_feeds`
turns what was typed into feeds (an OPML file into its feeds); `ask` is the thin prompting, for what the
flags did not give. Nothing here fetches a feed: `newsalert check` does that once the file is written.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from bot.config import Settings
from bot.errors import OpmlError, QueryError
from bot.opml import parse_opml
from bot.rules.query import parse_rule

TELEGRAM_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Answers:
    telegram_token: str = ""
    telegram_chat: str = ""  # a chat id that gets the rules' alerts in Telegram (a user's id: their DM)
    slack_bot_token: str = ""
    slack_app_token: str = ""  # set: Socket Mode; else HTTP mode, with the signing secret
    slack_signing_secret: str = ""
    slack_channel: str = ""  # a channel id that gets the rules' alerts in Slack
    feeds: tuple[tuple[str, str], ...] = ()  # (URL, name: "" for the feed's own title)
    rules: tuple[str, ...] = ()


def problems(answers: Answers) -> list[str]:
    """What is wrong with the answers, one sentence each; none: config_text can write them."""
    found = []
    if answers.telegram_token and not TELEGRAM_TOKEN.fullmatch(answers.telegram_token):
        found.append("the Telegram token is not one from @BotFather (digits, a colon, then letters)")
    if answers.telegram_chat and not re.fullmatch(r"-?[0-9]+", answers.telegram_chat):
        found.append("the Telegram chat is a number (your user id: ask @userinfobot)")
    if answers.telegram_chat and not answers.telegram_token:
        found.append("a Telegram chat needs the Telegram token")
    if answers.slack_bot_token and not answers.slack_bot_token.startswith("xoxb-"):
        found.append("the Slack bot token starts with xoxb-")
    if answers.slack_app_token and not answers.slack_app_token.startswith("xapp-"):
        found.append("the Slack app token starts with xapp-")
    if answers.slack_bot_token and not (answers.slack_app_token or answers.slack_signing_secret):
        found.append("Slack needs an app token (Socket Mode) or its signing secret (HTTP mode)")
    if answers.slack_channel and not answers.slack_bot_token:
        found.append("a Slack channel needs the Slack bot token")
    for rule in answers.rules:
        if why := rule_problem(rule):
            found.append(why)
    return found


def rule_problem(rule: str) -> str | None:
    """Why `run` would refuse this rule (in the default language, which init leaves as it is)."""
    try:
        parse_rule(rule)
    except QueryError as error:
        return f"cannot use the rule {rule!r}: {error}"
    return None


def _q(value: str) -> str:
    """A YAML scalar that reads back as exactly this text (a JSON string is one)."""
    return json.dumps(value, ensure_ascii=False)


def config_text(answers: Answers) -> str:
    """The config file for these answers, commented for whoever edits it next. ValueError when the
    answers have problems; the text always loads as the Settings `run` uses."""
    if found := problems(answers):
        raise ValueError("; ".join(found))
    lines = [
        "# newsalert configuration, written by `newsalert init`. Every key, and its environment",
        "# variable, is in docs/configuration.md. This file holds secrets: keep it private.",
        "",
        "# The database, relative to the directory newsalert runs in (PostgreSQL: postgresql://...).",
        "database_url: sqlite:///data/newsalert.db",
        "poll_interval: 5m",
        "",
        *_telegram(answers),
        *_slack(answers),
        "# Feeds listed here are trusted (they may be files or on your own network); each may set a",
        "# name, its own interval, and backfill: how many of its newest items may alert on its first poll.",
        "# Feeds added from a chat (/addfeed) are kept in the database instead.",
        "feeds:" + ("" if answers.feeds else " []"),
    ]
    for url, name in answers.feeds:
        lines.append(f"  - url: {_q(url)}")
        lines += [f"    name: {_q(name)}"] if name else []
    lines += ["", *_subscriptions(answers)]
    text = "\n".join(lines) + "\n"
    Settings.model_validate(yaml.safe_load(text))  # what run will read; raises if this code is wrong
    return text


def _telegram(answers: Answers) -> list[str]:
    if not answers.telegram_token:
        return ["# telegram:", "#   token: 123456:ABC...   # from @BotFather, or TELEGRAM_BOT_TOKEN", ""]
    return [
        "telegram:",
        f"  token: {_q(answers.telegram_token)}",
        "  # Who may add feeds from a chat. With none, the bot logs a one-time code at start:",
        "  # send it /claim CODE in a private chat to become its admin.",
        "  # admins: [123456789]",
        "",
    ]


def _slack(answers: Answers) -> list[str]:
    if not answers.slack_bot_token:
        return []
    lines = ["slack:", f"  bot_token: {_q(answers.slack_bot_token)}"]
    if answers.slack_app_token:
        lines.append(f"  app_token: {_q(answers.slack_app_token)}   # Socket Mode")
    else:
        lines.append(f"  signing_secret: {_q(answers.slack_signing_secret)}   # HTTP mode, on http.port")
    return [*lines, "  # admins: [U123ABC]   # or /newsalert claim CODE with the code logged at start", ""]


def _subscriptions(answers: Answers) -> list[str]:
    """The rules alert on the console (standard output, `docker logs`) and in the chats given."""
    if not answers.rules:
        return ["# Chats subscribe themselves: /start, then /watch RULE.", "subscriptions: []"]
    rules = "[" + ", ".join(_q(rule) for rule in answers.rules) + "]"
    targets = [("console", "stdout")]
    targets += [("telegram", answers.telegram_chat)] if answers.telegram_chat else []
    targets += [("slack", answers.slack_channel)] if answers.slack_channel else []
    lines = [
        "# Who is told about what; chats also subscribe themselves: /start, then /watch RULE.",
        "subscriptions:",
    ]
    for channel, address in targets:
        lines += [f"  - channel: {channel}", f"    address: {_q(address)}", f"    rules: {rules}"]
    return lines


def read_feeds(entry: str, base: Path) -> list[tuple[str, str]]:
    """What was typed as a feed: an http(s) address as it is; a file, relative to `base`: an OPML file's
    feeds, or else the file itself as a feed. ValueError says why it is neither."""
    entry = entry.strip()
    if re.match(r"^https?://", entry, re.IGNORECASE):
        return [(entry, "")]
    path = (base / entry).resolve()
    if "://" in entry or not path.is_file():
        raise ValueError(f"{entry!r} is neither an http(s) address nor a file")
    try:
        return parse_opml(path.read_bytes())
    except OpmlError:
        return [(path.as_uri(), "")]
    except OSError as error:
        raise ValueError(f"cannot read {entry}: {error.strerror}") from None


def with_feeds(answers: Answers, entries: Sequence[str], base: Path) -> Answers:
    """The answers with these typed feeds added, each once; ValueError for the first that is no feed."""
    feeds = dict(answers.feeds)
    for entry in entries:
        for url, name in read_feeds(entry, base):
            feeds.setdefault(url, name)
    return replace(answers, feeds=tuple(feeds.items()))


Prompt = Callable[..., str]  # typer.prompt: (text, default=..., hide_input=...) -> the answer
Say = Callable[[str], None]


def ask(answers: Answers, prompt: Prompt, say: Say, base: Path) -> Answers:
    """Ask for each answer in turn; a wrong one is explained and asked again."""
    token = _ask(prompt, say, "Telegram bot token from @BotFather (Enter to skip)", _token_problem, hide=True)
    if token:
        chat = _ask(
            prompt,
            say,
            "Your Telegram user id, to get the rules' alerts in your chat with the bot (Enter to skip; "
            "@userinfobot tells it)",
            lambda v: None if re.fullmatch(r"-?[0-9]+", v) else "a number, like 123456789",
        )
        answers = replace(answers, telegram_token=token, telegram_chat=chat)
    else:
        answers = _ask_slack(answers, prompt, say)
    say("Feeds: an address, a feed file or an OPML file, one at a time; Enter when done.")
    while entry := prompt("Feed", default="", show_default=False).strip():
        try:
            answers = with_feeds(answers, [entry], base)
        except ValueError as error:
            say(f"  {error}")
    say("Rules: what to be alerted about, e.g. Membership Action Plan; Enter when done.")
    rules = list(answers.rules)
    while rule := prompt("Rule", default="", show_default=False).strip():
        if why := rule_problem(rule):
            say(f"  {why}")
        else:
            rules.append(rule)
    return replace(answers, rules=tuple(rules))


def _ask_slack(answers: Answers, prompt: Prompt, say: Say) -> Answers:
    bot = _ask(prompt, say, "Slack bot token, xoxb-... (Enter to skip)", _starting("xoxb-"), hide=True)
    if not bot:
        return answers
    socket = "Slack app token, xapp-..., for Socket Mode (Enter: HTTP mode)"
    app = _ask(prompt, say, socket, _starting("xapp-"), hide=True)
    secret = "" if app else _ask(prompt, say, "Slack signing secret", _anything, hide=True, needed=True)
    channel = _ask(prompt, say, "A Slack channel id for the rules' alerts, C... (Enter to skip)", _anything)
    return replace(
        answers, slack_bot_token=bot, slack_app_token=app, slack_signing_secret=secret, slack_channel=channel
    )


def _starting(prefix: str) -> Callable[[str], str | None]:
    return lambda value: None if value.startswith(prefix) else f"it starts with {prefix}"


def _anything(_value: str) -> None:
    return None


def _token_problem(value: str) -> str | None:
    if TELEGRAM_TOKEN.fullmatch(value):
        return None
    return "a token looks like 123456789:AAE...: digits, a colon, letters"


def _ask(
    prompt: Prompt, say: Say, text: str, problem: Callable[[str], str | None], *, hide: bool = False,
    needed: bool = False,
) -> str:  # fmt: skip
    """One answer, asked again until it has no problem; "" when skipped (unless needed)."""
    while True:
        value = prompt(text, default="", show_default=False, hide_input=hide).strip()
        if not value and not needed:
            return ""
        why = problem(value) if value else "it is needed"
        if why is None:
            return value
        say(f"  {why}")


def write_new(path: Path, text: str) -> None:
    """Write the file only if there is none: never over an existing one (FileExistsError). Readable
    by its owner only, since it holds tokens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


def main(
    path: Path, answers: Answers, entries: Sequence[str], prompt: Prompt | None, say: Say, complain: Say
) -> int:
    """`newsalert init`: the answers from the flags (and the typed feeds), the rest asked with `prompt`
    unless it is None; the file written. The exit code: 0, or 2 with the reason complained."""
    if path.exists():
        complain(
            f"newsalert: {path} exists already, and init never overwrites a file: choose another --config"
        )
        return 2
    try:
        answers = with_feeds(answers, entries, Path.cwd())
        if prompt:
            answers = ask(answers, prompt, say, Path.cwd())
        text = config_text(answers)
        write_new(path, text)
    except OSError as error:
        complain(f"newsalert: cannot write {path}: {error.strerror}")
        return 2
    except ValueError as error:
        complain(f"newsalert: {error}; nothing was written")
        return 2
    say(f"Wrote {path}, readable by you only. Next:\n{next_steps(path, answers)}")
    return 0


def next_steps(path: Path, answers: Answers) -> str:
    claim = "/claim CODE to the bot in a private chat" if answers.telegram_token else "/newsalert claim CODE"
    run = f"  newsalert run --config {path}      the bot"
    if answers.telegram_token or answers.slack_bot_token:
        run += f": its log shows a code; send {claim} to become its admin"
    return f"  newsalert check --config {path}    the alerts your rules would give now\n{run}"
