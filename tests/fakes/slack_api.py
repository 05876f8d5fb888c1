"""A small fake of the Slack Web API on a free loopback port, plus a response_url endpoint, and a
way to send signed requests to our /slack/events as Slack would (slash commands, button presses).

It keeps what the bot posted and what it answered through response_url, checks Block Kit's limits,
and can answer 429 ratelimited with Retry-After, or an error code for a channel.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientSession, web

from bot.web import start_web

BOT_TOKEN = "xoxb-test-token-that-must-never-be-logged"
APP_TOKEN = "xapp-test-app-token-that-must-never-be-logged"
SIGNING_SECRET = "test-signing-secret"


@dataclass
class FakeSlack:
    posted: list[dict[str, Any]] = field(default_factory=list)  # chat.postMessage calls that succeeded
    responses: list[dict[str, Any]] = field(default_factory=list)  # what came to a response_url
    updates: list[dict[str, Any]] = field(default_factory=list)  # chat.update calls that succeeded
    errors: dict[str, str] = field(default_factory=dict)  # channel -> error code for postMessage
    too_many: int = 0  # the next this many postMessage calls get 429
    retry_after: int = 3
    refuse_blocks: bool = False  # every message with blocks gets invalid_blocks
    base_url: str = ""
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _responded: asyncio.Event = field(default_factory=asyncio.Event)
    _socket: web.WebSocketResponse | None = None  # Socket Mode: the bot's connection
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    _acks: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    async def start(self, port: int = 0) -> FakeSlack:
        """Serve on a free port, or on this one (Slack back after an outage: stop(), then start(port))."""
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/respond/{id}", self._respond)
        app.router.add_get("/socket", self._socket_mode)
        self._runner, port = await start_web(app, "127.0.0.1", port)
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._socket:
            await self._socket.close()
        if self._runner:
            await self._runner.cleanup()

    def to(self, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.posted if m["channel"] == channel]

    async def response_number(self, n: int) -> dict[str, Any]:
        """The n-th message to a response_url (from 1), once it came."""
        while len(self.responses) < n:
            self._responded.clear()
            await self._responded.wait()
        return self.responses[n - 1]

    # the API

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if (
            method == "apps.connections.open"
            and request.headers.get("Authorization") == f"Bearer {APP_TOKEN}"
        ):
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{request.url.port}/socket"})
        if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if request.content_type == "application/json":
            params = await request.json()
        else:
            params = dict(await request.post())
        if method == "auth.test":
            return web.json_response(
                {"ok": True, "user_id": "UBOT", "team_id": "T1", "bot_id": "B1", "user": "newsalert"}
            )
        if method == "chat.postMessage":
            return self._post_message(params)
        if method == "chat.update":
            if not any(m["ts"] == params["ts"] and m["channel"] == params["channel"] for m in self.posted):
                return web.json_response({"ok": False, "error": "message_not_found"})
            self.updates.append(params)
            return web.json_response({"ok": True, "channel": params["channel"], "ts": params["ts"]})
        return web.json_response({"ok": False, "error": "unknown_method"})

    def _post_message(self, params: dict[str, Any]) -> web.Response:
        channel = params["channel"]
        if channel in self.errors:
            return web.json_response({"ok": False, "error": self.errors[channel]})
        if self.too_many > 0:
            self.too_many -= 1
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(self.retry_after)},
            )
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if blocks and self.refuse_blocks:
            return web.json_response({"ok": False, "error": "invalid_blocks"})
        problem = block_problem(blocks or [])
        if problem or not params.get("text"):
            return web.json_response({"ok": False, "error": "invalid_blocks", "detail": problem or "no text"})
        ts = f"1700000000.{next(self._ids):06d}"
        # mrkdwn: False, the text's * _ ~ ` are shown as they are (chat.postMessage's "mrkdwn" argument)
        marks = params.get("mrkdwn") not in (False, "false", "0")
        self.posted.append(
            {"channel": channel, "text": params["text"], "blocks": blocks, "ts": ts, "marks": marks}
        )
        return web.json_response({"ok": True, "channel": channel, "ts": ts})

    # Socket Mode: Slack pushes envelopes over a websocket the bot opened; the bot acks each

    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket = socket
        await socket.send_json({"type": "hello", "num_connections": 1})
        self._connected.set()
        async for message in socket:
            ack = json.loads(message.data)
            if ack.get("envelope_id") in self._acks:
                self._acks.pop(ack["envelope_id"]).set_result(ack.get("payload") or {})
        return socket

    async def push_command(self, text: str, *, channel: str = "C1", user: str = "U1") -> dict[str, Any]:
        """`/newsalert TEXT` through Socket Mode, once the bot is connected; returns its answer."""
        await self._connected.wait()
        assert self._socket
        envelope = str(next(self._ids))
        self._acks[envelope] = asyncio.get_running_loop().create_future()
        payload = {
            "command": "/newsalert", "text": text, "channel_id": channel, "channel_name": "news",
            "user_id": user, "team_id": "T1", "trigger_id": "1.2.3",
            "response_url": f"{self.base_url}/respond/{envelope}",
        }  # fmt: skip
        await self._socket.send_json(
            {
                "envelope_id": envelope,
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": payload,
            }
        )
        return await self._acks[envelope]

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("blocks"):
            assert not block_problem(body["blocks"]), block_problem(body["blocks"])
        self.responses.append(body)
        self._responded.set()
        return web.Response(text="ok")


RICH_PARTS = {"rich_text_section", "rich_text_quote", "rich_text_list", "rich_text_preformatted"}
RICH_ELEMENTS = {"text", "link", "emoji", "date", "user", "channel", "usergroup", "broadcast"}
STYLES = {"bold", "italic", "strike", "code"}


def block_problem(blocks: list[dict[str, Any]]) -> str | None:
    """What Slack would refuse in these blocks, or None."""
    if len(blocks) > 50:
        return "more than 50 blocks"
    for block in blocks:
        text = block.get("text", {}).get("text", "")
        if len(text) > 3000:
            return "section text over 3000 characters"
        if block.get("text", {}).get("type") == "plain_text" and not text:
            return "empty plain_text"
        if block["type"] == "context" and not 0 < len(block["elements"]) <= 10:
            return "a context has 1 to 10 elements"
        if block["type"] == "rich_text" and (problem := rich_text_problem(block)):
            return problem
        if block["type"] == "actions":
            ids = [e["action_id"] for e in block["elements"]]
            if len(ids) != len(set(ids)) or len(ids) > 25:
                return "action ids must be unique, at most 25"
            if any(len(e["text"]["text"]) > 75 or len(e["value"]) > 2000 for e in block["elements"]):
                return "button text over 75 or value over 2000"
    return None


def rich_text_problem(block: dict[str, Any]) -> str | None:
    """A rich_text block's parts and their elements, as Slack checks them."""
    if not block.get("elements"):
        return "rich_text without elements"
    for part in block["elements"]:
        if part.get("type") not in RICH_PARTS or not part.get("elements"):
            return f"rich_text part {part.get('type')!r} unknown or empty"
        for element in part["elements"]:
            if element.get("type") not in RICH_ELEMENTS:
                return f"rich_text element {element.get('type')!r} unknown"
            if element["type"] == "text" and not element.get("text"):
                return "empty rich_text text"
            if element["type"] == "link" and not str(element.get("url", "")).startswith(
                ("http://", "https://")
            ):
                return "rich_text link without a web address"
            if not set(element.get("style", {})) <= STYLES:
                return "unknown rich_text style"
    return None


def seen(block: dict[str, Any]) -> str:
    """A block's text as a reader sees it, its styles written as HTML tags: rich text's bold as <b>,
    a link as <a href=...>; plain_text and mrkdwn as they were sent (mrkdwn's marks left to read)."""
    if block["type"] == "rich_text":
        return "\n".join(_seen_part(part) for part in block["elements"])
    if block["type"] == "context":
        return " ".join(element.get("text", "") for element in block["elements"])
    return block.get("text", {}).get("text", "")


def _seen_part(part: dict[str, Any]) -> str:
    text = "".join(_seen_element(element) for element in part["elements"])
    return f"> {text}" if part["type"] == "rich_text_quote" else text


def _seen_element(element: dict[str, Any]) -> str:
    text = element.get("text", "")
    if element["type"] == "link":
        text = f'<a href="{element["url"]}">{text or element["url"]}</a>'
    for style, tag in (("code", "code"), ("strike", "s"), ("italic", "i"), ("bold", "b")):
        if element.get("style", {}).get(style):
            text = f"<{tag}>{text}</{tag}>"
    return text


def signed(body: bytes, timestamp: int, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """The headers Slack puts on a request."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}


@dataclass
class SlackUser:
    """Someone in the fake workspace, typing the slash command or pressing buttons."""

    slack: FakeSlack
    events_url: str  # our /slack/events
    now: Any  # () -> seconds, the time Slack signs with
    user: str = "U1"
    channel: str = "C1"
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def command_body(self, text: str) -> bytes:
        return urlencode(
            {
                "command": "/newsalert", "text": text, "channel_id": self.channel, "channel_name": "news",
                "user_id": self.user, "team_id": "T1", "trigger_id": "1.2.3",
                "response_url": f"{self.slack.base_url}/respond/{next(self._ids)}",
            },
            errors="surrogatepass",  # text no UTF-8 can carry goes as the bytes Python would write
        ).encode()  # fmt: skip

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        async with (
            ClientSession() as http,
            http.post(self.events_url, data=body, headers=headers) as response,
        ):
            text = await response.text()
            return response.status, json.loads(text) if text.startswith("{") else {"text": text}

    async def types(self, text: str) -> tuple[int, Any]:
        """`/newsalert TEXT`, signed now; returns the status and the immediate answer."""
        body = self.command_body(text)
        return await self.post(body, signed(body, int(self.now())))

    async def presses(self, message: dict[str, Any], label: str) -> tuple[int, Any]:
        """Press the button with this label in a message (its blocks), signed now."""
        buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
        button = next(e for e in buttons if e["text"]["text"] == label)
        payload = {
            "type": "block_actions", "user": {"id": self.user}, "team": {"id": "T1"},
            "channel": {"id": self.channel, "name": "news"}, "trigger_id": "1.2.3",
            "response_url": f"{self.slack.base_url}/respond/{next(self._ids)}",
            "actions": [{"type": "button", "action_id": button["action_id"], "value": button["value"],
                         "block_id": "b", "action_ts": "1"}],
            "container": {"type": "message", "channel_id": self.channel},
        }  # fmt: skip
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, signed(body, int(self.now())))
