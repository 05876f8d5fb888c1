"""The Apprise channel: alerts to Discord, e-mail, ntfy, Matrix, Teams, Gotify, Pushover and the other
services Apprise (https://github.com/caronc/apprise) reaches, each subscription's address an Apprise
URL. Send-only: nobody types commands into it. Markdown for every service, HTML for e-mail.

Apprise is synchronous and says only whether a notification went: each send runs in a thread, and
what Apprise logged meanwhile is the reason given when it did not. Its URLs carry passwords and tokens:
`read_address` is the one place that knows which parts are secret (what Apprise marks private)."""

from __future__ import annotations

import asyncio
import functools
import html
import itertools
import logging
import re
from typing import Any
from urllib.parse import quote, urlsplit

from bot.channels.base import Address, Parts, SendOnly, Spec, clip, nested
from bot.domain import Alert, Quote, Receipt
from bot.errors import PermanentDeliveryError, TransientDeliveryError
from bot.pacing import Rate

MASK = "****"
EMAIL = ("mailto", "mailtos")  # HTML for these; Markdown for every other service
GONE = {401, 403, 404, 410}  # a service answering these refuses the address until the operator acts
# how Apprise's services log the HTTP status they got (ntfy: its own code, the status and two digits)
_STATUS = re.compile(r"error=(\d{3})(?:\d\d)?\b")
SLOWEST_PACE = 1.0  # seconds between two messages to one address, at the least
MAX_TITLE = 200
MAX_SUMMARY = 700
WIKI = "https://github.com/caronc/apprise/wiki"


def _scheme(url: str) -> str:
    return url.partition("://")[0].lower() if "://" in url else ""


def _notifier(url: str) -> Any:
    """Apprise's notifier for the URL; ValueError naming only its scheme when Apprise cannot send there.
    Apprise says nothing meanwhile: it would quote the URL, half masked, beside our clearer error."""
    import apprise
    from apprise.plugins import N_MGR

    scheme = _scheme(url)
    if not scheme:
        raise ValueError(f"not an Apprise URL (scheme://...), such as discord://ID/TOKEN; see {WIKI}")
    if scheme not in N_MGR:
        raise ValueError(f"Apprise knows no service {scheme}://; the services and their URLs: {WIKI}")
    said = logging.getLogger("apprise")
    said.disabled = True  # delivery sends one message at a time: no other send is logging now
    try:
        notifier = apprise.Apprise.instantiate(url)
    finally:
        said.disabled = False
    if notifier is None:
        raise ValueError(f"not a {scheme}:// URL Apprise can use; how to write one: {WIKI}")
    return notifier


@functools.lru_cache(maxsize=1024)
def read_address(url: str) -> Address:
    """The URL with its secrets masked, and those secrets: what Apprise marks private in the service's
    URL (a token, a webhook id, a password) and any password in it. ValueError when Apprise cannot send
    there (the URL is not quoted)."""
    notifier = _notifier(url)
    given = type(notifier).parse_url(url) or {}
    keys = [
        spec.get("map_to", key)
        for specs in (notifier.template_tokens, notifier.template_args)
        for key, spec in specs.items()
        if spec.get("private")
    ]
    values = [given.get(key) for key in (*keys, "password")]
    values += [urlsplit(url).password]
    plain = {v for value in values for v in (value if isinstance(value, list | tuple) else [value]) if v}
    secrets = {form for value in map(str, plain) for form in (value, quote(value, safe=""), quote(value))}
    ordered = sorted(secrets, key=len, reverse=True)
    return Address(masked(url, ordered), tuple(ordered))


def masked(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    for secret in secrets:  # longest first: one may hold another
        text = text.replace(secret, MASK)
    return text


@functools.lru_cache(maxsize=1024)
def pace(url: str) -> Rate:
    """One message to an address every so many seconds: what Apprise's service asks between two
    requests (ntfy and e-mail 5.5 s, Matrix 0.5 s), and at least a second."""
    seconds = getattr(_notifier(url), "request_rate_per_sec", 0) or 0
    return Rate(1 / max(float(seconds), SLOWEST_PACE))


# Feed text in Markdown: the characters that start markup anywhere (CommonMark's backslash escapes, that
# Discord, ntfy and Python-Markdown share), and a list marker ("- ", "1. ") where the text starts a line.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#])")
_LIST_MARKER = re.compile(r"^([-+]|\d+[.)])(?=\s)")


def escape_markdown(text: str) -> str:
    text = _MARKDOWN.sub(r"\\\1", text)
    return _LIST_MARKER.sub(lambda marker: f"{marker[0][:-1]}\\{marker[0][-1]}", text)


def _quote_markdown(quote: Quote) -> str:
    out, at = "", 0
    for start, end in quote.spans:
        out += escape_markdown(quote.text[at:start]) + f"**{escape_markdown(quote.text[start:end])}**"
        at = end
    return out + escape_markdown(quote.text[at:])


def _link(url: str) -> str:
    """A link as Markdown takes it: <url>, with what would end it early percent-encoded."""
    return "<" + url.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E") + ">"


def _when(alert: Alert) -> str:
    return alert.published_at.strftime("%d %b %Y %H:%M UTC")


def render_markdown(alert: Alert) -> tuple[str, str]:
    """The alert as a title and a Markdown body: source and time, other outlets, the summary, the
    link, and each rule that matched with its quote, matched words in bold. Every feed string escaped."""
    lines = [f"{escape_markdown(alert.feed_name)} \u00b7 {_when(alert)}"]
    if alert.also_in:
        lines.append(f"Also in: {escape_markdown(', '.join(alert.also_in))}")
    if alert.summary:
        lines += ["", escape_markdown(clip(alert.summary, MAX_SUMMARY))]
    lines += ["", _link(alert.link)]
    for match in alert.matches:
        quote = _quote_markdown(nested(match.quote))
        lines += ["", f"*Rule {match.rule_id}: {escape_markdown(match.rule)}*", f"> \u201c{quote}\u201d"]
    return clip(alert.title, MAX_TITLE), "\n".join(lines)


def render_html(alert: Alert) -> tuple[str, str]:
    """The alert as an e-mail: its subject, and an HTML body saying what render_markdown says."""
    e = html.escape
    parts = [
        f'<h2><a href="{e(alert.link)}">{e(alert.title)}</a></h2>',
        f"<p>{e(alert.feed_name)} \u00b7 {_when(alert)}</p>",
    ]
    if alert.also_in:
        parts.append(f"<p>Also in: {e(', '.join(alert.also_in))}</p>")
    if alert.summary:
        parts.append(f"<p>{e(alert.summary)}</p>")
    for match in alert.matches:
        quote, at, marked = nested(match.quote), 0, ""
        for start, end in quote.spans:
            marked += e(quote.text[at:start]) + f"<b>{e(quote.text[start:end])}</b>"
            at = end
        marked += e(quote.text[at:])
        parts.append(f"<p><i>Rule {match.rule_id}: {e(match.rule)}</i><br>\u201c{marked}\u201d</p>")
    return clip(alert.title, MAX_TITLE), "\n".join(parts)


def render_digest(alerts: list[Alert], email: bool, limit: int) -> list[str]:
    """Several alerts, a line each (title, source, link), for under the heading (the notification's
    title); as many messages as keep each within the service's limit."""
    if email:
        e = html.escape
        lines = [f'<li><a href="{e(a.link)}">{e(a.title)}</a> \u00b7 {e(a.feed_name)}</li>' for a in alerts]
        return ["<ul>\n" + "\n".join(lines) + "\n</ul>"]
    messages, current = [], ""
    for alert in alerts:
        title, source = escape_markdown(alert.title), escape_markdown(alert.feed_name)
        line = clip(f"- {title} \u00b7 {source} {_link(alert.link)}", limit)
        if current and len(current) + 1 + len(line) > limit:
            messages.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    return [*messages, current]


class AppriseChannel(SendOnly):
    """Send-only: each address an Apprise URL, each message one notification through Apprise."""

    name = "apprise"

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    async def send(self, address: str, alert: Alert) -> Receipt:
        email = _scheme(address) in EMAIL
        title, body = render_html(alert) if email else render_markdown(alert)
        return await self._notify(address, title, body, "html" if email else "markdown")

    async def edit(self, address: str, message_id: str, alert: Alert) -> Receipt:
        return Receipt(message_id)  # a notification cannot be edited: the outlet that joined goes untold

    async def send_digest(self, address: str, alerts: list[Alert], heading: str | None = None) -> Receipt:
        heading = heading or f"{len(alerts)} new stories"
        email = _scheme(address) in EMAIL
        try:
            limit = _body_limit(_notifier(address))
        except ValueError as error:
            raise PermanentDeliveryError(str(error)) from None
        first = None
        for body in render_digest(alerts, email, limit):
            receipt = await self._notify(address, heading, body, "html" if email else "markdown")
            first = first or receipt
        assert first
        return first

    async def edit_digest(self, address: str, message_id: str, alerts: list[Alert], heading: str) -> Receipt:
        """A notification cannot be edited: the story that joined a burst goes as one line of its own,
        rather than untold."""
        await self.send_digest(address, alerts[-1:], heading)
        return Receipt(message_id)

    async def send_notice(self, address: str, text: str) -> Receipt:
        return await self._notify(address, "newsalert", text, "text")

    def per_chat(self, address: str) -> Rate | None:
        try:
            return pace(address)
        except ValueError:
            return None  # refused for good when sent (send)

    async def _notify(self, address: str, title: str, body: str, body_format: str) -> Receipt:
        """One notification; TransientDeliveryError with what Apprise said when it did not go, and
        PermanentDeliveryError when the service refuses the address (or Apprise cannot use it)."""
        try:
            notifier = _notifier(address)
            secrets = read_address(address).secrets
        except ValueError as error:
            raise PermanentDeliveryError(str(error)) from None
        if most := int(notifier.title_maxlen or 0):
            title = clip(title, most)
        body = clip(body, _body_limit(notifier))  # a digest was split to fit: this is for the rest
        sent, said = await asyncio.to_thread(_notify_waiting, notifier, title, body, body_format)
        if sent:
            return Receipt(f"apprise-{next(self._ids)}")
        reason = masked(said, secrets) or "Apprise could not send it"
        if GONE & {int(code) for code in _STATUS.findall(said)}:
            raise PermanentDeliveryError(reason)
        raise TransientDeliveryError(reason)

    async def start(self) -> None:
        return  # nothing to check without sending: each address was read when the config was loaded

    async def close(self) -> None:
        return


def _body_limit(notifier: Any) -> int:
    """The most characters one message body may hold at this service (Discord 2,000, ntfy 7,800)."""
    return int(notifier.body_maxlen or 0) or 32768


def _notify_waiting(notifier: Any, title: str, body: str, body_format: str) -> tuple[bool, str]:
    """In a thread: whether Apprise sent it, and the warnings it logged meanwhile."""
    import apprise

    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as said:
        sent = notifier.notify(body=body, title=title, body_format=body_format)
    return bool(sent), said.getvalue().strip().replace("\n", "; ")


def build(_settings: None, parts: Parts) -> AppriseChannel | None:
    return AppriseChannel() if "apprise" in parts.subscribed else None


SPEC = Spec("apprise", build, address=read_address)  # configured by the subscriptions that use it
