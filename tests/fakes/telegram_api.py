"""A small fake of the Telegram Bot API on a free loopback port, strict where Telegram is strict.

It keeps what the bot sent (messages, edits, callback answers, the command menu), serves updates
that tests queue as a user would cause them, checks HTML parse mode and the 4,096 limit the way
Telegram does, and can answer 429 with retry_after, 403 for a blocked chat, or "chat migrated".
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.web import start_web

TOKEN = "123456:TEST-token-that-must-never-be-logged"
BOT = {"id": 1, "is_bot": True, "first_name": "newsalert", "username": "newsalert_bot"}
TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "blockquote",
}
ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
TAG = re.compile(r'<(/?)([a-z-]+)((?:\s+[a-z-]+="[^"<>]*")*)\s*>')
ADMIN_RIGHTS = dict.fromkeys(
    "can_be_edited is_anonymous can_manage_chat can_delete_messages can_manage_video_chats "
    "can_restrict_members can_promote_members can_change_info can_invite_users can_post_stories "
    "can_edit_stories can_delete_stories".split(),
    False,
)


class Refusal(Exception):
    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        self.code, self.description, self.parameters = code, description, parameters


def parse_html(text: str) -> str:
    """The visible text of an HTML message, or Refusal as Telegram answers a malformed one."""
    visible, open_tags, at = [], [], 0
    for match in TAG.finditer(text):
        visible.append(text[at : match.start()])
        closing, name, attrs = match.group(1), match.group(2), match.group(3)
        if name not in TAGS:
            raise Refusal(400, f'Bad Request: can\'t parse entities: Unsupported start tag "{name}"')
        if closing:
            if not open_tags or open_tags.pop() != name:
                raise Refusal(400, f'Bad Request: can\'t parse entities: Unexpected end tag "{name}"')
        else:
            if name == "a" and not re.fullmatch(r'\s+href="https?://[^"]+"', attrs):
                raise Refusal(400, "Bad Request: can't parse entities: Wrong or missing href")
            open_tags.append(name)
        at = match.end()
    visible.append(text[at:])
    if open_tags:
        raise Refusal(400, f"Bad Request: can't parse entities: Can't find end tag \"{open_tags[-1]}\"")
    plain = "".join(visible)
    if "<" in plain or ">" in plain or "&" in ENTITY.sub("", plain):
        raise Refusal(400, "Bad Request: can't parse entities: Unsupported character or entity")
    return html.unescape(plain)


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class FakeTelegram:
    token: str = TOKEN
    sent: list[dict[str, Any]] = field(default_factory=list)  # every message the bot sent, in order
    edits: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)  # answerCallbackQuery calls
    commands: list[dict[str, Any]] = field(default_factory=list)  # setMyCommands
    webhook: str | None = None
    admins: set[tuple[int, int]] = field(default_factory=set)  # (chat id, user id) that are admins
    blocked: set[int] = field(default_factory=set)  # chats that blocked the bot: 403
    migrated: dict[int, int] = field(default_factory=dict)  # old group id -> supergroup id
    too_many: int = 0  # the next this many sendMessage calls get 429
    broken: int = 0  # the next this many sendMessage calls get 500
    refuse_html: bool = False  # every HTML message gets "can't parse entities"
    retry_after: int = 7
    calls: list[str] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)  # sendDocument: chat, caption, name, data
    files: dict[str, bytes] = field(default_factory=dict)  # file_id -> what users sent
    base_url: str = ""
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _new_update: asyncio.Event = field(default_factory=asyncio.Event)
    _new_message: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _current: dict[tuple[int, int], tuple[str, Any]] = field(default_factory=dict)  # what each message says
    _runner: web.AppRunner | None = None

    @property
    def file_url(self) -> str:
        """Where the bot downloads files: PTB's base_file_url (the bot appends its token)."""
        return f"{self.base_url}/file/bot"

    @property
    def api_url(self) -> str:
        """What telegram.api_url is set to: the bot appends its token."""
        return f"{self.base_url}/bot"

    async def start(self, port: int = 0) -> FakeTelegram:
        """Serve on a free port, or on this one (Telegram back after an outage: stop(), then start(port))."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._serve)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner, port = await start_web(app, "127.0.0.1", port)
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self._new_update.set()  # a long poll still waiting ends now
        if self._runner:
            await self._runner.cleanup()

    # what users do

    def user_says(
        self,
        text: str,
        *,
        chat: int = 1001,
        user: int = 1001,
        kind: str = "private",
        topic: int | None = None,
    ) -> None:
        message = self._message(chat, kind, text, user)
        if topic:
            message.update(message_thread_id=topic, is_topic_message=True)
        self._push({"message": message})

    def user_sends_document(
        self, data: bytes, filename: str, caption: str = "", *, chat: int = 1001, user: int = 1001
    ) -> None:
        """A file sent as a document, with a caption (as /import is used)."""
        file_id = f"doc{next(self._ids)}"
        self.files[file_id] = data
        message = self._message(chat, "private" if chat > 0 else "supergroup", "", user)
        del message["text"]
        message["document"] = {
            "file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": filename,
            "mime_type": "text/x-opml", "file_size": len(data),
        }  # fmt: skip
        if caption:
            message["caption"] = caption
        self._push({"message": message})

    def group_migrates(self, old: int, new: int) -> None:
        """A group becomes a supergroup: Telegram says so in the old chat, and the old id is gone."""
        message = self._message(old, "group", "", None)
        del message["text"]
        message["migrate_to_chat_id"] = new
        self.migrated[old] = new
        self._push({"message": message})

    def user_presses(self, message: dict[str, Any], label: str, *, user: int = 1001) -> None:
        """Press the button with this label on a message the bot sent."""
        buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
        data = next(b["callback_data"] for b in buttons if b["text"] == label)
        query = {
            "id": str(next(self._ids)),
            "from": self._user(user),
            "chat_instance": "1",
            "data": data,
            "message": {k: v for k, v in message.items() if k in ("message_id", "date", "chat", "text")}
            | ({"message_thread_id": message["message_thread_id"], "is_topic_message": True}
               if message.get("message_thread_id") else {}),
        }  # fmt: skip
        self._push({"callback_query": query})

    def to(self, chat: int) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["chat"]["id"] == chat]

    def last(self, chat: int = 1001) -> dict[str, Any]:
        return self.to(chat)[-1]

    async def until(self, condition: Callable[[list[dict[str, Any]]], bool]) -> None:
        """Until what the bot has sent meets the condition: for a bot in another process."""
        while not condition(self.sent):
            self._new_message.clear()
            await self._new_message.wait()

    async def message_number(self, n: int, chat: int = 1001) -> dict[str, Any]:
        """The n-th message to a chat (from 1), once the bot has sent it: for a bot in another process."""
        while len(self.to(chat)) < n:
            self._new_message.clear()
            await self._new_message.wait()
        return self.to(chat)[n - 1]

    # the API

    def _push(self, update: dict[str, Any]) -> None:
        self._updates.append({"update_id": next(self._ids), **update})
        self._new_update.set()

    def _user(self, user: int) -> dict[str, Any]:
        return {"id": user, "is_bot": False, "first_name": f"User {user}"}

    def _message(self, chat: int, kind: str, text: str, user: int | None = None) -> dict[str, Any]:
        chat_json = {"id": chat, "type": kind}
        chat_json.update({"first_name": "Ann"} if kind == "private" else {"title": f"Group {chat}"})
        message = {"message_id": next(self._ids), "date": 1_700_000_000, "chat": chat_json, "text": text}
        if user is not None:
            message["from"] = self._user(user)
        return message

    async def _serve(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append(method)
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update(await request.post())
        try:
            result = await getattr(self, f"_{method}")(params)
        except Refusal as refusal:
            body = {"ok": False, "error_code": refusal.code, "description": refusal.description}
            if refusal.parameters:
                body["parameters"] = refusal.parameters
            return web.json_response(body, status=refusal.code)
        return web.json_response({"ok": True, "result": result})

    async def _getMe(self, _params: dict[str, Any]) -> dict[str, Any]:
        return BOT

    async def _setMyCommands(self, params: dict[str, Any]) -> bool:
        self.commands = _json(params["commands"])
        return True

    async def _deleteWebhook(self, _params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    async def _setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = params["url"]
        return True

    async def _getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed ones go
        if not self._updates and float(params.get("timeout") or 0) > 0:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), float(params["timeout"]))
        return list(self._updates)

    async def _getChatMember(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, user = int(params["chat_id"]), int(params["user_id"])
        if (chat, user) in self.admins:
            return {"status": "administrator", "user": self._user(user), **ADMIN_RIGHTS}
        return {"status": "member", "user": self._user(user)}

    async def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = int(params["chat_id"])
        if chat in self.migrated:
            raise Refusal(400, "Bad Request: group chat was upgraded to a supergroup chat",
                          {"migrate_to_chat_id": self.migrated[chat]})  # fmt: skip
        if chat in self.blocked:
            raise Refusal(403, "Forbidden: bot was blocked by the user")
        if self.broken > 0:
            self.broken -= 1
            raise Refusal(500, "Internal Server Error")
        if self.refuse_html and params.get("parse_mode") == "HTML":
            raise Refusal(
                400, 'Bad Request: can\'t parse entities: Unsupported start tag "b" at byte offset 0'
            )
        if self.too_many > 0:
            self.too_many -= 1
            raise Refusal(429, f"Too Many Requests: retry after {self.retry_after}",
                          {"retry_after": self.retry_after})  # fmt: skip
        message = self._message(chat, "private" if chat > 0 else "supergroup", self._checked(params))
        message["parse_mode"] = params.get("parse_mode")
        message["html"] = params["text"]
        if params.get("message_thread_id"):
            message["message_thread_id"] = int(params["message_thread_id"])
        if params.get("reply_markup"):
            message["reply_markup"] = _checked_markup(params["reply_markup"])
        self.sent.append(message)
        self._current[(chat, message["message_id"])] = (params["text"], params.get("reply_markup"))
        self._new_message.set()
        return message

    async def _editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, message_id = int(params["chat_id"]), int(params["message_id"])
        if (chat, message_id) not in self._current:
            raise Refusal(400, "Bad Request: message to edit not found")
        if self._current[(chat, message_id)] == (params["text"], params.get("reply_markup")):
            raise Refusal(400, "Bad Request: message is not modified: the content and markup are the same")
        message = self._message(chat, "private" if chat > 0 else "supergroup", self._checked(params))
        message["message_id"] = message_id
        if params.get("reply_markup"):
            message["reply_markup"] = _checked_markup(params["reply_markup"])
        self._current[(chat, message_id)] = (params["text"], params.get("reply_markup"))
        self.edits.append(message)
        return message

    async def _getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params["file_id"])
        if file_id not in self.files:
            raise Refusal(400, "Bad Request: invalid file_id")
        size = len(self.files[file_id])
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": size,
                "file_path": f"documents/{file_id}.opml"}  # fmt: skip

    async def _download(self, request: web.Request) -> web.Response:
        """GET /file/bot<token>/<file_path>, as getFile's answer says."""
        file_id = request.match_info["path"].removeprefix("documents/").removesuffix(".opml")
        if request.match_info["token"] != self.token or file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id])

    async def _sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, upload = int(params["chat_id"]), params["document"]
        if not isinstance(upload, web.FileField):
            raise Refusal(400, "Bad Request: wrong file identifier/HTTP URL specified")
        caption = str(params.get("caption") or "")
        if len(caption) > 1024:
            raise Refusal(400, "Bad Request: message caption is too long")
        data = upload.file.read()
        self.documents.append({"chat": chat, "caption": caption, "filename": upload.filename, "data": data})
        message = self._message(chat, "private" if chat > 0 else "supergroup", "")
        del message["text"]
        message["document"] = {"file_id": "sent", "file_unique_id": "sent", "file_name": upload.filename}
        message["caption"] = caption
        self._new_message.set()
        return message

    async def _answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self.answers.append(dict(params))
        return True

    def _checked(self, params: dict[str, Any]) -> str:
        """The text as the user will see it; refused as Telegram refuses a bad or long one."""
        text = str(params["text"])
        visible = parse_html(text) if params.get("parse_mode") == "HTML" else text
        if not visible.strip():
            raise Refusal(400, "Bad Request: message text is empty")
        if units(visible) > 4096:
            raise Refusal(400, "Bad Request: message is too long")
        return visible


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _checked_markup(value: Any) -> Any:
    markup = _json(value)
    for row in markup["inline_keyboard"]:
        for button in row:
            if not 1 <= len(button.get("callback_data", "x").encode()) <= 64:
                raise Refusal(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup
