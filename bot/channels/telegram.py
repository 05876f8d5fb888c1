"""Telegram: alerts in HTML parse mode, and the bot commands, translated to and from commands.py.

Its settings (`telegram:`) first, then a pure render (render_alert), then a thin adapter over
python-telegram-bot's Bot: API calls, updates in (long polling or webhook), errors translated for
delivery.py. The library is imported where the adapter uses it: config.py reads the settings here,
and `newsalert check` must not load the library for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import html
import json
import logging
import os
import re
from collections.abc import Awaitable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator

from bot.channels.base import IdList, Parts, Section, Spec, clip, nested, no_padding
from bot.domain import Alert, Match, Quote, Receipt
from bot.errors import (
    AddressMovedError,
    ConfigError,
    OpmlError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnreachableError,
)
from bot.pacing import Rate

if TYPE_CHECKING:
    from aiohttp import web
    from telegram import Bot, InlineKeyboardMarkup, Update
    from telegram.error import RetryAfter, TelegramError

    from bot.commands import Button, Chat, Commands, Reply

    Keyboard = tuple[tuple[Button, ...], ...]

# PTB 22 warns on every 429 while it moves durations from int to timedelta, unless opted in early
os.environ.setdefault("PTB_TIMEDELTA", "true")
log = logging.getLogger(__name__)

LIMIT = 4096  # characters (UTF-16 code units) of a message, after its HTML is parsed
MAX_RULES_SHOWN = 5
MAX_TITLE = 250  # these keep one rule's alert far under LIMIT, whatever the feed says
MAX_QUOTE = 400
MAX_RULE = 150
POLL_TIMEOUT = 30  # seconds a getUpdates call waits for news
WEBHOOK_PATH = "/telegram/webhook"  # on http.port
MAX_OPML = 1_000_000  # bytes of an OPML file sent with /import; a list of thousands of feeds fits
ADMINS = {"creator", "administrator"}  # a member's status that may change a group's alerts
PRIVATE = "private"  # a chat's type: one person and the bot
# BadRequest descriptions that mean the chat or topic is gone, not that the message was wrong
_GONE = ("chat not found", "thread not found", "topic_deleted", "topic_closed", "not enough rights")
# ... and those that mean an alert can no longer be edited: it stays as it was
_UNEDITABLE = ("message is not modified", "message to edit not found", "message can't be edited")

# what python-telegram-bot raises building an Update from JSON not shaped as the Bot API's; a date
# past what the platform's clock functions take gives OverflowError or OSError
NOT_AN_UPDATE = (TypeError, ValueError, KeyError, AttributeError, OverflowError, OSError)
T = TypeVar("T")


# --- settings: `telegram:` in the config file -----------------------------------------------------


class TelegramSettings(Section):
    token: SecretStr | None = None
    api_url: str = "https://api.telegram.org/bot"
    admins: IdList = []  # user ids that may add and remove feeds from a chat
    allowed_users: IdList = []  # when set, the bot answers only these user ids
    webhook_url: str | None = None  # public https address of http.port; unset: long polling
    webhook_secret: SecretStr | None = None  # checked on every webhook call; derived from the token if unset

    @field_validator("token")
    @classmethod
    def _looks_like_a_bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        """As @BotFather gives it, 123456789:AAE...: a typo is told here, not as Telegram's 401."""
        token = value.get_secret_value() if value else ""
        if token:
            no_padding(token)
            if re.fullmatch(r"bot\d+:.*", token):
                raise ValueError("the token starts with 'bot'; give it without, as @BotFather shows it")
            if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
                raise ValueError(
                    "not a bot token (digits, a colon, then letters, like 123456789:AAE3x...); "
                    "copy it again from @BotFather"
                )
        return value

    @field_validator("webhook_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("Telegram only calls https:// webhooks")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret_alphabet(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError("Telegram accepts 1 to 256 letters, digits, _ and - in a webhook secret")
        return value

    def webhook_secret_value(self) -> str:
        """What Telegram sends in X-Telegram-Bot-Api-Secret-Token: the configured one, else one derived
        from the token (the same on every replica, and never the token itself)."""
        if self.webhook_secret:
            return self.webhook_secret.get_secret_value()
        token = self.token.get_secret_value() if self.token else ""
        return hashlib.sha256(b"newsalert-webhook:" + token.encode()).hexdigest()

    def secret_values(self) -> list[str]:
        return super().secret_values() + ([self.webhook_secret_value()] if self.token else [])


def build(settings: TelegramSettings, parts: Parts) -> TelegramChannel | None:
    return TelegramChannel(settings, parts.commands) if settings.token else None


SPEC = Spec(
    "telegram",
    build,
    TelegramSettings,
    {
        "TELEGRAM_BOT_TOKEN": ("token",),
        "NEWSALERT_TELEGRAM_API_URL": ("api_url",),
        "NEWSALERT_TELEGRAM_ADMINS": ("admins",),
        "NEWSALERT_TELEGRAM_ALLOWED_USERS": ("allowed_users",),
        "NEWSALERT_TELEGRAM_WEBHOOK_URL": ("webhook_url",),
        "TELEGRAM_WEBHOOK_SECRET": ("webhook_secret",),
    },
    admins=lambda settings: settings.admins,
)


# --- render: pure ------------------------------------------------------------------------------


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def plain(markup: str) -> str:
    """An HTML message as the text Telegram shows."""
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def visible_length(markup: str) -> int:
    return units(plain(markup))


def _quote_html(quote: Quote, limit: int) -> str:
    text = clip(quote.text, limit, units)
    kept = len(text) if text == quote.text else len(text) - 1  # the ellipsis is not the quote's
    out, at = [], 0
    for start, end in quote.spans:
        if end > kept:
            break
        out += [html.escape(text[at:start]), f"<b>{html.escape(text[start:end])}</b>"]
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out)


def _why(match: Match) -> str:
    rule = html.escape(clip(match.rule, MAX_RULE, units))
    quote = _quote_html(nested(match.quote), MAX_QUOTE)
    return f"\n\n<i>Rule {match.rule_id}: {rule}</i>\n\u201c{quote}\u201d"


def _linked_title(alert: Alert) -> str:
    """The title, escaped, linked to the story when its link is a web address."""
    title = html.escape(clip(alert.title or alert.link, MAX_TITLE, units))
    link = alert.link if alert.link.startswith(("http://", "https://")) else ""
    return f'<a href="{html.escape(link)}">{title}</a>' if link else title


def render_alert(alert: Alert) -> tuple[str, Keyboard]:
    """The alert as Telegram HTML (never over LIMIT, every feed string escaped) and its buttons."""
    head = f"<b>{_linked_title(alert)}</b>"
    when = alert.published_at.strftime("%d %b %Y %H:%M UTC")
    head += f"\n{html.escape(clip(alert.feed_name, MAX_TITLE, units))} \u00b7 {when}"
    if alert.also_in:
        head += f"\nAlso in: {html.escape(clip(', '.join(alert.also_in), MAX_TITLE, units))}"
    shown = list(alert.matches[:MAX_RULES_SHOWN])
    while True:  # as many rules as fit, the summary keeping some room
        tail = "".join(_why(m) for m in shown)
        if len(alert.matches) > len(shown):
            tail += f"\n\n(and {len(alert.matches) - len(shown)} more of your rules)"
        room = LIMIT - visible_length(head + tail) - 2
        if room > 200 or len(shown) == 1:
            break
        shown.pop()
    summary = html.escape(clip(alert.summary, room, units)) if alert.summary and room > 20 else ""
    text = head + (f"\n\n{summary}" if summary else "") + tail
    from bot.chat import alert_actions  # the chat layer loads the store: not for settings alone

    return text, alert_actions(alert, shown)


def render_digest(alerts: list[Alert], heading: str | None = None) -> list[str]:
    """Several alerts as few messages: a linked title, its source and the rules that matched, each;
    a new message wherever the next story would pass LIMIT."""
    heading = f"<b>{html.escape(clip(heading or f'{len(alerts)} new stories', MAX_TITLE, units))}</b>"
    messages, current = [], heading
    for alert in alerts:
        line = _linked_title(alert)
        rules = ", ".join(html.escape(clip(m.rule, MAX_RULE, units)) for m in alert.matches[:MAX_RULES_SHOWN])
        source = html.escape(clip(alert.feed_name, MAX_TITLE, units))
        entry = f"\n\n\u2022 <b>{line}</b>\n{source} \u00b7 <i>{rules}</i>"
        if visible_length(current + entry) > LIMIT:
            messages.append(current)
            current = heading + " (continued)"
        current += entry
    return [*messages, current]


def file_url(api_url: str) -> str:
    """Where files are downloaded from, beside the API as Telegram has it:
    https://api.telegram.org/bot -> https://api.telegram.org/file/bot (any Bot API server alike)."""
    base = api_url.rstrip("/")
    return base.removesuffix("/bot") + "/file/bot"


def read_update(body: bytes, bot: Bot) -> Update | None:
    """The update a webhook call carries: a JSON object with an integer update_id, as the Bot API
    sends; None for anything else. Specs: https://core.telegram.org/bots/api#update"""
    try:
        data: Any = json.loads(body)  # UTF-8 by the JSON spec, whatever the Content-Type says
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or JSON nested too deep
        return None
    if not isinstance(data, dict) or type(data.get("update_id")) is not int:
        return None
    from telegram import Update

    try:
        return Update.de_json(data, bot)
    except NOT_AN_UPDATE:
        return None


def split_address(address: str) -> tuple[int | str, int | None]:
    """ "-100123:7" -> (-100123, 7): a chat, and the forum topic in it."""
    chat, _, thread = address.partition(":")
    return (int(chat) if re.fullmatch(r"-?\d+", chat) else chat), (int(thread) if thread else None)


# --- adapter -----------------------------------------------------------------------------------


def _markup(reply: Reply) -> InlineKeyboardMarkup | None:
    """Buttons, each carrying what bot.chat encodes (at most 64 bytes, as Telegram takes)."""
    if not reply.buttons:
        return None
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    from bot.chat import encode_button

    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.label, callback_data=encode_button(b.action, reply.refresh)[:64])
                for b in row
            ]
            for row in reply.buttons
        ]
    )


def _retry_after(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramChannel:
    name = "telegram"
    exclusive_listen = True  # Telegram gives updates to one getUpdates caller per token
    one_sender = True  # 30 messages a second per token, however many replicas
    overall = Rate(29.5, 1)  # all chats together: evenly spaced, so no second ever holds 31

    def __init__(self, settings: TelegramSettings, commands: Commands):
        from telegram import Bot
        from telegram.request import HTTPXRequest

        from bot.chat import Runner

        assert settings.token
        self.settings = settings
        self.commands = commands
        self.bot = Bot(
            settings.token.get_secret_value(),
            base_url=settings.api_url,
            base_file_url=file_url(settings.api_url),
            # a send that times out may have arrived: generous timeouts keep such doubles rare
            request=HTTPXRequest(
                connection_pool_size=8, connect_timeout=10, read_timeout=30, write_timeout=30
            ),
            get_updates_request=HTTPXRequest(read_timeout=POLL_TIMEOUT + 10),
        )
        self.offset: int | None = None
        self.username = ""
        self.runner = Runner()
        self._failing: str | None = None  # why getUpdates fails, while it does

    async def start(self) -> None:
        """Check the token, register the command menu, and choose webhook or long polling.

        ConfigError when Telegram refuses the token or the webhook (fatal: only the operator can fix
        it); UnreachableError when Telegram cannot be reached now (try again later)."""
        from telegram import BotCommand
        from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter

        from bot.commands import COMMANDS

        try:
            await self.bot.initialize()
            self.username = self.bot.username
            await self.bot.set_my_commands([BotCommand(c.name, c.described()) for c in COMMANDS])
            if self.settings.webhook_url:
                url = self.settings.webhook_url.rstrip("/") + WEBHOOK_PATH
                await self.bot.set_webhook(url, secret_token=self.settings.webhook_secret_value())
            else:
                await self.bot.delete_webhook()
        except InvalidToken:
            raise ConfigError(
                "telegram.token",
                "Telegram refused this token (401 Unauthorized)",
                "Copy it again from @BotFather (/mybots, then API Token); a revoked token no longer works.",
            ) from None
        except (NetworkError, RetryAfter) as error:  # TimedOut is a NetworkError
            host = urlsplit(self.settings.api_url).netloc
            raise UnreachableError(f"cannot reach Telegram at {host} ({self._cause(error)})") from None
        except BadRequest as error:
            if self.settings.webhook_url:
                raise ConfigError("telegram.webhook_url", f"Telegram refused it: {error.message}") from None
            raise

    def _cause(self, error: TelegramError) -> str:
        """What went wrong, in the library's words, without the token (some name the URL called)."""
        token = self.settings.token.get_secret_value() if self.settings.token else ""
        return error.message.replace(token, "**********") if token else error.message

    async def close(self) -> None:
        await self.settle()
        await self.bot.shutdown()

    # outgoing: alerts and notices

    async def send(self, address: str, alert: Alert) -> Receipt:
        from telegram.error import BadRequest

        from bot.commands import Reply

        text, buttons = render_alert(alert)
        markup = _markup(Reply(text, buttons))
        try:
            return await self._send(address, text, "HTML", markup)
        except BadRequest as error:  # better plain than not at all
            log.warning("Telegram refused an alert's HTML (%s); sending it as plain text", error.message)
            return await self._send(address, plain(text), None, markup)

    async def edit(self, address: str, message_id: str, alert: Alert) -> Receipt:
        from bot.commands import Reply

        text, buttons = render_alert(alert)
        chat_id, _thread = split_address(address)
        markup = _markup(Reply(text, buttons))
        return await self._edit(chat_id, message_id, text, markup)

    async def send_digest(self, address: str, alerts: list[Alert], heading: str | None = None) -> Receipt:
        texts = render_digest(alerts, heading)
        receipts = [await self._send(address, text, "HTML", None) for text in texts]
        return receipts[0]

    async def edit_digest(self, address: str, message_id: str, alerts: list[Alert], heading: str) -> Receipt:
        chat_id, _thread = split_address(address)
        return await self._edit(chat_id, message_id, render_digest(alerts, heading)[0], None)

    async def _edit(
        self, chat_id: int | str, message_id: str, text: str, markup: InlineKeyboardMarkup | None
    ) -> Receipt:
        """Replace a message's text; one that can no longer be edited is left as it was."""
        from telegram.error import BadRequest

        edit = self.bot.edit_message_text(
            text, chat_id, int(message_id), parse_mode="HTML", reply_markup=markup
        )
        try:
            await self._translated(edit)
        except BadRequest as error:
            if not any(gone in error.message.lower() for gone in _UNEDITABLE):
                raise
        return Receipt(message_id)

    def per_chat(self, address: str) -> Rate:
        """A private chat takes a message a second; a group (negative id) 20 a minute."""
        chat, _thread = split_address(address)
        return Rate(1.0) if isinstance(chat, int) and chat > 0 else Rate(20 / 60)

    async def send_notice(self, address: str, text: str) -> Receipt:
        return await self._send(address, clip(f"newsalert: {text}", LIMIT, units), None, None)

    async def _send(
        self, address: str, text: str, parse_mode: str | None, markup: InlineKeyboardMarkup | None
    ) -> Receipt:
        chat_id, thread = split_address(address)
        send = self.bot.send_message(
            chat_id, text, parse_mode=parse_mode, message_thread_id=thread, reply_markup=markup
        )
        message = await self._translated(send)
        return Receipt(str(message.message_id))

    async def _translated(self, call: Awaitable[T]) -> T:
        """The API call, with Telegram's errors as delivery.py's."""
        from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter

        try:
            return await call
        except RetryAfter as error:
            raise TransientDeliveryError("Telegram asked to slow down", _retry_after(error)) from None
        except ChatMigrated as error:
            raise AddressMovedError(str(error.new_chat_id)) from None
        except Forbidden as error:
            raise PermanentDeliveryError(f"Telegram refused: {error.message}") from None
        except BadRequest as error:
            if any(gone in error.message.lower() for gone in _GONE):
                raise PermanentDeliveryError(f"Telegram refused: {error.message}") from None
            raise  # our message was wrong: a bug, retried with backoff and logged by delivery
        except NetworkError as error:
            raise TransientDeliveryError(f"Telegram unreachable: {type(error).__name__}") from None

    # incoming: commands and button presses

    async def poll_updates(self, timeout: int = 0) -> int:
        """One getUpdates call, each update handled in order; returns how many there were."""
        updates = await self.bot.get_updates(
            offset=self.offset, timeout=timeout, allowed_updates=["message", "callback_query"]
        )
        for update in updates:
            self.offset = update.update_id + 1
            await self.handle(update)
        return len(updates)

    async def listen(self, stop: asyncio.Event) -> None:
        """Long polling until stop is set (none in webhook mode); a failure waits and tries again,
        doubling to a minute."""
        if self.settings.webhook_url:
            return
        delay = 1.0
        while not stop.is_set():
            try:
                await self.poll_updates(POLL_TIMEOUT)
                delay, self._failing = 1.0, None
            except Exception as error:
                self._failing = f"telegram: getUpdates fails ({type(error).__name__})"
                log.warning("telegram getUpdates failed (%s); again in %.0f s", type(error).__name__, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                delay = min(delay * 2, 60.0)

    def admin_addresses(self) -> list[str]:
        return [str(user) for user in self.settings.admins]  # a private chat's id is its user's id

    def problem(self) -> str | None:
        return self._failing

    def routes(self) -> list[web.RouteDef]:
        """The webhook on http.port, in webhook mode; it answers only calls carrying our secret."""
        if not self.settings.webhook_url:
            return []
        from aiohttp import web

        secret = self.settings.webhook_secret_value()

        async def webhook(request: web.Request) -> web.Response:
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
            # the secret is ASCII (A-Z, a-z, 0-9, _ and -): other bytes cannot be it
            if not (given.isascii() and hmac.compare_digest(given, secret)):
                return web.Response(status=401, text="wrong secret token")
            update = read_update(await request.read(), self.bot)
            if update is None:
                log.warning("refused a call to %s: not an update", WEBHOOK_PATH)
                return web.Response(status=400, text="not an update")
            await self.handle(update)  # never raises: Telegram would resend a failing update forever
            return web.Response(text="ok")

        return [web.post(WEBHOOK_PATH, webhook)]

    async def handle(self, update: Update) -> None:
        """One update; never raises (a failure is logged and the chat told), so that a webhook update
        is not sent again and again. A slow command (a backtest, finding a feed) is answered later, by
        the runner."""
        await self._guarded(update, self._route(update))

    async def _route(self, update: Update) -> None:
        from bot.commands import Reply, is_command, is_slow, split_command

        message = update.message
        if message and message.migrate_to_chat_id:  # the group became a supergroup
            await self.commands.chat_moved(self.name, str(message.chat.id), str(message.migrate_to_chat_id))
        elif update.callback_query:
            await self._pressed(update)
        elif message and message.document and split_command(message.caption or "")[0] == "import":
            await self._import(update)
        elif message and message.text and message.text.startswith("/"):
            name, argument = split_command(message.text)
            head = message.text.split(maxsplit=1)[0]
            addressed = "@" in head
            if addressed and head.split("@", 1)[1].lower() != self.username.lower():
                return  # a command for another bot in the same group
            if not addressed and message.chat.type != PRIVATE and not is_command(name):
                return  # in a group, an unknown command without our name is another bot's
            if is_slow(name):
                self.runner.later(self._guarded(update, self._command(update, name, argument)))
            else:
                await self._command(update, name, argument)
        elif message and message.text and message.chat.type == PRIVATE:
            await self._reply(str(message.chat.id), Reply("Send /help to see what I can do."))

    async def settle(self) -> None:
        """Wait for the answers still being worked on (slow commands)."""
        await self.runner.settle()

    async def _guarded(self, update: Update, work: Awaitable[None]) -> None:
        """Run it; on a failure, log it and tell the user in one sentence rather than say nothing."""
        from bot.chat import SORRY

        try:
            await work
        except Exception:
            log.exception("telegram update %s could not be answered", update.update_id)
            with contextlib.suppress(Exception):
                if update.callback_query:
                    await update.callback_query.answer(SORRY)
                elif update.effective_chat:
                    thread = update.effective_message.message_thread_id if update.effective_message else None
                    await self.bot.send_message(update.effective_chat.id, SORRY, message_thread_id=thread)

    async def _command(self, update: Update, name: str, argument: str) -> None:
        chat = await self._chat(update)
        await self._reply(chat.address, await self.commands.run(chat, name, argument))

    async def _import(self, update: Update) -> None:
        """An OPML file sent as a document captioned /import; downloaded only for an admin."""
        document = update.effective_message.document if update.effective_message else None
        assert document
        chat = await self._chat(update)

        async def read() -> bytes:
            if (document.file_size or 0) > MAX_OPML:
                raise OpmlError(f"the file is over {MAX_OPML // 1_000_000} MB; no feed list is that long")
            # Specs: https://core.telegram.org/bots/api#getfile
            file = await self.bot.get_file(document.file_id)
            return bytes(await file.download_as_bytearray())

        await self._reply(chat.address, await self.commands.import_opml(chat, read))

    async def _pressed(self, update: Update) -> None:
        from telegram import Message
        from telegram.error import BadRequest

        from bot.chat import decode_button

        query = update.callback_query
        assert query
        refresh, name, argument = decode_button(query.data or "")
        chat = await self._chat(update)
        reply = await self.commands.run(chat, name, argument)
        await query.answer(clip(reply.text, 200, units))
        if reply.refused:  # the asker alone is told, by the answer above; the chat sees nothing change
            return
        if refresh and isinstance(query.message, Message):
            again = await self.commands.run(chat, refresh, "")
            try:
                await query.message.edit_text(clip(again.text, LIMIT, units), reply_markup=_markup(again))
            except BadRequest as error:  # nothing changed: nothing to update
                if "not modified" not in error.message:
                    raise
        else:
            await self._reply(chat.address, reply)

    async def _reply(self, address: str, reply: Reply) -> None:
        chat_id, thread = split_address(address)
        if reply.attachment:
            # Specs: https://core.telegram.org/bots/api#senddocument (a caption: at most 1,024 characters)
            await self.bot.send_document(
                chat_id,
                reply.attachment.data,
                filename=reply.attachment.filename,
                caption=clip(reply.text, 1024, units),
                message_thread_id=thread,
            )
            return
        await self.bot.send_message(
            chat_id,
            clip(reply.text, LIMIT, units),
            message_thread_id=thread,
            reply_markup=_markup(reply),
        )

    async def _chat(self, update: Update) -> Chat:
        """Where the update came from and what its sender may do there."""
        from bot.commands import Chat

        chat = update.effective_chat
        user = update.effective_user
        message = update.effective_message
        assert chat
        address = str(chat.id)
        if message and message.is_topic_message and message.message_thread_id:
            address += f":{message.message_thread_id}"
        user_id = user.id if user else 0
        allowed = not self.settings.allowed_users or user_id in self.settings.allowed_users
        if chat.type == PRIVATE:
            may_edit = True
        elif message and message.sender_chat and message.sender_chat.id == chat.id:
            may_edit = True  # an anonymous admin writing as the group
        else:
            member = await self.bot.get_chat_member(chat.id, user_id)
            may_edit = member.status in ADMINS
        return Chat(
            channel=self.name,
            address=address,
            name=chat.title or chat.username or chat.full_name or address,
            user=str(user_id),
            may_edit=may_edit,
            is_admin=user_id in self.settings.admins,
            allowed=allowed,
            files=True,
            private=chat.type == PRIVATE,
        )
