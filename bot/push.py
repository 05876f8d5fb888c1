"""WebSub push ingest: ask the hubs that feeds name for subscriptions, answer their calls on http.port
(/websub/<token>), take a pushed body through the same path as a poll's (parse, keep new, match,
outbox), renew leases, and fall back to polling when a hub refuses, never confirms or goes silent.

The decisions are bot/feeds/websub.py's; here are the requests to hubs, the rows and the two routes.
Specs: W3C WebSub (https://www.w3.org/TR/websub/), the subscriber's side.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot.domain import Clock, Feed, PushSubscription
from bot.errors import FetchError
from bot.feeds.fetch import FetchLimits, FetchResult
from bot.feeds.guard import refusal
from bot.feeds.websub import (
    LEASE,
    VERIFY_WAIT,
    HubLinks,
    fallen_back,
    may_subscribe,
    overdue,
    requested,
    safety_interval,
    signed,
    silent,
    verdict,
)
from bot.pipeline import Poller, PollReport
from bot.store import Store

log = logging.getLogger(__name__)

CALLBACK = "/websub/{token}"
CLAIM = timedelta(minutes=5)  # a push holds its feed this long at most, as a poll does
CLAIM_TRIES = 40  # a push waits for a poll of its feed in flight this many times CLAIM_WAIT, then 503
CLAIM_WAIT = 0.25  # seconds
HUB_TIMEOUT = aiohttp.ClientTimeout(total=20, sock_connect=10)
MAX_PUSH_BYTES = FetchLimits().max_bytes  # a pushed body is capped as a fetched one is


class Pushes:
    """The WebSub subscriber: one per process, built when http.public_url is set."""

    def __init__(
        self,
        public_url: str,
        store: Store,
        poller: Poller,
        clock: Clock,
        record: Callable[[list[PollReport]], Awaitable[None]],
        wake: Callable[[], None] = lambda: None,
        lease: timedelta = LEASE,
    ):
        self.public_url = public_url
        self.store = store
        self.poller = poller
        self.clock = clock
        self.record = record  # what a poll tick does with its reports (metrics, quiet feeds' state)
        self.wake = wake  # the delivery job, now: a pushed story's alert does not wait for its tick
        self.lease = lease

    def routes(self) -> list[web.RouteDef]:
        return [web.get(CALLBACK, self._verify), web.post(CALLBACK, self._receive)]

    def callback(self, sub: PushSubscription) -> str:
        return f"{self.public_url}{CALLBACK.format(token=sub.token)}"

    # -- polling's side: the safety net, new hubs, silent hubs ------------------------------------------

    async def polled_as(self, feeds: Sequence[Feed]) -> list[Feed]:
        """The claimed feeds as they are polled: those a hub pushes only as a safety net."""
        pushed = await self.store.pushed_feeds([feed.id for feed in feeds])
        return [replace(f, interval=safety_interval(f.interval)) if f.id in pushed else f for f in feeds]

    async def after_polls(self, feeds: Sequence[Feed], reports: Sequence[PollReport]) -> None:
        """A hub that let a poll find what it never pushed falls back to polling; a hub a feed names is
        asked for a subscription when it is worth it (websub.may_subscribe)."""
        now, found_new = self.clock.now(), {r.feed_id: r.new for r in reports if r.new}
        for sub in (await self.store.pushed_feeds(list(found_new))).values():
            if silent(sub, found_new[sub.feed_id], now):
                await self._fall_back(sub, "the hub went silent: polls found entries it never pushed")
        by_id, asks = {feed.id: feed for feed in feeds}, []
        for report in reports:
            sub = await self.store.push_subscription(report.feed_id) if report.hub else None
            if report.hub and may_subscribe(sub, report.hub):
                asks.append(self.subscribe(report.feed_id, by_id[report.feed_id].trusted, report.hub))
        await asyncio.gather(*asks)

    async def subscribe(self, feed_id: int, trusted: bool, found: HubLinks) -> None:
        """Ask the hub for a subscription with a new callback and secret; the hub checks our intent
        (_verify) before or after it answers. `trusted`: the feed is not from a chat."""
        now = self.clock.now()
        sub = PushSubscription(
            feed_id, found.hub, found.topic, secrets.token_urlsafe(24), secrets.token_hex(32), "requested",
            now + VERIFY_WAIT, self.lease, requested_at=now,
        )  # fmt: skip
        await self.store.save_push(sub)  # before asking: a hub may check at once
        if problem := await self._ask(sub, trusted, "subscribe"):
            await self._fall_back(sub, problem)
        else:
            log.info("feed %s: asked the WebSub hub %s for pushes", feed_id, _host(sub.hub))

    # -- the renewal check (a scheduler job; tests call it with the fake clock) ------------------------

    async def renew_due(self) -> None:
        """Renew the leases near their end, give up on hubs that never confirmed, and unsubscribe from
        the feeds no longer polled."""
        for sub, active, trusted in await self.store.due_pushes(self.clock.now()):
            if not active and sub.state != "unsubscribing":
                await self._unsubscribe(sub, trusted)
                continue
            match overdue(sub, self.clock.now()):
                case None:
                    pass
                case "forget":
                    await self.store.forget_push(sub.feed_id)
                case "retry":
                    await self.subscribe(sub.feed_id, trusted, HubLinks(sub.hub, sub.topic))
                case "renew":
                    await self.store.save_push(requested(sub, self.clock.now()))
                    if problem := await self._ask(sub, trusted, "subscribe"):
                        await self._fall_back(sub, problem)
                case reason:
                    await self._fall_back(sub, reason)

    async def _unsubscribe(self, sub: PushSubscription, trusted: bool) -> None:
        await self.store.save_push(
            requested(replace(sub, state="unsubscribing", expires_at=None), self.clock.now())
        )
        if problem := await self._ask(sub, trusted, "unsubscribe"):  # its pushes are refused anyway (410)
            log.info(
                "feed %s is no longer polled; unsubscribing from its hub failed: %s", sub.feed_id, problem
            )

    async def _fall_back(self, sub: PushSubscription, reason: str) -> None:
        await self.store.fall_back(fallen_back(sub, reason, self.clock.now()), self.clock.now())
        log.warning(
            "feed %s: no WebSub pushes (%s); polling it as usual, and asking the hub again in a day",
            sub.feed_id, reason,
        )  # fmt: skip

    async def _ask(self, sub: PushSubscription, trusted: bool, mode: str) -> str | None:
        """POST the (un)subscription request to the hub; None when it accepted, else why not. A hub a
        chat's feed names goes through the SSRF guard, as the feed does. Redirects are not followed."""
        fetcher = self.poller.fetcher if trusted else self.poller.guarded
        form = {"hub.mode": mode, "hub.topic": sub.topic, "hub.callback": self.callback(sub)}
        if mode == "subscribe":
            form |= {"hub.lease_seconds": str(int(sub.lease.total_seconds())), "hub.secret": sub.secret}
        try:
            if fetcher.check_hop:
                fetcher.check_hop(sub.hub)
            # Specs: WebSub 5.1 Subscriber Sends Subscription Request (202 Accepted; 2xx taken as yes)
            async with fetcher.session.post(
                sub.hub, data=form, timeout=HUB_TIMEOUT, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return None
                said = " ".join((await response.content.read(200)).decode("utf-8", "replace").split())
                return f"the hub answered HTTP {response.status}" + (f": {said}" if said else "")
        except FetchError as error:
            return str(error)
        except (aiohttp.ClientError, TimeoutError) as error:
            guarded = refusal(error) if isinstance(error, aiohttp.ClientError) else None
            return str(guarded) if guarded else f"cannot reach the hub: {type(error).__name__}"

    # -- the hub's calls ------------------------------------------------------------------------------

    async def _verify(self, request: web.Request) -> web.Response:
        """The hub checks our intent (Specs: 5.3): the challenge echoed for what we asked, else 404."""
        found = await self.store.push_by_token(request.match_info["token"])
        if found is None:
            return web.Response(status=404, text="no such subscription")
        sub = found[0]
        answer = verdict(sub, dict(request.query), self.clock.now())
        if answer.after is None:
            await self.store.forget_push(sub.feed_id)
            log.info("feed %s: unsubscribed from its WebSub hub", sub.feed_id)
        elif answer.after != sub:
            await self.store.save_push(answer.after)
            if answer.after.state == "subscribed":
                log.info("feed %s: the hub %s confirmed; pushes come until %s UTC", sub.feed_id,
                         _host(sub.hub), f"{answer.after.expires_at:%Y-%m-%d %H:%M}")  # fmt: skip
            else:
                log.warning("feed %s: %s; polling it as usual", sub.feed_id, answer.after.reason)
        return web.Response(status=answer.status, text=answer.body)

    async def _receive(self, request: web.Request) -> web.Response:
        """A pushed body (Specs: 7, 8). Taken only when signed with our secret; one that is not is
        ignored, yet answered 202, as the spec allows, so that a forger learns nothing. 410 tells a hub
        that the subscription is no more; 503 that the push could not be kept now: send it again."""
        found = await self.store.push_by_token(request.match_info["token"])
        if found is None or not found[1]:
            return web.Response(status=410, text="no such subscription")
        sub = found[0]
        body = await _read_capped(request)
        if body is None:
            return web.Response(status=413, text=f"larger than {MAX_PUSH_BYTES} bytes")
        if not signed(request.headers.get("X-Hub-Signature"), body, sub.secret):
            log.warning("feed %s: a push without a valid X-Hub-Signature was ignored", sub.feed_id)
            return web.Response(status=202)
        await self.store.record_push(sub.feed_id, self.clock.now())
        try:
            report = await self._take(sub.feed_id, body, request.headers.get("Content-Type"))
        except FetchError as error:  # signed, but not a feed: sending it again will not help
            log.warning("feed %s: a push was not a feed and was ignored: %s", sub.feed_id, error)
            return web.Response(status=202)
        except Exception:
            log.exception("feed %s: a push could not be kept; its hub will send it again", sub.feed_id)
            return web.Response(status=503, headers={"Retry-After": "60"})
        if report is None:
            return web.Response(status=503, headers={"Retry-After": "60"}, text="busy: send it again")
        if report.alerts:
            self.wake()
        return web.Response(status=204)

    async def _take(self, feed_id: int, body: bytes, content_type: str | None) -> PollReport | None:
        """The pushed body through the poll's path, holding the feed as a poll does (waiting for one in
        flight to end); None when it stays held."""
        for _ in range(CLAIM_TRIES):
            claimed = await self.store.claim_due_feeds(self.clock.now(), 1, CLAIM, only=[feed_id])
            if claimed:
                break
            await self.clock.sleep(CLAIM_WAIT)
        else:
            return None
        feed = replace(claimed[0], interval=safety_interval(claimed[0].interval))
        pushed = FetchResult(body, feed.etag, feed.last_modified, feed.url, content_type=content_type)
        try:
            report = await self.poller.poll(feed, pushed)
        except BaseException:
            await self.store.release_feeds([feed.id])
            raise
        await self.record([report])
        return report


async def _read_capped(request: web.Request) -> bytes | None:
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_PUSH_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _host(url: str) -> str:
    return urlsplit(url).hostname or url
