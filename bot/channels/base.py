"""The Channel protocol: what every chat app adapter provides, and nothing more; `clip`, the one
way every chat shortens feed text; and `nested`, how a quote reads inside our quotation marks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import regex

from bot.domain import Alert, Quote, Receipt
from bot.pacing import Rate

if TYPE_CHECKING:
    from aiohttp import web

ELLIPSIS = "\u2026"
_GRAPHEME = regex.compile(r"\X")  # one user-perceived character: a flag, an emoji sequence, e + accent


def clip(text: str, limit: int, size: Callable[[str], int] = len) -> str:
    """At most `limit` long as `size` counts it (characters; Telegram counts UTF-16 units), with an
    ellipsis when cut. The cut falls between grapheme clusters, so a flag, an emoji sequence or a
    letter with its accents is kept whole or left out whole; and at the last space, when that is in
    the second half of what is kept."""
    if size(text) <= limit:
        return text
    room, end = limit - size(ELLIPSIS), 0
    for cluster in _GRAPHEME.finditer(text):
        room -= size(cluster[0])
        if room < 0:
            break
        end = cluster.end()
    cut = text[:end]
    space = cut.rfind(" ")
    return (cut[:space] if space >= len(cut) // 2 else cut).rstrip() + ELLIPSIS


_INNER_MARKS = str.maketrans({"\u201c": "\u2018", "\u201d": "\u2019", '"': "'"})


def nested(quote: Quote) -> Quote:
    """The quote as it reads inside our own quotation marks: its double marks made single, as a
    quotation within a quotation is printed ("...told him that \u2018there can be no going back.\u2019").
    One character for one, so its highlights stay where they are."""
    return Quote(quote.text.translate(_INNER_MARKS), quote.spans)


class Channel(Protocol):
    """Renders and sends one alert. No retries, no bookkeeping: delivery.py does those.

    send() returns a Receipt once the chat app has accepted the message, or raises
    TransientDeliveryError(retry_after) (try again later) or PermanentDeliveryError(reason)
    (the address is gone: stop sending there).
    """

    name: str
    exclusive_listen: bool  # one process at a time may listen (Telegram's getUpdates): the others wait
    one_sender: bool  # its limits hold per bot, not per process: one replica at a time sends
    overall: Rate | None  # the chat app's ceiling for all chats together (None: none)

    async def start(self) -> None:
        """Connect and check the credentials; ConfigError names the setting that is wrong (a token the
        chat app refuses), UnreachableError says the chat app cannot be reached now (tried again later)."""
        ...

    async def close(self) -> None: ...

    async def send(self, address: str, alert: Alert) -> Receipt: ...

    async def edit(self, address: str, message_id: str, alert: Alert) -> Receipt:
        """Replace an alert sent before (its Receipt's message_id) with this one, e.g. listing one more
        outlet; a message that can no longer be edited is left as it is, and that is no error."""
        ...

    async def send_digest(self, address: str, alerts: list[Alert], heading: str | None = None) -> Receipt:
        """Several alerts as one message (a digest, what quiet hours held back, a burst), under a
        heading ("3 new stories" by default); split where a message would be too long. The receipt
        names the first message."""
        ...

    async def edit_digest(self, address: str, message_id: str, alerts: list[Alert], heading: str) -> Receipt:
        """Replace a digest sent before (a burst's rolling message) with this list; what does not fit
        one message is left out. A message that can no longer be edited is left as it is."""
        ...

    def per_chat(self, address: str) -> Rate | None:
        """How fast one chat may be sent to (None: as fast as it goes)."""
        ...

    async def send_notice(self, address: str, text: str) -> Receipt:
        """A sentence about the service itself (a feed failing, a feed gone), same rules as send."""
        ...

    def admin_addresses(self) -> list[str]:
        """Where the bot's admins read the service's news (their own chats with the bot)."""
        ...

    def problem(self) -> str | None:
        """Why it cannot reach its chat app right now (for /healthz), or None."""
        ...

    def routes(self) -> list[web.RouteDef]:
        """What it serves on http.port (a webhook, an events endpoint); may be none."""
        ...

    async def listen(self, stop: asyncio.Event) -> None:
        """Receive commands until stop is set (long polling, a socket), or return at once if it
        receives them through routes() or not at all."""
        ...
