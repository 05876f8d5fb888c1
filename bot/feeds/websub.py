"""WebSub, the subscriber's decisions: which hub and topic a feed names, whether a pushed body is signed
with our secret, what to answer a hub's verification, when to renew a lease, when to stop trusting a hub
and poll again. Pure: no I/O (bot/push.py does the requests and keeps the rows).

Specs: W3C WebSub (https://www.w3.org/TR/websub/), the subscriber's side: 4 Discovery, 5.1 Subscriber
Sends Subscription Request, 5.3 Hub Verifies Intent of the Subscriber, 7 Content Distribution,
8 Authenticated Content Distribution.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from html import unescape
from urllib.parse import urljoin

from bot.domain import PushSubscription

LEASE = timedelta(days=10)  # hub.lease_seconds we ask for; the hub may give another
RENEW_AT = 0.8  # of a lease gone: renew then, so a slow or failing renewal has a fifth of it to spare
VERIFY_WAIT = timedelta(minutes=10)  # a hub that has not checked our intent by then is taken to refuse
SAFETY_NET = timedelta(hours=1)  # a pushed feed is still polled this often (or at its interval, if longer)
SILENT_AFTER = timedelta(hours=6)  # a poll finds new entries and no push came this long: the hub is silent
RETRY_HUB = timedelta(days=1)  # after falling back, a hub is asked again no sooner than this
HEAD_BYTES = 64 * 1024  # the feed's own links come before its entries: only this much is read for them

# Specs: 8 "the signature ... in the form method=signature", method one of sha1, sha256, sha384, sha512.
METHODS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}

_TAG = re.compile(rb"<(?:[\w.-]+:)?link\b([^>]*)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_FIRST_ENTRY = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)\b", re.IGNORECASE)
_LINK_VALUE = re.compile(r"<([^>]*)>((?:\s*;\s*[^,;]+(?:=(?:\"[^\"]*\"|[^,;]*))?)*)")
_PARAMETER = re.compile(r";\s*([\w*-]+)\s*(?:=\s*(\"[^\"]*\"|[^;,]*))?")


@dataclass(frozen=True)
class HubLinks:
    """Where to subscribe (the hub), and to what (the topic: the feed's self URL, else its address)."""

    hub: str
    topic: str


def hub_links(body: bytes | None, link_header: str | None, url: str) -> HubLinks | None:
    """The hub and topic a fetched feed names: in its HTTP Link header first (Specs: 4, "the subscriber
    MUST" look there; it takes precedence over the body), else in the document's own <link rel="hub">
    (HTML, Atom) or <atom:link rel="hub"> (RSS) before its first entry. None when it names no hub."""
    header = link_relations(link_header or "", url)
    document = document_relations(body or b"", url)
    hub = header.get("hub") or document.get("hub")
    if not hub or not hub.startswith(("http://", "https://")):
        return None
    topic = header.get("self") if header.get("hub") else document.get("self")
    return HubLinks(hub, topic if topic and topic.startswith(("http://", "https://")) else url)


def link_relations(header: str, base: str) -> dict[str, str]:
    """rel -> first target of an HTTP Link header (RFC 8288), targets made absolute."""
    found: dict[str, str] = {}
    for target, parameters in _LINK_VALUE.findall(header):
        for name, value in _PARAMETER.findall(parameters):
            if name.lower() == "rel":
                for rel in value.strip('"').lower().split():
                    found.setdefault(rel, urljoin(base, target.strip()))
    return found


def document_relations(body: bytes, base: str) -> dict[str, str]:
    """rel -> first href of the <link> elements in the document's head (before its first entry: an
    entry's links are its own), hrefs made absolute. A scan of at most HEAD_BYTES, linear in them."""
    head = body[:HEAD_BYTES]
    if first := _FIRST_ENTRY.search(head):
        head = head[: first.start()]
    found: dict[str, str] = {}
    for tag in _TAG.finditer(head):
        attributes = {
            name.lower().split(b":")[-1]: (a or b or c) for name, a, b, c in _ATTRIBUTE.findall(tag.group(1))
        }
        href = unescape(attributes.get(b"href", b"").decode("utf-8", "replace")).strip()
        for rel in attributes.get(b"rel", b"").decode("ascii", "replace").lower().split():
            if href:
                found.setdefault(rel, urljoin(base, href))
    return found


def signed(header: str | None, body: bytes, secret: str) -> bool:
    """Whether X-Hub-Signature ("sha256=hex", or sha1/sha384/sha512) is the HMAC of the raw body with
    our secret. Specs: 8; a missing or malformed header is not a signature."""
    method, _, given = (header or "").strip().partition("=")
    digest = METHODS.get(method.lower())
    if digest is None or not given.isascii():
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return hmac.compare_digest(expected, given.lower())


@dataclass(frozen=True)
class Verdict:
    """What to answer a hub's verification GET, and the subscription after it (None: forget it)."""

    status: int
    body: str
    after: PushSubscription | None


def verdict(sub: PushSubscription, query: dict[str, str], now: datetime) -> Verdict:
    """The answer to the hub's check of our intent (Specs: 5.3): the challenge echoed only for the topic
    and mode we asked for, 404 otherwise; a denial (5.2) ends the subscription: polling takes over."""
    mode, topic = query.get("hub.mode", ""), query.get("hub.topic", "")
    if topic != sub.topic:
        return Verdict(404, "unknown topic", sub)
    if mode == "denied" and sub.state in ("requested", "subscribed"):
        said = " ".join(query.get("hub.reason", "").split())[:200]  # one line in the log, and short
        reason = f"the hub refused: {said or 'no reason given'}"
        return Verdict(200, "", fallen_back(sub, reason, now))
    challenge = query.get("hub.challenge", "")
    if not challenge:
        return Verdict(404, "no challenge", sub)
    if mode == "subscribe" and sub.state in ("requested", "subscribed"):
        lease = lease_given(query.get("hub.lease_seconds"), sub.lease)
        return Verdict(200, challenge, verified(sub, lease, now))
    if mode == "unsubscribe" and sub.state == "unsubscribing":
        return Verdict(200, challenge, None)
    return Verdict(404, "not asked for", sub)


def lease_given(value: str | None, asked: timedelta) -> timedelta:
    """The hub's hub.lease_seconds (it decides), else what we asked for."""
    if value and value.isascii() and value.isdigit() and len(value) <= 9 and int(value) > 0:
        return timedelta(seconds=int(value))
    return asked


def verified(sub: PushSubscription, lease: timedelta, now: datetime) -> PushSubscription:
    """Subscribed for `lease` from now; renewed when RENEW_AT of it has gone."""
    return replace(
        sub, state="subscribed", requested_at=None, verified_at=now, expires_at=now + lease,
        due_at=now + lease * RENEW_AT, reason=None,
    )  # fmt: skip


def requested(sub: PushSubscription, now: datetime) -> PushSubscription:
    """Asked the hub (anew, or to renew): its check is awaited until VERIFY_WAIT from now (or the end of
    the lease, if sooner)."""
    wait = now + VERIFY_WAIT
    return replace(sub, requested_at=now, due_at=min(wait, sub.expires_at) if sub.expires_at else wait)


def fallen_back(sub: PushSubscription, reason: str, now: datetime) -> PushSubscription:
    """Polling at the feed's own interval again; the hub is asked again after RETRY_HUB."""
    return replace(
        sub, state="fallback", requested_at=None, expires_at=None, due_at=now + RETRY_HUB, reason=reason
    )


def may_subscribe(sub: PushSubscription | None, found: HubLinks) -> bool:
    """Whether a poll that found this hub should ask it for a subscription: none yet, or another hub or
    topic than the one we have (a fallback's hub is asked again by the renewal check: websub.overdue)."""
    if sub is None:
        return True
    return sub.state != "unsubscribing" and (sub.hub, sub.topic) != (found.hub, found.topic)


def overdue(sub: PushSubscription, now: datetime) -> str | None:
    """What the renewal check does with a subscription now: "renew" it, "retry" a hub after a fallback,
    "forget" an unsubscription the hub never confirmed, fall back to polling (the reason), or nothing."""
    if now < sub.due_at:
        return None
    if sub.state == "fallback":
        return "retry"
    if sub.state == "requested":
        return "the hub did not confirm the subscription"
    if sub.state == "unsubscribing":
        return "forget"
    return "renew" if sub.expires_at is None or now < sub.expires_at else "the lease ran out"


def silent(sub: PushSubscription, found_new: int, now: datetime) -> bool:
    """Whether the hub has gone silent: the safety-net poll found entries no push brought, and no push
    came for SILENT_AFTER (since it was verified, if none ever came)."""
    last = sub.last_push_at or sub.verified_at
    return sub.state == "subscribed" and found_new > 0 and last is not None and now - last >= SILENT_AFTER


def safety_interval(interval: timedelta) -> timedelta:
    """How often a feed is polled while a hub pushes it: SAFETY_NET, or its own interval if longer."""
    return max(interval, SAFETY_NET)
