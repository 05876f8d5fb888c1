"""Slack: Block Kit alerts, and the slash command and buttons, translated to and from commands.py.

Its settings (`slack:`) first, then a pure render (render_blocks), then a thin adapter over
slack-bolt's AsyncApp: signed requests in on http.port (or Socket Mode), Web API calls out, errors
translated for delivery.py. The libraries are imported where the adapter uses them: config.py reads
the settings here, and `newsalert check` must not load them for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, quote, urlsplit

from pydantic import SecretStr, field_validator, model_validator

from bot.channels.base import NameList, Parts, Section, Spec, clip, no_padding
from bot.domain import Alert, Clock, Quote, Receipt
from bot.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError, UnreachableError
from bot.pacing import Rate

if TYPE_CHECKING:
    from aiohttp import web
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    from bot.commands import Button, Chat, Commands, Reply

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_SECTION = 2900  # a section's text may have 3,000 characters
MAX_RULES_SHOWN = 5
MAX_BUTTON_ROWS = 45  # a message may have 50 blocks
DIGEST_PER_MESSAGE = 40
MAX_AGE = 300  # seconds: an older signed request is refused (Slack's five minutes)
SECONDS = re.compile(r"[0-9]{1,12}")  # a timestamp: ASCII digits, few enough for int() to take them
SURROGATE = re.compile("[\ud800-\udfff]")  # JSON's "\\ud800" makes a string that no UTF-8 can carry
# a slash command's fields we read; Slack sends more
COMMAND_FIELDS = ("command", "text", "channel_id", "channel_name", "user_id", "response_url")
# errors that mean the channel is gone for us: stop sending there
GONE = {"channel_not_found", "not_in_channel", "is_archived"}
# errors that mean our token no longer works: every channel at once, until the operator fixes it.
# Retried (hourly) rather than unsubscribing every channel over one revoked token.
LOCKED_OUT = {"invalid_auth", "account_inactive", "token_revoked", "not_authed"}
LOCKED_OUT_RETRY = 3600.0
BAD_MESSAGE = {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "invalid_arguments",
               "message_not_found", "cant_update_message", "edit_window_closed"}  # fmt: skip


# --- settings: `slack:` in the config file -----------------------------------------------------


class SlackSettings(Section):
    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = None
    api_url: str = "https://slack.com/api/"
    command: str = "/newsalert"  # the slash command, as in the app manifest
    admins: NameList = []  # user ids (U...) that may add and remove feeds
    editors: NameList = []  # when set, only these user ids (and admins) change a channel's rules

    @field_validator("bot_token")
    @classmethod
    def _a_bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        token = value.get_secret_value() if value else ""
        if token:
            no_padding(token)
            if token.startswith("xapp-"):
                raise ValueError("an app-level token (xapp-...): it goes in slack.app_token, SLACK_APP_TOKEN")
            if not token.startswith("xox"):
                raise ValueError(
                    "not a Slack bot token; copy the Bot User OAuth Token (xoxb-...) from your app's "
                    "OAuth & Permissions page"
                )
        return value

    @field_validator("app_token")
    @classmethod
    def _an_app_token(cls, value: SecretStr | None) -> SecretStr | None:
        token = value.get_secret_value() if value else ""
        if token:
            no_padding(token)
            if not token.startswith("xapp-"):
                raise ValueError(
                    "not an app-level token; create one (xapp-...) under your app's Basic Information, "
                    "with the connections:write scope"
                )
        return value

    @model_validator(mode="after")
    def _http_mode_needs_signing(self) -> SlackSettings:
        if self.bot_token and not self.app_token and not self.signing_secret:
            raise ValueError("signing_secret is required when Slack runs in HTTP mode (no app_token)")
        return self


def build(settings: SlackSettings, parts: Parts) -> SlackChannel | None:
    return SlackChannel(settings, parts.commands, parts.clock, parts.store) if settings.bot_token else None


SPEC = Spec(
    "slack",
    build,
    SlackSettings,
    {
        "SLACK_BOT_TOKEN": ("bot_token",),
        "SLACK_SIGNING_SECRET": ("signing_secret",),
        "SLACK_APP_TOKEN": ("app_token",),
        "NEWSALERT_SLACK_API_URL": ("api_url",),
        "NEWSALERT_SLACK_ADMINS": ("admins",),
        "NEWSALERT_SLACK_EDITORS": ("editors",),
    },
    admins=lambda settings: settings.admins,
)


# --- render: pure ------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Text for mrkdwn: the three characters Slack reserves, escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Text from a feed (or a chat) never goes into mrkdwn, where Slack offers no escape for *, _, ~ and `
# (only for &, < and >: api.slack.com/reference/surfaces/formatting#escaping): a title would turn
# bold or struck through. It goes into plain_text, or into rich_text elements, whose text is shown as
# it is and whose bold is a style (api.slack.com/reference/block-kit/blocks#rich_text).


def _text(text: str, **style: bool) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "text", "text": text}
    return {**element, "style": style} if style else element


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": False}  # ":fire:" in a feed stays as it is


def _rich(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"type": "rich_text", "elements": list(parts)}


def _section(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "rich_text_section", "elements": [e for e in elements if e.get("text") != ""]}


def _quote_elements(quote: Quote, room: int) -> list[dict[str, Any]]:
    """The quote as rich text, its matched words in bold, in at most `room` characters."""
    whole = quote.text.replace("\n", " ")
    text = clip(whole, room)
    kept = len(text) if text == whole else len(text) - 1  # the ellipsis is not the quote's
    out, at = [], 0
    for start, end in quote.spans:
        if end > kept:
            break
        out += [_text(text[at:start]), _text(text[start:end], bold=True)]
        at = end
    out.append(_text(text[at:]))
    return [e for e in out if e["text"]]


def _link(url: str) -> str:
    """A URL as Slack takes it: spaces, |, < and > percent-encoded."""
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~")


def _title(alert: Alert, title: str) -> dict[str, Any]:
    """The title in bold, linked to the story when its link is a web address of a sane length."""
    link = _link(alert.link)
    if alert.link.startswith(("http://", "https://")) and len(link) < 1500:
        return {"type": "link", "url": link, "text": title or link, "style": {"bold": True}}
    return _text(title or "(untitled)", bold=True)


def render_blocks(alert: Alert) -> tuple[str, list[dict[str, Any]]]:
    """The alert as Block Kit, and the plain text Slack shows in notifications."""
    title = clip(alert.title or alert.link, 300)
    stamp = int(alert.published_at.timestamp())
    when = alert.published_at.strftime("%d %b %Y %H:%M UTC")
    date = f"\u00b7 <!date^{stamp}^{{date_short_pretty}} {{time}}|{when}>"  # in each reader's time zone
    source = [_plain(clip(alert.feed_name, 200) or "?"), {"type": "mrkdwn", "text": date}]
    if alert.also_in:
        source.append(_plain(f"\u00b7 also in {clip(', '.join(alert.also_in), 300)}"))
    blocks: list[dict[str, Any]] = [
        _rich(_section(_title(alert, title))),
        {"type": "context", "elements": source},
    ]
    if alert.summary:
        blocks.append({"type": "section", "text": _plain(clip(alert.summary, MAX_SECTION))})
    shown = alert.matches[:MAX_RULES_SHOWN]
    for match in shown:
        rule = _section(_text(f"Rule {match.rule_id}: {clip(match.rule, 200)}", italic=True))
        quoted = _quote_elements(match.quote, MAX_SECTION)
        blocks.append(_rich(rule, {"type": "rich_text_quote", "elements": quoted}) if quoted else _rich(rule))
    if len(alert.matches) > len(shown):
        more = f"and {len(alert.matches) - len(shown)} more of your rules"
        blocks.append({"type": "context", "elements": [{"type": "plain_text", "text": more}]})
    from bot.chat import alert_actions  # the chat layer loads the store: not for settings alone

    blocks += _actions(alert_actions(alert, shown))
    return escape(clip(f"{title} ({alert.feed_name})", 300)), blocks


def _actions(rows: tuple[tuple[Button, ...], ...], refresh: str | None = None) -> list[dict[str, Any]]:
    """A block of buttons per row, each carrying what bot.chat encodes."""
    from bot.chat import encode_button

    return [
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": f"newsalert-{r}-{i}",
                    "text": {"type": "plain_text", "text": clip(b.label, 75)},
                    "value": encode_button(b.action, refresh),
                }
                for i, b in enumerate(row[:25])
            ],
        }
        for r, row in enumerate(rows[:MAX_BUTTON_ROWS])
    ]


def reply_blocks(reply: Reply) -> list[dict[str, Any]]:
    text = {"type": "section", "text": {"type": "plain_text", "text": clip(reply.text, MAX_SECTION)}}
    return [text, *_actions(reply.buttons, reply.refresh)]


def render_digest(alerts: list[Alert], heading: str | None = None) -> list[tuple[str, list[dict[str, Any]]]]:
    """Several alerts as few messages (text, blocks): a linked title, its source and rules, each."""
    messages = []
    for at in range(0, len(alerts), DIGEST_PER_MESSAGE):
        part = alerts[at : at + DIGEST_PER_MESSAGE]
        text = clip(heading or f"{len(alerts)} new stories", 300) + (" (continued)" if at else "")
        blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "plain_text", "text": text}}]
        for alert in part:
            title = _title(alert, clip(alert.title or alert.link, 300))
            rules = clip(", ".join(m.rule for m in alert.matches[:MAX_RULES_SHOWN]), 300)
            source = _text(f"\n{clip(alert.feed_name, 200)} \u00b7 ")
            blocks.append(_rich(_section(title, source, _text(rules, italic=True))))
        messages.append((text, blocks))
    return messages


# --- requests in: pure ------------------------------------------------------------------------


def signature_problem(secret: str, timestamp: str, signature: str, body: bytes, now: float) -> str | None:
    """Why a request did not come from Slack (v0 signature, five minutes), or None when it did.
    Specs: https://api.slack.com/authentication/verifying-requests-from-slack"""
    if not SECONDS.fullmatch(timestamp) or abs(now - int(timestamp)) > MAX_AGE:
        return "timestamp missing or more than five minutes off"
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not signature.isascii() or not hmac.compare_digest(expected, signature):
        return "signature does not match"
    return None


def slack_payload(body: bytes) -> dict[str, Any] | None:
    """A signed body, if it is one of the two things Slack posts to us: a slash command (a form), or
    a button press (a form whose `payload` field is JSON). Only the fields we read are kept, each
    checked to be what Slack sends; None for anything else.
    Specs: https://api.slack.com/interactivity/slash-commands#app_command_handling
    and https://api.slack.com/reference/interaction-payloads/block-actions"""
    try:
        form = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True))
        return _button_press(json.loads(form["payload"])) if "payload" in form else _command(form)
    except (ValueError, RecursionError):  # not UTF-8, not a form, not JSON, or JSON nested too deep
        return None


def _command(form: dict[str, str]) -> dict[str, Any] | None:
    needed = {"command", "channel_id", "user_id"}
    if not needed <= form.keys() or not _is_web_address(form.get("response_url")):
        return None
    return {name: form[name] for name in COMMAND_FIELDS if name in form}


def _button_press(payload: Any) -> dict[str, Any] | None:
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return None
    actions = payload.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    action = _strings(first, ("action_id",), ("value",))
    user = _strings(payload.get("user"), ("id",))
    channel = _strings(payload.get("channel") or {}, (), ("id", "name"))
    url = payload.get("response_url")
    if action is None or user is None or channel is None or not _is_web_address(url):
        return None
    return {
        "type": "block_actions",
        "actions": [action],
        "user": user,
        "channel": channel,
        "response_url": url,
    }


def _is_web_address(url: Any) -> bool:
    """Where an answer may be posted (a response_url): Slack's are https, a test's may be http."""
    if not isinstance(url, str):
        return False
    where = urlsplit(url)  # ValueError when it cannot be one
    return where.scheme in ("http", "https") and bool(where.hostname)


def _strings(value: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, str] | None:
    """These fields of a JSON object, when the required ones are there and each is text."""
    if not isinstance(value, dict) or not all(name in value for name in required):
        return None
    kept = {name: value[name] for name in required + optional if name in value}
    return kept if all(isinstance(v, str) and not SURROGATE.search(v) for v in kept.values()) else None


# --- adapter -----------------------------------------------------------------------------------


class _SameToken(logging.Filter):
    """Bolt warns, when SLACK_BOT_TOKEN is set, that the client's token wins over it: they are the same
    token (ours is read from that variable), so there is nothing to warn about."""

    def filter(self, record: logging.LogRecord) -> bool:
        from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

        return record.getMessage() != warning_client_prioritized_and_token_skipped()


SAME_TOKEN = _SameToken()


class Signatures(Protocol):
    """Where signed requests are kept while they could be replayed: the database, which every replica
    shares and a restart keeps."""

    async def first_sight(self, signature: str, expires_at: datetime, now: datetime) -> bool: ...


class SlackChannel:
    name = "slack"
    exclusive_listen = False  # Socket Mode takes several connections; HTTP mode is stateless
    one_sender = True  # a message a second per channel, whichever replica sends it
    overall = None

    def __init__(self, settings: SlackSettings, commands: Commands, clock: Clock, signatures: Signatures):
        import aiohttp
        from slack_bolt.async_app import AsyncApp
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.chat import Runner

        assert settings.bot_token
        self.settings = settings
        self.commands = commands
        self.clock = clock
        self.signatures = signatures
        self.session = aiohttp.ClientSession()
        logging.getLogger("slack_bolt.AsyncApp").addFilter(SAME_TOKEN)  # added once, however many apps
        self.client = AsyncWebClient(
            settings.bot_token.get_secret_value(), base_url=settings.api_url, session=self.session
        )
        self.bolt = AsyncApp(
            client=self.client,
            request_verification_enabled=False,  # done before bolt sees a request, with replay refusal
            process_before_response=True,  # answers are ready when the request returns; slow ones go later
            raise_error_for_unhandled_request=False,
        )
        self.bolt.command(settings.command)(self._slash)
        self.bolt.action(re.compile(r"^newsalert-"))(self._pressed)
        self.runner = Runner()
        self._socket: AsyncSocketModeHandler | None = None

    async def start(self) -> None:
        """Check the bot token. ConfigError when Slack refuses it (fatal: only the operator can fix it);
        UnreachableError when Slack cannot be reached now (try again later)."""
        import aiohttp
        from slack_sdk.errors import SlackApiError

        host = urlsplit(self.settings.api_url).netloc
        try:
            await self.client.auth_test()
        except SlackApiError as error:
            code = error.response.get("error")
            if code in LOCKED_OUT:
                raise ConfigError(
                    "slack.bot_token",
                    f"Slack refused this token ({code})",
                    "Copy the Bot User OAuth Token (xoxb-...) again from your app's OAuth & Permissions "
                    "page; reinstall the app to the workspace if it was removed.",
                ) from None
            raise UnreachableError(
                f"Slack at {host} answered {code} (HTTP {error.response.status_code})"
            ) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise UnreachableError(
                f"cannot reach Slack at {host} ({type(error).__name__}: {error})"
            ) from None

    async def close(self) -> None:
        await self.settle()
        await self.session.close()

    async def settle(self) -> None:
        """Wait for the answers still being worked on (slow commands)."""
        await self.runner.settle()

    # outgoing: alerts and notices

    async def send(self, address: str, alert: Alert) -> Receipt:
        text, blocks = render_blocks(alert)
        try:
            return await self._post(address, text=text, blocks=blocks, unfurl_links=False, mrkdwn=False)
        except _BadMessage as error:  # better plain than not at all
            log.warning("Slack refused an alert's blocks (%s); sending it as plain text", error)
            plain = f"{text}\n{escape(alert.link)}\n\n{escape(alert.summary)}".strip()
            return await self._post(address, text=plain, mrkdwn=False)  # its * and _ shown as they are

    async def edit(self, address: str, message_id: str, alert: Alert) -> Receipt:
        text, blocks = render_blocks(alert)
        with contextlib.suppress(_BadMessage):  # the alert as it was is still right, only without the news
            await self._translated(
                self.client.chat_update(channel=address, ts=message_id, text=text, blocks=blocks)
            )
        return Receipt(message_id)

    async def send_digest(self, address: str, alerts: list[Alert], heading: str | None = None) -> Receipt:
        receipts = [
            await self._post(address, text=escape(text), blocks=blocks, unfurl_links=False, mrkdwn=False)
            for text, blocks in render_digest(alerts, heading)
        ]
        return receipts[0]

    async def edit_digest(self, address: str, message_id: str, alerts: list[Alert], heading: str) -> Receipt:
        text, blocks = render_digest(alerts, heading)[0]
        with contextlib.suppress(_BadMessage):
            await self._translated(
                self.client.chat_update(channel=address, ts=message_id, text=escape(text), blocks=blocks)
            )
        return Receipt(message_id)

    def per_chat(self, address: str) -> Rate:
        return Rate(1.0)  # a message a second per channel

    async def send_notice(self, address: str, text: str) -> Receipt:
        return await self._post(address, text=escape(f"newsalert: {text}"))  # a feed's name: no <!channel>

    async def _post(self, channel: str, **message: Any) -> Receipt:
        response = await self._translated(self.client.chat_postMessage(channel=channel, **message))
        return Receipt(str(response["ts"]))

    async def _translated(self, call: Awaitable[Any]) -> Any:
        """The Web API call, with Slack's errors as delivery.py's."""
        import aiohttp
        from slack_sdk.errors import SlackApiError

        try:
            return await call
        except SlackApiError as error:
            code = str(error.response.get("error"))
            if error.response.status_code == 429 or code == "ratelimited":
                wait = {k.lower(): v for k, v in error.response.headers.items()}.get("retry-after", "1")
                raise TransientDeliveryError("Slack asked to slow down", float(wait)) from None
            if code in GONE:
                raise PermanentDeliveryError(f"Slack refused: {code}") from None
            if code in LOCKED_OUT:
                log.error("Slack refuses newsalert's token (%s): set a working slack.bot_token", code)
                raise TransientDeliveryError(f"Slack refused the token: {code}", LOCKED_OUT_RETRY) from None
            if code in BAD_MESSAGE:
                raise _BadMessage(code) from None
            raise TransientDeliveryError(f"Slack error: {code}") from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TransientDeliveryError(f"Slack unreachable: {type(error).__name__}") from None

    # incoming: the slash command and button presses

    def admin_addresses(self) -> list[str]:
        return []  # a Slack admin's DM with the bot has an id of its own: not known here

    def problem(self) -> str | None:
        session = self._socket.client.current_session if self._socket else None
        if self._socket and (session is None or session.closed):
            return "slack: the Socket Mode connection is down"
        return None

    def routes(self) -> list[web.RouteDef]:
        """Slack's requests in HTTP mode (none in Socket Mode): signed, fresh and new, or 401; then a
        slash command or a button press, or 400."""
        if self.settings.app_token:
            return []
        from aiohttp import web

        return [web.post(EVENTS_PATH, self._events)]

    async def _events(self, request: web.Request) -> web.Response:
        from aiohttp import web
        from slack_bolt.adapter.aiohttp import to_aiohttp_response
        from slack_bolt.request.async_request import AsyncBoltRequest

        body = await request.read()
        problem = await self._refusal(request.headers, body)
        if problem:
            log.warning("refused a request to %s: %s", EVENTS_PATH, problem)
            return web.Response(status=401, text="refused")
        payload = slack_payload(body)
        if payload is None:
            log.warning("refused a signed request to %s: not a slash command or button press", EVENTS_PATH)
            return web.Response(status=400, text="not a slash command or button press")
        # bolt reads the checked fields as JSON: reading a form itself, it guesses from the text, and
        # drops a command whose text says "payload"
        as_json = {"content-type": "application/json"}
        bolt_request = AsyncBoltRequest(body=json.dumps(payload), headers=as_json)
        return await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request))

    async def _refusal(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """Why a request is not Slack's, or is Slack's again (a replay, to this replica or another)."""
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        signature = headers.get("X-Slack-Signature", "")
        assert self.settings.signing_secret
        secret = self.settings.signing_secret.get_secret_value()
        now = self.clock.now()
        problem = signature_problem(secret, timestamp, signature, body, now.timestamp())
        if problem:
            return problem
        expires_at = datetime.fromtimestamp(int(timestamp) + MAX_AGE, UTC)  # then the time alone refuses it
        if not await self.signatures.first_sight(signature, expires_at, now):
            return "the same request came twice"
        return None

    async def listen(self, stop: asyncio.Event) -> None:
        """Socket Mode, when an app token is set: commands arrive over Slack's websocket."""
        if not self.settings.app_token:
            return
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        self._socket = AsyncSocketModeHandler(self.bolt, self.settings.app_token.get_secret_value())
        await self._socket.connect_async()
        try:
            await stop.wait()
        finally:
            await self._socket.close_async()

    async def _slash(
        self, ack: Callable[..., Awaitable[None]], command: dict[str, Any], respond: Any
    ) -> None:
        from bot.commands import is_slow, split_command

        name, argument = split_command(command.get("text", ""))
        chat = self._chat(command["channel_id"], command.get("channel_name", ""), command["user_id"])
        if is_slow(name):  # Slack wants an answer within 3 seconds: the real one follows
            await ack(text="Working on it\u2026")
            self.runner.later(self._answer_later(chat, name, argument, respond))
            return
        reply = await self.commands.run(chat, name, argument)
        await ack(text=reply.text, blocks=reply_blocks(reply))

    async def _answer_later(self, chat: Chat, name: str, argument: str, respond: Any) -> None:
        from bot.chat import SORRY
        from bot.commands import Reply

        try:
            reply = await self.commands.run(chat, name, argument)
        except Exception:
            log.exception("answering %s %s failed", self.settings.command, name)
            reply = Reply(SORRY)
        await self._respond(
            respond, name, text=reply.text, blocks=reply_blocks(reply), response_type="ephemeral"
        )

    async def _respond(self, respond: Any, name: str, **answer: Any) -> None:
        """An answer posted to the request's response_url. The request was acknowledged already: an
        answer that cannot be posted is logged."""
        try:
            await respond(**answer)
        except Exception:
            log.exception("the answer to %s %s could not be sent", self.settings.command, name)

    async def _pressed(
        self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        from bot.chat import decode_button
        from bot.commands import Reply

        await ack()
        refresh, name, argument = decode_button(str(action.get("value", "")))
        channel = body.get("channel") or {}
        chat = self._chat(channel.get("id", ""), channel.get("name", ""), body["user"]["id"])
        reply = await self.commands.run(chat, name, argument)
        if refresh and not reply.refused:
            again = await self.commands.run(chat, refresh, "")
            both = Reply(f"{reply.text}\n\n{again.text}", again.buttons, again.refresh)
            await self._respond(
                respond, name, text=both.text, blocks=reply_blocks(both), replace_original=True
            )
        else:
            await self._respond(
                respond, name, text=reply.text, blocks=reply_blocks(reply), response_type="ephemeral",
                replace_original=False,
            )  # fmt: skip

    def _chat(self, channel_id: str, channel_name: str, user: str) -> Chat:
        from bot.commands import Chat

        admin = user in self.settings.admins
        return Chat(
            channel=self.name,
            address=channel_id,
            name=f"#{channel_name}" if channel_name and channel_name != "directmessage" else channel_id,
            user=user,
            may_edit=admin or not self.settings.editors or user in self.settings.editors,
            is_admin=admin,
            prefix=f"{self.settings.command} ",
            private=True,  # Slack shows a slash command, and our answer, only to whoever typed it
        )


class _BadMessage(Exception):
    """Slack refused the message's form (blocks): a bug on our side, sent again as plain text."""
