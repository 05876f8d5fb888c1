"""WebSub's decisions (bot/feeds/websub.py): hub discovery, signatures, verification, leases, fallback."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import PushSubscription
from bot.feeds.websub import (
    RETRY_HUB,
    SILENT_AFTER,
    VERIFY_WAIT,
    HubLinks,
    hub_links,
    may_subscribe,
    overdue,
    requested,
    safety_interval,
    signed,
    silent,
    verdict,
    verified,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FEED = "https://news.example.org/feed.xml"
HUB = "https://hub.example.net/"
OWN = "https://news.example.org/self"
ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>News</title>
  <link rel="hub" href="https://hub.example.net/"/>
  <link href="https://news.example.org/atom" rel="self" type="application/atom+xml"/>
  <entry><title>One</title><link rel="hub" href="https://wrong.example.net/"/></entry>
</feed>"""
RSS = b"""<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
  <title>News</title>
  <atom:link rel='self' href='/rss?x=1&amp;y=2' type='application/rss+xml'/>
  <atom:link rel='hub' href='https://hub.example.net/'/>
  <item><title>One</title></item>
</channel></rss>"""
HTML = b'<html><head><link rel="alternate hub" href="https://hub.example.net/"></head><body></body></html>'


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        (ATOM, None, HubLinks(HUB, "https://news.example.org/atom")),
        (RSS, None, HubLinks(HUB, "https://news.example.org/rss?x=1&y=2")),  # relative, entities decoded
        (HTML, None, HubLinks(HUB, FEED)),  # no self link: the topic is where it was fetched
        # the Link header goes first, hub and self together
        (ATOM, '<https://h.example/>; rel="hub", </self>; rel=self', HubLinks("https://h.example/", OWN)),
        (b"<rss></rss>", '<https://h.example/>; rel="hub"', HubLinks("https://h.example/", FEED)),
        (b"<rss><item><atom:link rel='hub' href='https://h.example/'/></item></rss>", None, None),
        (b"<feed><link rel='hub' href='javascript:alert(1)'/></feed>", None, None),  # http(s) hubs only
        (b"", "", None),
        (None, None, None),  # a 304: nothing to read
    ],
)  # fmt: skip
def test_a_feed_names_its_hub_in_its_link_header_or_its_head(body, header, expected):
    assert hub_links(body, header, FEED) == expected


def test_hub_discovery_reads_only_the_head_of_a_huge_feed():
    body = b"<rss><channel>" + b"<x>" * 100_000 + b"<atom:link rel='hub' href='https://h.example/'/>"
    assert hub_links(body, None, FEED) is None


def _sign(method: str, body: bytes, secret: str = "s3cret") -> str:
    return f"{method}={hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()}"


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_every_signature_method_of_the_spec_is_accepted(method):
    assert signed(_sign(method, b"<feed/>"), b"<feed/>", "s3cret")
    assert signed(_sign(method, b"<feed/>").upper().replace(method.upper(), method), b"<feed/>", "s3cret")


@pytest.mark.parametrize(
    "header",
    [
        None, "", "sha256", "sha256=", "md5=" + hashlib.md5(b"<feed/>").hexdigest(),
        _sign("sha256", b"<feed/>", "another secret"), _sign("sha256", b"<feed/> "),
        "sha256=" + "é" * 64,
    ],
)  # fmt: skip
def test_a_push_not_signed_with_our_secret_over_these_bytes_is_refused(header):
    assert not signed(header, b"<feed/>", "s3cret")


def _sub(**changes) -> PushSubscription:
    base = PushSubscription(
        1, HUB, FEED, "tok", "s3cret", "requested", NOW + VERIFY_WAIT, timedelta(days=10), requested_at=NOW
    )
    return replace(base, **changes)


def _query(mode="subscribe", topic=FEED, **extra) -> dict[str, str]:
    return {"hub.mode": mode, "hub.topic": topic, "hub.challenge": "c-42", **extra}


def test_the_challenge_is_echoed_only_for_the_topic_and_mode_we_asked_for():
    answer = verdict(_sub(), _query(**{"hub.lease_seconds": "3600"}), NOW)
    assert (answer.status, answer.body) == (200, "c-42")
    assert answer.after.state == "subscribed"
    assert answer.after.expires_at == NOW + timedelta(hours=1)  # the hub's lease, not ours
    assert answer.after.due_at == NOW + timedelta(minutes=48)  # renewed with a fifth of it to spare
    assert verdict(_sub(), _query(topic=FEED + "?other"), NOW).status == 404
    assert verdict(_sub(), _query(mode="unsubscribe"), NOW).status == 404
    assert verdict(_sub(), {**_query(), "hub.challenge": ""}, NOW).status == 404
    assert verdict(_sub(state="fallback"), _query(), NOW).status == 404
    gone = verdict(_sub(state="unsubscribing"), _query(mode="unsubscribe"), NOW)
    assert (gone.status, gone.body, gone.after) == (200, "c-42", None)


def test_a_hub_that_denies_sends_the_feed_back_to_polling():
    answer = verdict(_sub(), _query(mode="denied", **{"hub.reason": "topic not allowed"}), NOW)
    assert answer.after.state == "fallback"
    assert answer.after.reason == "the hub refused: topic not allowed"
    assert answer.after.due_at == NOW + RETRY_HUB
    long = verdict(_sub(), _query(mode="denied", **{"hub.reason": "forged\nERROR line " + "x" * 500}), NOW)
    assert (
        long.after.reason.startswith("the hub refused: forged ERROR line xxx")
        and len(long.after.reason) < 250
    )


def test_an_odd_lease_from_the_hub_is_replaced_by_ours():
    for odd in ("0", "-5", "abc", "9" * 30, "١٢"):
        answer = verdict(_sub(), _query(**{"hub.lease_seconds": odd}), NOW)
        assert answer.after.expires_at == NOW + timedelta(days=10), odd


def test_leases_are_renewed_before_they_end_and_fall_back_when_they_do():
    sub = verified(_sub(), timedelta(days=10), NOW)
    assert overdue(sub, NOW + timedelta(days=7)) is None
    assert overdue(sub, NOW + timedelta(days=8)) == "renew"
    asked = requested(sub, NOW + timedelta(days=8))
    assert overdue(asked, NOW + timedelta(days=8, minutes=5)) is None
    assert overdue(asked, NOW + timedelta(days=8) + VERIFY_WAIT) == "renew"  # not checked: asked again
    late = requested(sub, NOW + timedelta(days=10) - timedelta(minutes=1))
    assert late.due_at == sub.expires_at
    assert overdue(late, NOW + timedelta(days=10)) == "the lease ran out"


def test_a_hub_that_never_checks_our_intent_is_given_up():
    assert overdue(_sub(), NOW + VERIFY_WAIT - timedelta(seconds=1)) is None
    assert overdue(_sub(), NOW + VERIFY_WAIT) == "the hub did not confirm the subscription"
    assert overdue(_sub(state="unsubscribing"), NOW + VERIFY_WAIT) == "forget"
    fell = _sub(state="fallback", due_at=NOW + RETRY_HUB)
    assert overdue(fell, NOW + RETRY_HUB - timedelta(seconds=1)) is None
    assert overdue(fell, NOW + RETRY_HUB) == "retry"


def test_a_hub_is_silent_when_polls_find_what_no_push_brought():
    sub = verified(_sub(), timedelta(days=10), NOW)
    assert not silent(sub, 3, NOW + SILENT_AFTER - timedelta(minutes=1))
    assert not silent(sub, 0, NOW + SILENT_AFTER * 10)  # nothing new: nothing missed
    assert silent(sub, 1, NOW + SILENT_AFTER)
    pushed = replace(sub, last_push_at=NOW + timedelta(hours=5))
    assert not silent(pushed, 1, NOW + SILENT_AFTER)  # it pushes: one missed entry is a race, not silence


def test_a_poll_asks_a_hub_for_a_new_subscription_only_when_it_is_worth_it():
    found = HubLinks(HUB, FEED)
    assert may_subscribe(None, found)
    assert not may_subscribe(_sub(), found)
    assert not may_subscribe(_sub(state="subscribed"), found)
    assert may_subscribe(_sub(state="subscribed"), HubLinks("https://new-hub.example/", FEED))
    assert not may_subscribe(_sub(state="fallback"), found)  # asked again by the renewal check, a day later
    assert not may_subscribe(_sub(state="unsubscribing"), found)


def test_a_pushed_feed_is_still_polled_hourly_or_at_its_own_longer_interval():
    assert safety_interval(timedelta(minutes=5)) == timedelta(hours=1)
    assert safety_interval(timedelta(hours=3)) == timedelta(hours=3)


def test_the_secret_stays_out_of_a_subscriptions_repr():
    assert "s3cret" not in repr(_sub()) and "s3cret" not in str(_sub())
