"""Telegram: alerts in HTML parse mode, and the bot commands, translated to and from commands.py.

A pure render first (render_alert), then a thin adapter over python-telegram-bot's Bot: API calls,
updates in (long polling or webhook), errors translated for delivery.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import json
import logging
import os
import re
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot.channels import base
from bot.commands import COMMANDS, Button, Chat, Commands, Reply, is_command, is_slow, split_command
from bot.config import TelegramSettings
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

# PTB 22 warns on every 429 while it moves durations from int to timedelta, unless opted in early
os.environ.setdefault("PTB_TIMEDELTA", "true")
log = logging.getLogger(__name__)

LIMIT = 4096  # characters (UTF-16 code units) of a message, after its HTML is parsed
MAX_RULES_SHOWN = 5
MAX_TITLE = 250  # these keep one rule's alert far under LIMIT, whatever the feed says
MAX_QUOTE = 400
MAX_RULE = 150
POLL_TIMEOUT = 30  # seconds a getUpdates call waits for news
SORRY = "Sorry, something went wrong on my side; it has been logged. Please try again later."
WEBHOOK_PATH = "/telegram/webhook"  # on http.port
MAX_OPML = 1_000_000  # bytes of an OPML file sent with /import; a list of thousands of feeds fits
ADMINS = {ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR}
# BadRequest descriptions that mean the chat or topic is gone, not that the message was wrong
_GONE = ("chat not found", "thread not found", "topic_deleted", "topic_closed", "not enough rights")
# ... and those that mean an alert can no longer be edited: it stays as it was
_UNEDITABLE = ("message is not modified", "message to edit not found", "message can't be edited")

# what python-telegram-bot raises building an Update from JSON not shaped as the Bot API's; a date
# past what the platform's clock functions take gives OverflowError or OSError
NOT_AN_UPDATE = (TypeError, ValueError, KeyError, AttributeError, OverflowError, OSError)

Keyboard = tuple[tuple[Button, ...], ...]
T = TypeVar("T")


# --- render: pure ------------------------------------------------------------------------------


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def plain(markup: str) -> str:
    """An HTML message as the text Telegram shows."""
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def visible_length(markup: str) -> int:
    return units(plain(markup))


def clip(text: str, limit: int) -> str:
    """At most `limit` UTF-16 units, as Telegram counts them (see base.clip)."""
    return base.clip(text, limit, units)


def _quote_html(quote: Quote, limit: int) -> str:
    text = clip(quote.text, limit)
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
    rule = html.escape(clip(match.rule, MAX_RULE))
    quote = _quote_html(base.nested(match.quote), MAX_QUOTE)
    return f"\n\n<i>Rule {match.rule_id}: {rule}</i>\n\u201c{quote}\u201d"


def _linked_title(alert: Alert) -> str:
    """The title, escaped, linked to the story when its link is a web address."""
    title = html.escape(clip(alert.title or alert.link, MAX_TITLE))
    link = alert.link if alert.link.startswith(("http://", "https://")) else ""
    return f'<a href="{html.escape(link)}">{title}</a>' if link else title


def render_alert(alert: Alert) -> tuple[str, Keyboard]:
    """The alert as Telegram HTML (never over LIMIT, every feed string escaped) and its buttons."""
    head = f"<b>{_linked_title(alert)}</b>"
    when = alert.published_at.strftime("%d %b %Y %H:%M UTC")
    head += f"\n{html.escape(clip(alert.feed_name, MAX_TITLE))} \u00b7 {when}"
    if alert.also_in:
        head += f"\nAlso in: {html.escape(clip(', '.join(alert.also_in), MAX_TITLE))}"
    shown = list(alert.matches[:MAX_RULES_SHOWN])
    while True:  # as many rules as fit, the summary keeping some room
        tail = "".join(_why(m) for m in shown)
        if len(alert.matches) > len(shown):
            tail += f"\n\n(and {len(alert.matches) - len(shown)} more of your rules)"
        room = LIMIT - visible_length(head + tail) - 2
        if room > 200 or len(shown) == 1:
            break
        shown.pop()
    summary = html.escape(clip(alert.summary, room)) if alert.summary and room > 20 else ""
    text = head + (f"\n\n{summary}" if summary else "") + tail
    one = len(shown) == 1
    buttons = tuple(
        (
            Button("Mute this rule" if one else f"Mute rule {m.rule_id}", f"pause {m.rule_id}"),
            Button("Unwatch" if one else f"Unwatch {m.rule_id}", f"unwatch {m.rule_id}"),
        )
        for m in shown[:3]
    )
    return text, buttons


def render_digest(alerts: list[Alert], heading: str | None = None) -> list[str]:
    """Several alerts as few messages: a linked title, its source and the rules that matched, each;
    a new message wherever the next story would pass LIMIT."""
    heading = f"<b>{html.escape(clip(heading or f'{len(alerts)} new stories', MAX_TITLE))}</b>"
    messages, current = [], heading
    for alert in alerts:
        line = _linked_title(alert)
        rules = ", ".join(html.escape(clip(m.rule, MAX_RULE)) for m in alert.matches[:MAX_RULES_SHOWN])
        entry = (
            f"\n\n\u2022 <b>{line}</b>\n{html.escape(clip(alert.feed_name, MAX_TITLE))} \u00b7 <i>{rules}</i>"
        )
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
    """Buttons; each carries its action, and the command to re-show in place after it ("rules>pause 3")."""
    if not reply.buttons:
        return None
    mark = f"{reply.refresh}>" if reply.refresh else ""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label, callback_data=f"{mark}{b.action}"[:64]) for b in row]
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
        self._later: set[asyncio.Task[None]] = set()
        self._failing: str | None = None  # why getUpdates fails, while it does

    async def start(self) -> None:
        """Check the token, register the command menu, and choose webhook or long polling.

        ConfigError when Telegram refuses the token or the webhook (fatal: only the operator can fix
        it); UnreachableError when Telegram cannot be reached now (try again later)."""
        try:
            await self.bot.initialize()
            self.username = self.bot.username
            await self.bot.set_my_commands([BotCommand(c.name, c.summary) for c in COMMANDS])
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
        text, buttons = render_alert(alert)
        markup = _markup(Reply(text, buttons))
        try:
            return await self._send(address, text, ParseMode.HTML, markup)
        except BadRequest as error:  # better plain than not at all
            log.warning("Telegram refused an alert's HTML (%s); sending it as plain text", error.message)
            return await self._send(address, plain(text), None, markup)

    async def edit(self, address: str, message_id: str, alert: Alert) -> Receipt:
        text, buttons = render_alert(alert)
        chat_id, _thread = split_address(address)
        markup = _markup(Reply(text, buttons))
        return await self._edit(chat_id, message_id, text, markup)

    async def send_digest(self, address: str, alerts: list[Alert], heading: str | None = None) -> Receipt:
        texts = render_digest(alerts, heading)
        receipts = [await self._send(address, text, ParseMode.HTML, None) for text in texts]
        return receipts[0]

    async def edit_digest(self, address: str, message_id: str, alerts: list[Alert], heading: str) -> Receipt:
        chat_id, _thread = split_address(address)
        return await self._edit(chat_id, message_id, render_digest(alerts, heading)[0], None)

    async def _edit(
        self, chat_id: int | str, message_id: str, text: str, markup: InlineKeyboardMarkup | None
    ) -> Receipt:
        """Replace a message's text; one that can no longer be edited is left as it was."""
        edit = self.bot.edit_message_text(
            text, chat_id, int(message_id), parse_mode=ParseMode.HTML, reply_markup=markup
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
        return await self._send(address, clip(f"newsalert: {text}", LIMIT), None, None)

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
        is not sent again and again. A slow command (a backtest, finding a feed) is answered by a task
        of its own, so that one chat's backtest holds up no other chat."""
        await self._guarded(update, self._route(update))

    async def _route(self, update: Update) -> None:
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
            if not addressed and message.chat.type != ChatType.PRIVATE and not is_command(name):
                return  # in a group, an unknown command without our name is another bot's
            if is_slow(name):
                task = asyncio.create_task(self._guarded(update, self._command(update, name, argument)))
                self._later.add(task)
                task.add_done_callback(self._later.discard)
            else:
                await self._command(update, name, argument)
        elif message and message.text and message.chat.type == ChatType.PRIVATE:
            await self._reply(str(message.chat.id), Reply("Send /help to see what I can do."))

    async def settle(self) -> None:
        """Wait for the answers still being worked on (slow commands)."""
        while self._later:
            await asyncio.gather(*self._later, return_exceptions=True)

    async def _guarded(self, update: Update, work: Awaitable[None]) -> None:
        """Run it; on a failure, log it and tell the user in one sentence rather than say nothing."""
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
        query = update.callback_query
        assert query
        refresh, _, action = (query.data or "").rpartition(">")
        name, argument = split_command(action)
        chat = await self._chat(update)
        reply = await self.commands.run(chat, name, argument)
        await query.answer(clip(reply.text, 200))
        if reply.refused:  # the asker alone is told, by the answer above; the chat sees nothing change
            return
        if refresh and isinstance(query.message, Message):
            again = await self.commands.run(chat, refresh, "")
            try:
                await query.message.edit_text(clip(again.text, LIMIT), reply_markup=_markup(again))
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
                caption=clip(reply.text, 1024),
                message_thread_id=thread,
            )
            return
        await self.bot.send_message(
            chat_id,
            clip(reply.text, LIMIT),
            message_thread_id=thread,
            reply_markup=_markup(reply),
        )

    async def _chat(self, update: Update) -> Chat:
        """Where the update came from and what its sender may do there."""
        chat = update.effective_chat
        user = update.effective_user
        message = update.effective_message
        assert chat
        address = str(chat.id)
        if message and message.is_topic_message and message.message_thread_id:
            address += f":{message.message_thread_id}"
        user_id = user.id if user else 0
        allowed = not self.settings.allowed_users or user_id in self.settings.allowed_users
        if chat.type == ChatType.PRIVATE:
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
            private=chat.type == ChatType.PRIVATE,
        )
