"""What each chat command means, once, for every channel (Telegram, Slack, CLI translate it).

Commands take data and the store and return data; replies are plain text the channels format.
A button is a command too: pressing it runs its `action` ("pause 12") as if it had been typed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.admin import (
    CODE_LIFETIME,
    Guesses,
    claim_key,
    describe_import,
    describe_status,
    describe_wait,
    export_feeds,
    import_feeds,
    new_claim_code,
)
from bot.config import LimitsSettings, parse_duration
from bot.domain import AlertedStory, Clock, Subscription, WatchRule
from bot.errors import FetchError, OpmlError, QueryError
from bot.opml import parse_opml
from bot.rules.exclusion import exclusion_words, with_exclusion
from bot.rules.index import Document, RuleIndex, leaves
from bot.rules.query import Node, Regex, format_rule, parse_rule
from bot.rules.text import DEFAULT_LANGUAGE, keys
from bot.rules.text import words as words_in
from bot.store import Store
from bot.store.why import Seen
from bot.why import explain, lookup, unseen

log = logging.getLogger(__name__)

BACKTEST_SAMPLES = 5


@dataclass(frozen=True)
class Backtest:
    rule: str  # as understood: every operator explicit
    days: tuple[tuple[date, int], ...]  # hits per day, oldest first, zero days included
    checked: int  # stories looked at
    samples: tuple[tuple[str, str], ...]  # (title, feed name), newest first
    stored_since: datetime | None = None  # the oldest stored story's fetch: older ones are not kept

    @property
    def hits(self) -> int:
        return sum(count for _, count in self.days)

    def heading(self) -> list[str]:
        """The rule as understood, what it matched, and how far back it could look: not before the
        oldest story stored (retention.articles deletes older ones)."""
        lines = [
            f"Rule as understood: {self.rule}",
            f"Over the last {len(self.days)} days it matched {self.hits} of {self.checked} stories.",
        ]
        if self.stored_since and self.days and self.stored_since.date() > self.days[0][0]:
            lines.append(f"Stories are stored since {self.stored_since:%d %b %Y}: none older to look at.")
        return lines


async def test_rule(
    store: Store, text: str, *, now: datetime, days: int = 7, language: str = DEFAULT_LANGUAGE
) -> Backtest:
    """Run a rule over the stories of the last `days` days; nothing is saved.

    Raises QueryError (reason and position) when the rule cannot be used.
    """
    tree = parse_rule(text, language)
    index = RuleIndex([(1, tree)], language)
    stored = await store.recent_articles(now - timedelta(days=days))
    # up to 100,000 stories: off the event loop, so that polling and other chats go on meanwhile
    hits = await asyncio.to_thread(
        lambda: [a for a in stored if index.match(Document(a.title, a.body, a.feed_name, a.link))]
    )
    per_day = Counter(a.fetched_at.date() for a in hits)
    first = (now - timedelta(days=days - 1)).date()
    calendar = tuple((first + timedelta(days=i), per_day[first + timedelta(days=i)]) for i in range(days))
    samples = tuple((a.title, a.feed_name) for a in hits[:BACKTEST_SAMPLES])
    return Backtest(format_rule(tree), calendar, len(stored), samples, await store.oldest_article())


def describe_backtest(result: Backtest) -> str:
    """The backtest as a short reply: the rule as understood, hits per day, sample titles."""
    lines = result.heading()
    lines += [f"  {day:%a %d %b}  {count:>4}  {'#' * min(count, 40)}".rstrip() for day, count in result.days]
    if result.samples:
        lines.append("For example:")
        lines += [f"  - {title} ({feed})" for title, feed in result.samples]
    return "\n".join(lines)


# --- chat commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chat:
    """Who is asking, and where: the channel adapter fills this in from the update it received."""

    channel: str  # "telegram", "slack"
    address: str  # the chat (and topic) alerts for this chat go to
    name: str  # for logs and the subscription's name
    user: str  # who typed it, as the chat app names them (a user id)
    may_edit: bool = True  # may change this chat's rules and settings (group admin, private chat)
    is_admin: bool = False  # may manage feeds (telegram.admins, slack.admins; or claimed: see /claim)
    allowed: bool = True  # False when an allowlist is set and does not name this user
    prefix: str = "/"  # how commands are typed here: "/" in Telegram, "/newsalert " in Slack
    files: bool = False  # the chat app passes files both ways (Telegram documents): /import, /export
    private: bool = False  # only the sender sees what they type here: a private chat, a Slack command


@dataclass(frozen=True)
class Button:
    label: str
    action: str  # a command line, run as if typed: "pause 12"


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()  # rows of buttons
    # after one of these buttons is pressed, this command's new reply replaces this message
    refresh: str | None = None
    refused: bool = False  # nothing was done (no right to, unknown command): tell only the asker
    attachment: Attachment | None = None  # a file sent with the text as its caption


@dataclass(frozen=True)
class Command:
    name: str
    usage: str  # what follows the name
    summary: str
    edits: bool = False  # changes this chat: group admins only
    admin: bool = False  # manages feeds: the bot's admins only
    slow: bool = False  # may take seconds (the network, a scan of stored stories): answer later
    without_files: str = ""  # the summary where the chat app passes no files, when it differs

    def described(self, prefix: str = "/", files: bool = True) -> str:
        """Its summary as a chat shows it: commands in it written with the chat's prefix."""
        return (self.without_files if self.without_files and not files else self.summary).format(
            prefix=prefix
        )


COMMANDS = (
    Command("start", "", "subscribe this chat and see how it works", edits=True),
    Command("help", "", "all commands"),
    Command("watch", "RULE", "alert on stories matching RULE", edits=True),
    Command("unwatch", "ID", "delete a rule", edits=True),
    Command("rules", "", "this chat's rules, to pause or delete"),
    Command("test", "RULE", "how often RULE would have matched lately; nothing saved", slow=True),
    Command("feeds", "", "the feeds being watched"),
    Command("why", "URL", "what happened to an article: its feed, its story, each rule, its alert"),
    Command("addfeed", "URL", "watch a feed (a site's address works too)", admin=True, slow=True),
    Command("removefeed", "ID", "stop watching a feed", admin=True),
    Command("mute", "DURATION", "no alerts for a while: 2h, 1d, or off", edits=True),
    Command("digest", "MODE", "instant, hourly, or daily HH:MM [zone]", edits=True),
    Command("quiet", "HOURS", "quiet hours: 22:00-07:00 [zone], or off", edits=True),
    Command("stop", "", "unsubscribe this chat; nothing more is sent", edits=True),
    Command("status", "", "feeds failing, last poll, alerts waiting, delivery time today", admin=True),
    Command(
        "import",
        "",
        "add the feeds of an OPML file (send it with {prefix}import as its caption)",
        admin=True,
        without_files="how to add the feeds of an OPML file on the server",
    ),  # fmt: skip
    Command("export", "", "the feeds as an OPML file", admin=True),
)
# not in /help nor the menu: the operator is told it with the code, in the log at start
CLAIM = Command("claim", "CODE", "become the bot's admin with the code it logged at start")
_ADMIN_ONLY = {"status": "see its health", "export": "export its feeds"}  # default: "change its feeds"
_BY_NAME = {command.name: command for command in (*COMMANDS, CLAIM)}
# button actions, each with the rights of this command (the alert's buttons: docs/commands.md)
_HIDDEN = {
    "pause": "unwatch", "resume": "unwatch", "mutestory": "mute", "mutesource": "mute", "unmute": "mute",
    "notabout": "watch", "exclude": "watch", "revert": "watch",
}  # fmt: skip
ALIASES = {"list": "rules"}  # Slack's word for it
MAX_LISTED = 50  # rules or feeds shown in one reply
MAX_MUTE = timedelta(days=365)
MAX_BUTTONS = 20  # rules with buttons in one /rules reply
SOURCE_MUTE = timedelta(hours=24)  # "Mute source 24 h"
MAX_NARROWED = 3  # rules "Not about this" offers to narrow, with up to 3 words each
LEAD_CHARS = 1000  # of a story's text, whose words "Not about this" weighs
MAX_ACTION = 60  # bytes a button's action may take (Telegram carries 64, "rules>" included)


def _number(argument: str) -> int | None:
    match = re.fullmatch(r"\s*#?(\d{1,12})\s*", argument)
    return int(match.group(1)) if match else None


def _zone(name: str | None) -> str:
    """A time zone name as given, checked; UTC when none."""
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone; use a name like Europe/Paris or UTC") from None
    return name


_CLOCK = r"([01]?\d|2[0-3]):([0-5]\d)"


def parse_digest(text: str) -> str:
    """`instant`, `hourly`, or `daily HH:MM [zone]`, as stored; ValueError says what is wrong."""
    words = text.split()
    if words in (["instant"], ["hourly"]):
        return words[0]
    if words and words[0] == "daily" and 2 <= len(words) <= 3:
        match = re.fullmatch(_CLOCK, words[1])
        if match:
            zone = _zone(words[2] if len(words) == 3 else None)
            return f"daily {int(match.group(1)):02d}:{match.group(2)} {zone}"
    raise ValueError(
        "say instant, hourly, or daily HH:MM with an optional time zone (daily 08:00 Europe/Paris)"
    )


def parse_quiet(text: str) -> str | None:
    """`HH:MM-HH:MM [zone]` as stored, or None for `off`; ValueError says what is wrong."""
    words = text.split()
    if words == ["off"]:
        return None
    match = re.fullmatch(f"{_CLOCK}-{_CLOCK}", words[0]) if 1 <= len(words) <= 2 else None
    if not match:
        raise ValueError("say the hours as 22:00-07:00 with an optional time zone, or off")
    start, end = f"{int(match.group(1)):02d}:{match.group(2)}", f"{int(match.group(3)):02d}:{match.group(4)}"
    if start == end:
        raise ValueError("the quiet hours start and end at the same time")
    return f"{start}-{end} {_zone(words[1] if len(words) == 2 else None)}"


def _refused(error: QueryError, rule: str) -> Reply:
    """Why the rule cannot be used, with a marker where (a caret under it needs a monospace font).
    A lone surrogate shows as U+FFFD: no chat app can be sent one."""
    at = error.position
    rule = re.sub("[\ud800-\udfff]", "\ufffd", rule)
    return Reply(
        f"I cannot use that rule: {error.reason} at character {at + 1}: {rule[:at]}\u25b6{rule[at:]}"
    )


def over_limit(
    rules: Sequence[WatchRule], query: str, tree: Node, limits: LimitsSettings, language: str, prefix: str
) -> str | None:
    """Why a chat with these rules may not add this one, or None. Only the chat's own rules count (the
    config file's are the operator's), and a rule it has already is not a new one."""
    if any(rule.query == query for rule in rules):
        return None
    own = [rule.query for rule in rules if rule.source == "chat"]
    if len(own) >= limits.rules_per_chat:
        return _at_limit(_counted(len(own)), prefix)
    if not _has_regex(tree):
        return None
    if limits.regex_rules_per_chat == 0:
        return "I cannot add that rule: this bot takes no /regex/ rules from chats. Say it without one."
    regexes = sum(_has_regex(_parsed(query, language)) for query in own)
    if regexes >= limits.regex_rules_per_chat:
        return _at_limit(_counted(regexes, "/regex/ "), prefix)
    return None


def _at_limit(rules: str, prefix: str) -> str:
    return (
        f"I cannot add that rule: this chat has {rules}, the most it may have. "
        f"{prefix}unwatch ID deletes one to make room ({prefix}rules lists them)."
    )


def _counted(count: int, kind: str = "") -> str:
    return f"{count} {kind}rule" + ("" if count == 1 else "s")


def _has_regex(tree: Node | None) -> bool:
    return tree is not None and any(isinstance(leaf, Regex) for leaf in leaves(tree))


def _parsed(query: str, language: str) -> Node | None:
    """A stored rule's tree; None when it no longer parses (then it is not matched either)."""
    try:
        return parse_rule(query, language)
    except QueryError:
        return None


def _short(text: str, size: int = 60) -> str:
    """Text as a line of a reply names it: one line, at most `size` characters."""
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1].rstrip() + "\u2026"


def split_command(line: str) -> tuple[str, str]:
    """ "/watch@newsalert_bot NATO" -> ("watch", "NATO"); a leading slash and a bot name are optional,
    and nothing at all asks for help."""
    head, _, argument = line.strip().partition(" ")
    name = head.lstrip("/").split("@", 1)[0].lower() or "help"
    return ALIASES.get(name, name), argument.strip()


def is_command(name: str) -> bool:
    return _HIDDEN.get(name, name) in _BY_NAME


def is_slow(name: str) -> bool:
    command = _BY_NAME.get(name)
    return bool(command and command.slow)


class Commands:
    """Every chat command, for every channel: `run(chat, name, argument)` returns the reply."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        find_feed: Callable[[str], Awaitable[str]],
        chat_feed_interval: timedelta,
        language: str = DEFAULT_LANGUAGE,
        limits: LimitsSettings | None = None,
        poll: Callable[..., Awaitable[Sequence[object]]] | None = None,
    ):
        self.store = store
        self.clock = clock
        self.find_feed = find_feed  # what a user typed -> the feed's address, through the SSRF guard
        self.chat_feed_interval = chat_feed_interval
        self.language = language
        self.limits = limits or LimitsSettings()  # rules per chat
        self.poll = poll  # poll(only=[feed id]) polls those feeds now; the reports of those it did
        self.guesses = Guesses()  # wrong claim codes, per user

    async def run(self, chat: Chat, name: str, argument: str = "") -> Reply:
        chat = await self._rights(chat)
        refusal = self._refusal(chat, name)
        if refusal:
            return refusal
        handler = getattr(self, f"_{name}")
        return await handler(chat, argument.strip())

    async def _rights(self, chat: Chat) -> Chat:
        """The chat as the adapter saw it, and an admin too if the user claimed the bot."""
        if chat.is_admin or not await self.store.is_admin(chat.channel, chat.user):
            return chat
        return replace(chat, is_admin=True)

    def _refusal(self, chat: Chat, name: str) -> Reply | None:
        """Why this chat may not run this command, or None when it may."""
        if not chat.allowed:
            return Reply(
                f"Sorry, this newsalert bot is private. Its owner can let you in by adding your id "
                f"({chat.user}) to its allowed users.",
                refused=True,
            )
        command = _BY_NAME.get(_HIDDEN.get(name, name))
        if command is None:
            text = f"I do not know {chat.prefix}{name}. {chat.prefix}help lists what I can do."
            return Reply(text, refused=True)
        if command.admin and not chat.is_admin:
            what = _ADMIN_ONLY.get(command.name, "change its feeds")
            return Reply(f"Sorry, only the bot's admins can {what}. Ask whoever runs it.", refused=True)
        if command.edits and not chat.may_edit:
            return Reply(
                "Sorry, only this chat's admins can change its alerts. Ask one of them.", refused=True
            )
        return None

    async def import_opml(self, chat: Chat, read: Callable[[], Awaitable[bytes]]) -> Reply:
        """Not typed: an admin sent an OPML file (Telegram: a document captioned /import). `read`
        fetches it, once the sender is known to be an admin: nobody else's file is downloaded."""
        refusal = self._refusal(await self._rights(chat), "import")
        if refusal:
            return refusal
        try:
            feeds = parse_opml(await read())
        except OpmlError as error:
            return Reply(f"I could not import that: {error}.")
        if not feeds:
            return Reply("That OPML file lists no feeds (no outline with an xmlUrl).")
        report = await import_feeds(
            self.store, feeds, interval=self.chat_feed_interval, now=self.clock.now(), trusted=False
        )
        return Reply(describe_import(report, " New stories from them are matched from now on."))

    async def _import(self, chat: Chat, _argument: str) -> Reply:
        if chat.files:
            return Reply(f"Send me the OPML file as a document, with {chat.prefix}import as its caption.")
        return Reply("Import the OPML file on the server: newsalert opml import FILE.")

    async def _export(self, chat: Chat, _argument: str) -> Reply:
        if not chat.files:
            return Reply("Export the feeds on the server: newsalert opml export FILE.")
        count, document = await export_feeds(self.store, self.clock.now())
        name = f"newsalert-feeds-{self.clock.now():%Y%m%d}.opml"
        return Reply(f"The {count} feed(s) being watched, as OPML.", attachment=Attachment(name, document))

    async def _status(self, chat: Chat, _argument: str) -> Reply:
        now = self.clock.now()
        listed = await self.store.feed_list()
        last_poll, latencies = await self.store.status_figures(datetime.combine(now.date(), time(), UTC))
        waiting = (await self.store.count_outbox()).get("pending", 0)
        oldest = await self.store.oldest_article()
        return Reply(describe_status(listed, last_poll, waiting, latencies, now, oldest))

    async def chat_moved(self, channel: str, address: str, new_address: str) -> None:
        """Not a command: the chat app says this chat has a new address from now on."""
        found = await self.store.subscription(channel, address)
        if found:
            await self.store.move_subscription(found.id, new_address)

    def _usage(self, chat: Chat, name: str, example: str) -> Reply:
        command = _BY_NAME[name]
        return Reply(f"Usage: {chat.prefix}{name} {command.usage}, for example {chat.prefix}{name} {example}")

    async def _subscription(self, chat: Chat) -> Subscription:
        """This chat's subscription, made when a setting needs it; a stopped chat stays stopped."""
        found = await self.store.subscription(chat.channel, chat.address)
        return found or await self.store.subscribe(chat.channel, chat.address, chat.name, self.clock.now())

    async def offer_claim(self, unclaimed: Sequence[str]) -> str | None:
        """At start, when these chat apps have no admin in the settings: unless one was claimed, a new
        one-time code, logged once for the operator (its hash is kept) and returned."""
        if not [channel for channel in unclaimed if not await self.store.admin_count(channel)]:
            return None
        code, now = new_claim_code(), self.clock.now()
        await self.store.add_claim_code(claim_key(code), now + CODE_LIFETIME, now)
        how = f"send /claim {code} to the bot in a private chat"
        if "slack" in unclaimed:
            how += f" (in Slack: /newsalert claim {code})"
        log.warning(
            "no admin yet: %s to become its admin. The code works once, for 24 hours; "
            "a restart makes a new one.",
            how,
        )
        return code

    async def _claim(self, chat: Chat, argument: str) -> Reply:
        """The operator's first admin: the right code, in a private chat, once. A wrong code counts
        against its sender (claim_wait), and no reply says the code."""
        if chat.is_admin:
            return Reply("You are an admin of this bot already.")
        now, who = self.clock.now(), (chat.channel, chat.user)
        if wait := self.guesses.wait(who, now):
            return Reply(f"Too many wrong codes: try again {describe_wait(wait)}.", refused=True)
        if not argument:
            return self._usage(chat, "claim", "k7mq-4xzp-9wtr (the code newsalert logged at its start)")
        if not chat.private:
            if await self.store.spend_claim_code(claim_key(argument), now):
                log.warning("the claim code was typed in a group chat, so it no longer works")
                return Reply(
                    "That code was typed where others can read it, so it no longer works. Restart "
                    f"newsalert for a new one, and send {chat.prefix}claim CODE to me in a private chat."
                )
            self.guesses.failed(who, now)
            return Reply(f"Send {chat.prefix}claim CODE to me in a private chat, where only you read it.")
        if not await self.store.claim_admin(claim_key(argument), chat.channel, chat.user, chat.address, now):
            self.guesses.failed(who, now)
            log.warning("a wrong claim code from %s user %s", chat.channel, chat.user)
            return Reply(
                "That is not a code that works: it is in newsalert's log from its start, works once and "
                "for 24 hours. A restart makes a new one.",
                refused=True,
            )
        log.info("%s user %s claimed the bot: an admin now", chat.channel, chat.user)
        p = chat.prefix
        return Reply(
            f"You are an admin of this bot now: you may add feeds ({p}addfeed URL, {p}import), remove "
            f"them, and see {p}status.\nTo get alerts here: {p}watch Membership Action Plan."
        )

    async def _start(self, chat: Chat, _argument: str) -> Reply:
        await self.store.subscribe(chat.channel, chat.address, chat.name, self.clock.now())
        p = chat.prefix
        return Reply(
            "This chat now gets an alert when a new story matches one of its rules.\n"
            f"Watch a topic: {p}watch NATO-Russia Council (try {p}test first to see how often it hits).\n"
            f"Your rules: {p}rules. Everything else: {p}help."
        )

    async def _help(self, chat: Chat, _argument: str) -> Reply:
        lines = [
            f"{chat.prefix}{c.name} {c.usage}".rstrip() + f" - {c.described(chat.prefix, chat.files)}"
            for c in COMMANDS
        ]
        lines.append(
            '\nRules: plain words are one phrase (Membership Action Plan). Also "quotes", AND, OR, NOT, '
            "-word, (parentheses), title:, feed:NAME, link:, NEAR/5, case:MAP and /regex/."
        )
        return Reply("\n".join(lines))

    async def _watch(self, chat: Chat, argument: str) -> Reply:
        urgent = argument.startswith("!")  # "! RULE": past digests and quiet hours
        argument = argument.removeprefix("!").strip()
        if not argument:
            return self._usage(chat, "watch", "Membership Action Plan")
        before = await self.store.subscription(chat.channel, chat.address)
        rules = await self.store.chat_rules(before.id) if before else []
        tree = self._checked(chat, argument, rules)
        if isinstance(tree, Reply):
            return tree
        subscription = await self.store.subscribe(chat.channel, chat.address, chat.name, self.clock.now())
        rule_id, new = await self.store.add_rule(subscription.id, argument, self.clock.now(), urgent)
        understood = format_rule(tree)
        said = ("Watching" if new else "Already watching") + (" urgent" if urgent else "")
        again = " This chat was unsubscribed; it gets alerts again." if before and not before.active else ""
        return Reply(
            f"{said} rule {rule_id}: {understood}\n"
            f"Alerts come here when a new story matches; {chat.prefix}test shows how often it would have."
            + again,
            ((Button("Undo", f"unwatch {rule_id}"),),),
        )

    def _checked(self, chat: Chat, rule: str, rules: Sequence[WatchRule]) -> Node | Reply:
        """A new rule's tree, or why this chat (with these other rules) may not have it: what /watch and
        "Not about this" both check."""
        try:
            tree = parse_rule(rule, self.language)
        except QueryError as error:
            return _refused(error, rule)
        if refusal := over_limit(rules, rule, tree, self.limits, self.language, chat.prefix):
            return Reply(refusal)
        return tree

    async def _unwatch(self, chat: Chat, argument: str) -> Reply:
        rule_id = _number(argument)
        if rule_id is None:
            return self._usage(chat, "unwatch", f"12 (the numbers are in {chat.prefix}rules)")
        subscription = await self.store.subscription(chat.channel, chat.address)
        if subscription and await self.store.delete_rule(subscription.id, rule_id):
            return Reply(f"Deleted rule {rule_id}.")
        rules = await self.store.chat_rules(subscription.id) if subscription else []
        if any(rule.id == rule_id for rule in rules):
            return Reply(
                f"Rule {rule_id} comes from the config file; {chat.prefix}pause {rule_id} silences it."
            )
        return Reply(f"This chat has no rule {rule_id}. {chat.prefix}rules lists them.")

    async def _pause(self, chat: Chat, argument: str) -> Reply:
        return await self._set_active(chat, argument, False)

    async def _resume(self, chat: Chat, argument: str) -> Reply:
        return await self._set_active(chat, argument, True)

    async def _set_active(self, chat: Chat, argument: str, active: bool) -> Reply:
        rule_id = _number(argument)
        subscription = await self.store.subscription(chat.channel, chat.address)
        if (
            rule_id is None
            or not subscription
            or not await self.store.set_rule_active(subscription.id, rule_id, active)
        ):
            return Reply(f"This chat has no rule {argument}. {chat.prefix}rules lists them.")
        if active:
            return Reply(f"Rule {rule_id} is on again.")
        return Reply(f"Paused rule {rule_id}: no alerts from it until you resume it.",
                     ((Button("Resume", f"resume {rule_id}"),),))  # fmt: skip

    async def _rules(self, chat: Chat, _argument: str) -> Reply:
        subscription = await self.store.subscription(chat.channel, chat.address)
        rules = await self.store.chat_rules(subscription.id) if subscription else []
        if not rules:
            return Reply(f"This chat watches nothing yet. Try {chat.prefix}watch Membership Action Plan.")
        lines = []
        for rule in rules[:MAX_LISTED]:
            notes = [
                note
                for note, on in (
                    ("urgent", rule.urgent),
                    ("paused", not rule.active),
                    ("config file", rule.source == "config"),
                )
                if on
            ]
            lines.append(f"{rule.id}. {rule.query}" + (f" ({', '.join(notes)})" if notes else ""))
        if len(rules) > MAX_LISTED:
            lines.append(f"... and {len(rules) - MAX_LISTED} more.")
        if subscription and not subscription.active:
            lines.append(f"This chat is unsubscribed: {chat.prefix}start to get alerts again.")
        buttons = tuple(
            (
                Button(f"Pause {r.id}", f"pause {r.id}")
                if r.active
                else Button(f"Resume {r.id}", f"resume {r.id}"),
                *([Button(f"Delete {r.id}", f"unwatch {r.id}")] if r.source == "chat" else []),
            )
            for r in rules[:MAX_BUTTONS]
        )
        assert subscription
        undo = []  # what the alerts' buttons did, to undo
        for mute in await self.store.mutes(subscription.id, self.clock.now()):
            what = f"source {mute.what} until {mute.until:%a %d %b %H:%M} UTC" if mute.until else "story"
            lines.append(f"Muted {what}" + ("" if mute.until else f": {_short(mute.what)}"))
            undo.append(Button(f"Unmute {_short(mute.what, 30)}", f"unmute {mute.id}"))
        for edit in await self.store.rule_edits(subscription.id):
            lines.append(f"Rule {edit.rule_id} was: {edit.before}")
            undo.append(Button(f"Undo rule {edit.rule_id}", f"revert {edit.id}"))
        return Reply("\n".join(lines), buttons + tuple((b,) for b in undo), refresh="rules")

    async def _test(self, chat: Chat, argument: str) -> Reply:
        if not argument:
            return self._usage(chat, "test", "Ukraine NEAR/5 membership")
        try:
            result = await test_rule(self.store, argument, now=self.clock.now(), language=self.language)
        except QueryError as error:
            return _refused(error, argument)
        return Reply(
            describe_backtest(result) + f"\nNothing was saved. {chat.prefix}watch {argument} to keep it."
        )

    async def _why(self, chat: Chat, argument: str) -> Reply:
        if not argument or " " in argument:
            return self._usage(chat, "why", "https://www.nato.int/cps/en/natohq/news_1.htm")
        seen = await self.store.seen(*lookup(argument), chat=(chat.channel, chat.address))
        if not isinstance(seen, Seen):
            return Reply(unseen(seen))
        return Reply(explain(seen, self.clock.now(), self.language, prefix=chat.prefix))

    async def _feeds(self, chat: Chat, _argument: str) -> Reply:
        listed = await self.store.feed_list()
        if not listed:
            return Reply("No feeds yet." + (f" {chat.prefix}addfeed URL adds one." if chat.is_admin else ""))
        lines = [
            f"{feed.id}. {feed.name or feed.url} - {feed.url}" + (f" (failing: {error})" if error else "")
            for feed, error in listed[:MAX_LISTED]
        ]
        if len(listed) > MAX_LISTED:
            lines.append(f"... and {len(listed) - MAX_LISTED} more.")
        return Reply("\n".join(lines))

    async def _addfeed(self, chat: Chat, argument: str) -> Reply:
        if not argument or " " in argument:
            return self._usage(chat, "addfeed", "https://www.nato.int")
        url = argument if "://" in argument else f"https://{argument}"
        try:
            feed_url = await self.find_feed(url)
        except FetchError as error:
            return Reply(f"I could not add that feed: {error}")
        feed_id, new = await self.store.add_feed(feed_url, "", self.chat_feed_interval, self.clock.now())
        if not new:
            return Reply(f"Feed {feed_id} is watched already: {feed_url}. {chat.prefix}feeds lists them.")
        polled = await self.poll(only=[feed_id]) if self.poll else ()
        items, error = await self.store.feed_items(feed_id)
        added = f"Added feed {feed_id}: {feed_url}."
        if not polled:
            return Reply(f"{added} It is polled in a moment; new stories from it are matched from then on.")
        if error:
            return Reply(f"{added} Its first poll failed ({error}); it is tried again with backoff.")
        return Reply(
            f"{added} It has {items} item(s) now: that backlog does not alert. "
            "New stories from it are matched from now on."
        )

    async def _removefeed(self, chat: Chat, argument: str) -> Reply:
        feed_id = _number(argument)
        if feed_id is None:
            return self._usage(chat, "removefeed", f"3 (the numbers are in {chat.prefix}feeds)")
        why_not = await self.store.remove_chat_feed(feed_id)
        return Reply(f"Cannot remove feed {feed_id}: {why_not}." if why_not else f"Removed feed {feed_id}.")

    async def _mute(self, chat: Chat, argument: str) -> Reply:
        subscription = await self._subscription(chat)
        if argument == "off":
            await self.store.update_subscription(subscription.id, muted_until=None)
            return Reply("Alerts are on again.")
        try:
            duration = parse_duration(argument) if argument else None
        except (ValueError, OverflowError):
            duration = None
        if not isinstance(duration, timedelta) or not timedelta(0) < duration <= MAX_MUTE:
            return self._usage(chat, "mute", "2h (or 30m, 1d, at most 365d, off)")
        until = self.clock.now() + duration
        await self.store.update_subscription(subscription.id, muted_until=until)
        return Reply(
            f"Muted until {until:%a %d %b %H:%M} UTC: stories matched until then are not sent. "
            f"{chat.prefix}mute off ends it sooner."
        )

    async def _digest(self, chat: Chat, argument: str) -> Reply:
        try:
            digest = parse_digest(argument)
        except ValueError as error:
            return Reply(f"Cannot set that: {error}.")
        subscription = await self._subscription(chat)
        await self.store.update_subscription(subscription.id, digest=digest)
        urgent = (
            "" if digest == "instant" else f" Urgent rules ({chat.prefix}watch ! RULE) still come at once."
        )
        return Reply(f"Saved: {digest}.{urgent}")

    async def _quiet(self, chat: Chat, argument: str) -> Reply:
        try:
            quiet = parse_quiet(argument)
        except ValueError as error:
            return Reply(f"Cannot set that: {error}.")
        subscription = await self._subscription(chat)
        await self.store.update_subscription(subscription.id, quiet=quiet)
        if quiet is None:
            return Reply("Quiet hours are off.")
        return Reply(
            f"Saved quiet hours: {quiet}. What matches meanwhile comes as one message when they end."
        )

    async def _stop(self, chat: Chat, _argument: str) -> Reply:
        subscription = await self.store.subscription(chat.channel, chat.address)
        if subscription:
            await self.store.unsubscribe(subscription.id, self.clock.now())
        return Reply(
            f"Unsubscribed: nothing more will be sent here. Your rules are kept; {chat.prefix}start resumes."
        )

    # the buttons under an alert (bot.chat.alert_actions): each names the article the alert shows

    async def _alerted(self, chat: Chat, argument: str) -> tuple[Subscription, AlertedStory] | Reply:
        """The chat's subscription and the story of the article named, when this chat was alerted to it."""
        article_id = _number(argument)
        subscription = await self.store.subscription(chat.channel, chat.address)
        story = (
            await self.store.alerted_story(subscription.id, article_id)
            if subscription and article_id is not None
            else None
        )
        if not subscription or not story:
            return Reply(f"This chat had no alert of story {argument}; nothing changed.")
        return subscription, story

    async def _mutestory(self, chat: Chat, argument: str) -> Reply:
        found = await self._alerted(chat, argument)
        if isinstance(found, Reply):
            return found
        subscription, story = found
        mute_id = await self.store.mute_story(subscription.id, story, self.clock.now())
        return Reply(
            f"Muted the story \u201c{_short(story.title)}\u201d: no more alerts of it here, not even when "
            f"other outlets report it. {chat.prefix}rules lists what is muted.",
            ((Button("Undo", f"unmute {mute_id}"),),),
        )

    async def _mutesource(self, chat: Chat, argument: str) -> Reply:
        found = await self._alerted(chat, argument)
        if isinstance(found, Reply):
            return found
        subscription, story = found
        until = self.clock.now() + SOURCE_MUTE
        mute_id = await self.store.mute_source(subscription.id, story, until, self.clock.now())
        return Reply(
            f"No alerts from {_short(story.feed_name)} here until {until:%a %d %b %H:%M} UTC (it is still "
            f"read for the others). {chat.prefix}rules lists what is muted.",
            ((Button("Undo", f"unmute {mute_id}"),),),
        )

    async def _unmute(self, chat: Chat, argument: str) -> Reply:
        mute_id = _number(argument)
        subscription = await self.store.subscription(chat.channel, chat.address)
        if mute_id is None or not subscription or not await self.store.unmute(subscription.id, mute_id):
            return Reply(
                f"Nothing to undo: that mute has ended already. {chat.prefix}rules lists the others."
            )
        return Reply("Unmuted: its new alerts come here again (those it held back meanwhile do not).")

    async def _notabout(self, chat: Chat, argument: str) -> Reply:
        """Words of the story that would keep each of the chat's rules that matched it off it, offered as
        the rule they would make; a press on one makes it (exclude)."""
        found = await self._alerted(chat, argument)
        if isinstance(found, Reply):
            return found
        subscription, story = found
        rules = {rule.id: rule for rule in await self.store.chat_rules(subscription.id)}
        matched = [rules[m.rule_id] for m in story.matches if m.rule_id in rules]
        own = [rule for rule in matched if rule.source == "chat"][:MAX_NARROWED]
        if not own:
            why = (
                "its rules come from the config file, which only the bot's operator changes"
                if matched
                else "the rules that matched it are gone"
            )
            return Reply(f"I cannot narrow a rule for this story: {why}. Mute the story instead.")
        head = f"{story.title}\n{story.body[:LEAD_CHARS]}"  # the words exclusion_words looks at, and more
        counts = await self.store.term_counts_of(keys(head, self.language))
        lines, buttons = [], []
        for rule in own:
            for word in exclusion_words(story.title, story.body, rule.query, counts, self.language):
                action = f"exclude {rule.id} {word}"
                if len(action.encode()) <= MAX_ACTION:
                    narrowed = with_exclusion(rule.query, word, self.language)
                    lines.append(f"Rule {rule.id} becomes: {narrowed}")
                    buttons.append((Button(_short(narrowed, 70), action),))
        if not buttons:
            return Reply("I found no word of this story that would tell it apart. Mute the story instead.")
        head = "Not about this? Choose a word to exclude, and the rule becomes:"
        return Reply("\n".join([head, *lines]), tuple(buttons))

    async def _exclude(self, chat: Chat, argument: str) -> Reply:
        """RULE_ID WORD: the rule with the word excluded, checked as /watch checks a rule; undoable."""
        number, _, word = argument.partition(" ")
        rule_id, word = _number(number), word.strip()
        subscription = await self.store.subscription(chat.channel, chat.address)
        rules = await self.store.chat_rules(subscription.id) if subscription else []
        rule = next((r for r in rules if r.id == rule_id), None)
        if not subscription or not rule:
            return Reply(f"This chat has no rule {number}. {chat.prefix}rules lists them.")
        if [m.group() for m in words_in(word)] != [word]:
            return Reply(f"Say one word to exclude from rule {rule.id}, for example Kiev.")
        if rule.source != "chat":
            return Reply(f"Rule {rule.id} comes from the config file; only the bot's operator changes it.")
        try:
            narrowed = with_exclusion(rule.query, word, self.language)
        except QueryError as error:
            return _refused(error, word)
        tree = self._checked(chat, narrowed, [r for r in rules if r.id != rule.id])
        if isinstance(tree, Reply):
            return tree
        done = await self.store.replace_rule(subscription.id, rule.id, narrowed, self.clock.now())
        if done is None:
            return Reply(f"This chat has that rule already: {narrowed}. {chat.prefix}rules lists them.")
        new_id, edit_id = done
        return Reply(
            f"Rule {rule.id} is now rule {new_id}: {format_rule(tree)}\n"
            f"Stories with \u201c{word}\u201d no longer alert here from it.",
            ((Button("Undo", f"revert {edit_id}"),),),
        )

    async def _revert(self, chat: Chat, argument: str) -> Reply:
        edit_id = _number(argument)
        subscription = await self.store.subscription(chat.channel, chat.address)
        restored = (
            await self.store.revert_rule(subscription.id, edit_id, self.clock.now())
            if subscription and edit_id is not None
            else None
        )
        if restored is None:
            return Reply(
                f"Nothing to undo: that rule was changed or deleted since. {chat.prefix}rules lists them."
            )
        rule = next(r for r in await self.store.chat_rules(subscription.id) if r.id == restored)
        return Reply(f"Rule {restored} is back as it was: {rule.query}")
