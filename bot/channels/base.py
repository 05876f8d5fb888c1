"""The Channel protocol: what every chat app adapter provides, and nothing more; `Spec`, what a
channel module registers (its settings, environment and constructor); `clip`, the one way every chat
shortens feed text; and `nested`, how a quote reads inside our quotation marks.

Light on purpose: config.py reads every channel's settings through the registry, and `newsalert
check` must not load a chat library for that."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TextIO

import regex
from pydantic import BaseModel, BeforeValidator, ConfigDict, SecretStr

from bot.domain import Alert, Clock, Quote, Receipt
from bot.pacing import Rate

if TYPE_CHECKING:
    from aiohttp import web

    from bot.commands import Commands
    from bot.store import Store

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


class Section(BaseModel):
    """A section of the settings: unknown keys refused, frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def secret_values(self) -> list[str]:
        """Every secret it holds, for logs to blank out."""
        return [value.get_secret_value() for value in dict(self).values() if isinstance(value, SecretStr)]


def parse_id_list(value: Any) -> Any:
    """ "123, 456" (from the environment) -> ["123", "456"]; a YAML list as it is."""
    if isinstance(value, str):
        return [part for part in re.split(r"[\s,]+", value) if part]
    return value


IdList = Annotated[list[int], BeforeValidator(parse_id_list)]
NameList = Annotated[list[str], BeforeValidator(parse_id_list)]


def no_padding(value: str) -> None:
    """A pasted token alone: ValueError for spaces or quotes around it."""
    if value != value.strip() or value[:1] in "'\"" or value[-1:] in "'\"":
        raise ValueError("spaces or quotes around the token; give the token alone")


@dataclass(frozen=True)
class Parts:
    """What the app hands every channel's constructor; each takes what it needs."""

    commands: Commands
    clock: Clock
    store: Store  # also where signed requests are remembered while they could be replayed
    stream: TextIO | None = None  # where the console prints (None: stdout)
    # the channels the config file's subscriptions name: a channel with no token of its own (Apprise)
    # is configured by being subscribed
    subscribed: frozenset[str] = frozenset()
    # this channel's subscriptions in the config file that have a secret of their own: address -> secret
    secrets: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Address:
    """A subscription's address as its channel reads it: how it may be shown (in logs, names, `config
    show`) with its secrets masked, and those secrets, for logs to blank out wherever they appear."""

    shown: str
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Spec:
    """A channel as the registry (bot/channels/__init__.py) lists it.

    name: its `channel:` in a subscription, and its settings section's key (`telegram:`).
    settings: that section's model (None: it has none); `environment`: variable -> key in it.
    build: its constructor, given its settings and the app's parts; None when it is not configured
    (no token), so not started.
    admins: the admins its settings name; when none, the bot offers a claim code for it (None: a
    channel nobody types commands into).
    address: reads a subscription's address when the config is loaded: ValueError saying why the
    channel cannot send there (naming no secret of it); None: any address, shown as it is.
    secret: checks a config file subscription's `secret` (secret_file) for this channel at config load,
    ValueError saying what is wrong (None: it takes no secret, and one given is refused). The secrets
    reach the channel as `Parts.secrets`."""

    name: str
    build: Callable[[Any, Parts], Channel | None]
    settings: type[Section] | None = None
    environment: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    admins: Callable[[Any], Sequence[object]] | None = None
    address: Callable[[str], Address] | None = None
    secret: Callable[[str | None], None] | None = None


class SendOnly:
    """What a channel nobody types commands into has in common (the console, Apprise, webhooks): no
    listening, no routes, no admins, nothing that stops the whole channel; its addresses each keep
    their own pace, and any process may send."""

    exclusive_listen = False
    one_sender = False
    overall: Rate | None = None

    def admin_addresses(self) -> list[str]:
        return []

    def problem(self) -> str | None:
        return None  # one address failing is that address's retries, not the whole channel's

    def routes(self) -> list[web.RouteDef]:
        return []

    async def listen(self, stop: asyncio.Event) -> None:
        return


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
