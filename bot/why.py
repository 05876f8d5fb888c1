"""`/why URL` and `newsalert why URL`: what happened to an article the bot has seen. Pure: the rows the
store read (store/why.py) in, the explanation out.

It says which feed and poll brought the article, which story it joined, what each rule of a chat made of
it (the quote an alert shows, or the nearest missing term), and where the chat's alert is. Nothing here
decides anew: the matcher and its quotes are the pipeline's, the digest and quiet-hour windows pacing's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from bot.dedupe import canonical_url, url_key
from bot.domain import Match, Rule
from bot.errors import QueryError
from bot.pacing import release_at
from bot.pipeline import Matcher
from bot.rules.index import Document
from bot.rules.miss import Excluded, Missing, Reason, nearest_miss
from bot.rules.query import parse_rule
from bot.rules.text import DEFAULT_LANGUAGE
from bot.store.why import ChatRule, ChatView, Seen, SeenArticle, Unseen

# A chat's answer is one message (Slack's section takes 2,900 characters here, Telegram 4,096) and always
# ends with the delivery: at most CHAT_RULES rules, each line at most CHAT_LINE characters, a quote at most
# CHAT_QUOTE. The command line shows everything.
CHAT_RULES = 8
CHAT_LINE = 220
CHAT_QUOTE = 120


def lookup(url: str) -> tuple[list[str], list[str]]:
    """The links an article at url may be stored under (as typed, and as alerts show it), and its
    story key (dedupe.url_key: no scheme, www., trailing slash). Slack may wrap a link: <url|label>."""
    url = url.strip().removeprefix("<").removesuffix(">").split("|", 1)[0].strip()
    return list(dict.fromkeys([url, canonical_url(url)])), [url_key(url)]


def for_chat(seen: Seen, name: str) -> Seen:
    """Only the subscriptions with this name or address."""
    chats = tuple(v for v in seen.chats if name in (v.subscription.name, v.subscription.address))
    return replace(seen, chats=chats)


def unseen(counts: Unseen) -> str:
    if not counts.articles:
        return "I have not seen that URL; I have not stored any article yet."
    feeds = "1 feed" if counts.feeds == 1 else f"{counts.feeds} feeds"
    return (
        f"I have not seen that URL; I have seen {counts.articles} articles from {feeds} "
        f"since {_when(counts.since)}."
    )


def explain(
    seen: Seen, now: datetime, language: str = DEFAULT_LANGUAGE, *, chat: bool = True, prefix: str = "/"
) -> str:
    """The article, its feed and story, then per chat its rules and its alert. `chat`: short, clipped to
    one message, for the asking chat only; else (the command line) whole, a section per subscription."""
    article, story = seen.article, seen.story
    published = f", published {_when(article.published_at)}" if article.published_at else ""
    lines = [
        article.title,
        f"Feed: {article.feed_name}, found by the poll of {_when(article.fetched_at)}{published}.",
    ]
    if story:
        outlets = "1 outlet" if len(story.outlets) == 1 else f"{len(story.outlets)} outlets"
        lines.append(
            f"Story: {story.face} ({outlets}: {', '.join(story.outlets)}; "
            f"first seen {_when(story.first_seen)})."
        )
    if not seen.chats:
        lines.append(
            f"This chat watches nothing: {prefix}watch RULE to start." if chat else "No subscriptions."
        )
    for view in seen.chats:
        if not chat:
            sub = view.subscription
            lines += ["", f"Chat {sub.name} ({sub.channel} {sub.address}):"]
        lines += _chat(view, article, now, language, chat, prefix)
    return "\n".join(map(_clipper(CHAT_LINE if chat else None), lines))


def _chat(
    view: ChatView, article: SeenArticle, now: datetime, language: str, chat: bool, prefix: str
) -> list[str]:
    matches = _matches(view, article, language)
    shown = view.rules[:CHAT_RULES] if chat else view.rules
    lines = ["Rules:" if view.rules else "Rules: none."]
    lines += [f"  {rule.id}. {_verdict(rule, matches, article, language, chat)}" for rule in shown]
    if len(view.rules) > len(shown):
        lines.append(f"  ... and {len(view.rules) - len(shown)} more ({prefix}rules lists them).")
    matched = [rule for rule in view.rules if rule.id in matches]
    lines.append("Delivery: " + delivery(view, matched, article, now))
    return lines


def _matches(view: ChatView, article: SeenArticle, language: str) -> dict[int, Match]:
    """The chat's rules that match the article, each with the quote its alert shows (the pipeline's)."""
    matcher = Matcher(language)
    matcher.sync(Rule(rule.id, view.subscription.id, rule.query, rule.urgent) for rule in view.rules)
    return {m.rule_id: m for alert in matcher.alerts(_document(article)) for m in alert.matches}


def _document(article: SeenArticle) -> Document:
    return Document(article.title, article.body, article.feed_name, article.link)  # as prepare_story


def _verdict(
    rule: ChatRule, matches: dict[int, Match], article: SeenArticle, language: str, chat: bool
) -> str:
    clip = _clipper(CHAT_QUOTE if chat else None)
    name = rule.query + ("" if rule.active else " (paused)")
    if rule.id in matches:
        quote = matches[rule.id].quote.text
        return f"{name}: matched" + (f": \u201c{clip(quote)}\u201d" if quote else ".")
    try:
        tree = parse_rule(rule.query, language)
    except QueryError as error:
        return f"{name}: cannot be used ({error.reason})."
    reasons = nearest_miss(tree, _document(article), language)
    return f"{name}: no match" + (": " + "; ".join(map(describe_reason, reasons)) if reasons else "") + "."


def describe_reason(reason: Reason) -> str:
    if isinstance(reason, Missing):
        return f"missing {reason.term}" + (f" ({reason.note})" if reason.note else "")
    if isinstance(reason, Excluded):
        return f"it has {reason.term}, which the rule excludes"
    both = f"{reason.left} and {reason.right} are there"
    if reason.apart is None:
        return f"{both}, but not in the same part (title or text)"
    return f"{both}, but {reason.apart} words apart (NEAR/{reason.distance})"


def delivery(view: ChatView, matched: Sequence[ChatRule], article: SeenArticle, now: datetime) -> str:
    """Where this chat's alert for the article's story is, from its outbox row and its settings; matched:
    the chat's rules that match the article (paused ones too)."""
    sub, row = view.subscription, view.alert
    if row is None:
        if not matched:
            return "none of this chat's rules matches it, so no alert."
        if not any(rule.active for rule in matched):
            return "no alert: the rules that match it are paused."
        if not sub.active:
            return "no alert: this chat is stopped."
        if all(rule.created_at > article.fetched_at for rule in matched if rule.active):
            return "no alert: the rule came after the article (rules alert on stories arriving later)."
        if article.first_poll:
            return "no alert: it came with the feed's backlog on its first poll."
        return "no alert was made when it came (the chat was stopped or the rule paused then)."
    if row.status == "sent":
        when = _when(row.sent_at)
        if row.message_id or row.urgent:
            return f"sent {when}."
        if release_at(row.created_at, sub.digest, sub.quiet) > row.created_at:
            return f"sent {when}, in a digest."
        return (
            f"sent {when}, in a rolling \u201cBreaking\u201d message (its rule matched many stories at once)."
        )
    dropped = {
        "muted": "dropped: this chat was muted when it was due.",
        "stopped": "dropped: this chat said stop before it went out.",
        "merged": "dropped: its story merged into another one this chat had an alert for.",
        "gone": f"not delivered: {sub.channel} said this chat is gone ({row.last_error}).",
    }
    if row.status in dropped:
        return dropped[row.status]
    if not sub.active:
        return "waiting, but this chat is stopped."
    if sub.muted_until and sub.muted_until > now:
        return f"muted until {_when(sub.muted_until)}: it will be dropped, not sent."
    if row.attempts and row.last_error:
        tries = "1 failed try" if row.attempts == 1 else f"{row.attempts} failed tries"
        return f"pending retry at {_when(row.next_attempt_at)} after {tries}."  # the error: in the log
    if not row.urgent and not row.message_id:
        release = release_at(row.created_at, sub.digest, sub.quiet)
        if release > now:
            if release != release_at(row.created_at, sub.digest, None):
                return f"held by quiet hours ({sub.quiet}) until {_when(release)}."
            return f"waiting for the {sub.digest} digest, which goes {_when(release)}."
    return "due now: it goes out at the next delivery round."


def _when(moment: datetime | None) -> str:
    return f"{moment:%d %b %Y %H:%M} UTC" if moment else "an unknown time"


def _clipper(limit: int | None) -> Callable[[str], str]:
    """Text on one line (but for leading spaces), at most limit characters (None: all of it)."""

    def clip(text: str) -> str:
        text = text[: len(text) - len(text.lstrip(" "))] + " ".join(text.split())
        return text if limit is None or len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"

    return clip
