"""Measures what a user gets from real feeds: the alerts' defects, and how articles are grouped into stories.

Alerts: the 51 saved real feeds (../shared/corpus/real-feeds) with the seven rules of issue #19, through
`newsalert check` itself (bot.check.check, each alert as the console shows it), every alert
looked at by the detectors below: plain rules written here, independent of the bot's own cleaning.
Stories: every corpus article through the story decider as the store calls it (bot.dedupe.story_key, then
bot.stories.Stories: index terms, candidates through them, decide), in feed order and in three seeded
shuffled arrival orders, scored on the hand-labelled events (tests/data/events.json): pairwise precision
and recall, hard negatives merged, and the CPU the story step takes per article. With --embeddings URL,
the same again with the optional embeddings (summary.llm.embeddings_model) from that OpenAI-compatible
endpoint, e.g. bench/embeddings_server.py's (its docstring says how to start it). Run from the repo root:
    .venv/bin/python bench/quality_eval.py [--quick] [--self-check] [--embeddings URL [--model NAME]]
The full run replaces the "# Quality" section of bench/RESULTS.md; --quick (one timing pass) only prints;
--self-check only tries the detectors on the sentences written in self_check().
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.results import write_section  # noqa: E402
from bot.check import check  # noqa: E402
from bot.config import LlmSettings, load_settings  # noqa: E402
from bot.dedupe import story_key, without_own_name  # noqa: E402
from bot.domain import Alert, Article, Match, Quote, StoryArticle, StoryKey, TermCounts  # noqa: E402
from bot.feeds.parse import parse_feed  # noqa: E402
from bot.stories import InMemory, Stories, term_counts  # noqa: E402
from bot.summary import clean_body, embeddings  # noqa: E402
from tests.data.events import CORPUS, Labels, feed_order, load_labels  # noqa: E402

RULES = (  # the issue's seven, as a new user would type them
    "Greenland",
    "title:(Iran OR Israel)",
    "Ukraine NEAR/10 Russia",
    '"Prime Minister" (Japan OR India OR Pakistan)',
    "Winter Olympics",
    "tariffs",
    "NATO",
)
PM_RULE = RULES[3]
# What the quote of a rule with several required terms must hold: a word starting so, from each group.
REQUIRED = {
    "Ukraine NEAR/10 Russia": (("ukrain",), ("russia",)),
    PM_RULE: (("prime minister",), ("japan", "india", "pakistan")),
}
MAX_WORDS = 60
SEEDS = (1, 2, 3)  # the shuffled arrival orders
EMBEDDINGS_MODEL = "all-MiniLM-L6-v2"  # bench/embeddings_server.py's, which summary.llm.embeddings_bar fits
OPTION = "lexical + embeddings (option)"
GOAL_DEFECTS = 0.02
GOAL_RECALL, GOAL_PRECISION, GOAL_NEGATIVES = 0.8, 0.98, 1
ISSUE_SAW = "34 of 203 alerts (17%)"
UNSEEN_AT_A_GLANCE = ("tracking parameter", "AND quote missing a term")
MEDIA = "http://search.yahoo.com/mrss/"

# ---- detectors: each looks at text a user reads and names the defect it sees, or returns None ------------

_SEPARATORS = (" - ", " – ", " — ", " -- ", ": ")
_AGENCY_TAG = re.compile(r"\([A-Z][A-Za-z.]{0,15}(?: [A-Z][A-Za-z.]{0,15}){0,2}\)$")  # "(Reuters)", "(AP)"


def dateline(text: str) -> str:
    """The dateline or source tag a text starts with, separator included ("JERUSALEM: ", "A/B/C, Feb 17 - ",
    "BERLIN, Feb 17 (Reuters) - ", "[Outlet] City -- "); "" when it starts with none. A dateline is the
    text before the first separator in its first 70 characters when its first word is in capitals or it
    ends with an agency's tag in brackets."""
    if text.startswith("[") and 0 < text.find("]") < 40:
        rest = text[text.find("]") + 1 :].lstrip()
        return text[: len(text) - len(rest)] + _place(rest)
    ends = [(at, sep) for sep in _SEPARATORS if (at := text.find(sep, 0, 70)) > 0]
    if not ends:
        return ""
    at, sep = min(ends)
    first = text[:at].split(",")[0].split(" ")[0].replace("/", "")
    if (len(first) >= 3 and first.isalpha() and first.isupper()) or _AGENCY_TAG.search(text[:at]):
        return text[: at + len(sep)]
    return ""


def _place(text: str) -> str:
    """A capitalized place and its separator after a source tag: "Nairobi -- "."""
    ends = [(at, sep) for sep in _SEPARATORS if (at := text.find(sep, 0, 30)) > 0]
    if not ends:
        return ""
    at, sep = min(ends)
    return text[: at + len(sep)] if all(word[:1].isupper() for word in text[:at].split()) else ""


def lead_defect(summary: str) -> str | None:
    """A summary that starts mid-sentence (its first letter in lowercase) or with a dateline."""
    text = summary.lstrip()
    first = next((c for c in text if c.isalpha()), "")
    if first.islower():
        return f"starts in lowercase: {text[:40]!r}"
    found = dateline(text)
    return f"dateline: {found.strip()!r}" if found else None


def lost_lead(summary: str, text: str, captions: Sequence[str]) -> str | None:
    """A summary without the article's first sentence. The lead is the first paragraph of five words or
    more that ends a sentence and is not an image caption, without its dateline; it is lost when its
    first six words are not in the summary and the summary does not start with its first three (an
    aside cut from the lead is no loss)."""
    for paragraph in map(str.strip, text.splitlines()):
        if len(paragraph.split()) < 5 or not paragraph.rstrip("\"'”’)]").endswith((".", "!", "?", "…")):
            continue
        if any(_plain(paragraph)[:40] in _plain(caption) for caption in captions):
            continue
        opening, shown = _words(paragraph[len(dateline(paragraph)) :])[:6], _words(summary)
        if " ".join(opening) in " ".join(shown) or opening[:3] == shown[:3]:
            return None
        return f"lead left out: {paragraph[:60]!r}"
    return None


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _plain(text: str) -> str:
    return " ".join(re.sub(r"<[^<>]{0,300}>", " ", text).split()).casefold()


_CREDIT = re.compile(r"\((?:Image|Photo|Picture) credit:|\bPhotograph: |\(AP Photo|\bPhoto: ", re.IGNORECASE)


def caption_defect(summary: str, captions: Sequence[str], description: str) -> str | None:
    """A summary that is an image's caption (the item's media:description or media:text, when that is
    not also its description), or that carries a photo credit."""
    credit = _CREDIT.search(summary)
    if credit:
        return f"photo credit: {summary[credit.start() : credit.start() + 40]!r}"
    head = _plain(summary)[:60]
    if len(head) < 20 or head in _plain(description):
        return None
    return f"the image caption: {summary[:60]!r}" if any(head in _plain(c) for c in captions) else None


_CLOSERS = {"\u201d": "\u201c\u201e", "\u00bb": "\u00ab", "\u00ab": "\u00bb"}  # closer: what it closes


def unbalanced_quote(text: str) -> str | None:
    """A quotation mark opened and never closed, closed and never opened, or doubled. Pairs: “…”, „…“,
    „…”, «…», »…« and straight double quotes. Single quotes are not checked: ’ is the apostrophe too."""
    if "\u201c\u201c" in text or "\u201e\u201e" in text:
        return "a doubled opening mark"
    open_marks: list[str] = []
    for char in text:
        if char in '"\u201c' and open_marks and open_marks[-1] in ('"' if char == '"' else "\u201e"):
            open_marks.pop()  # a straight quote's second, or „ closed German-style by “
        elif char in '"\u201c\u201e':
            open_marks.append(char)
        elif char in _CLOSERS and open_marks and open_marks[-1] in _CLOSERS[char]:
            open_marks.pop()
        elif char == "\u201d":
            return "a closing mark never opened"
        elif char in _CLOSERS:
            open_marks.append(char)  # « or » opening
    return f"{open_marks[-1]} never closed" if open_marks else None


_SHORTCODE = re.compile(r"\[/?[a-z][a-z0-9_-]{1,30}(?:[ =][^\[\]]{0,300})?\]")


def shortcode(text: str) -> str | None:
    """A WordPress-style shortcode or embed left in the text ("[video id=…]", "[/caption]",
    "[time-brightcove …]"); not an editor's insertion in a quotation ("[the alliance]", "[sic]")."""
    for found in _SHORTCODE.finditer(text):
        inner = found.group()[1:-1]
        name = inner.split(" ")[0]
        if inner.startswith("/") or "=" in inner or "-" in name or "_" in name:
            return found.group()[:50]
    return None


_TRACKERS = {
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "icid", "ito", "cmpid",
    "ocid", "smid", "smtyp", "xtor", "traffic_source", "maca", "_ga", "_gl", "ref_src", "s_cid", "cmp",
}  # fmt: skip
_TRACKER_PREFIXES = ("utm_", "at_", "ns_")


def tracking_params(link: str, constants: dict[str, str]) -> list[str]:
    """The link's query (or key=value fragment) parameters that say where a click came from: well-known
    tracker names, and any parameter with the same value on every item of the feed (`constants`: it
    names the feed, not the article)."""
    return [
        f"{name}={value}"
        for name, value in _params(link)
        if name.lower() in _TRACKERS
        or name.lower().startswith(_TRACKER_PREFIXES)
        or constants.get(name) == value
    ]


def feed_constants(links: Sequence[str]) -> dict[str, str]:
    """The parameters with one value on every link of a feed of three links or more."""
    if len(links) < 3:
        return {}
    common = set(_params(links[0])).intersection(*(set(_params(link)) for link in links[1:]))
    return dict(common)


def _params(link: str) -> list[tuple[str, str]]:
    parts = urlsplit(link)
    fragment = parts.fragment if "=" in parts.fragment else ""
    return parse_qsl(parts.query, keep_blank_values=True) + parse_qsl(fragment, keep_blank_values=True)


def missing_term(match: Match) -> str | None:
    """A quote of a rule with several required terms (AND, NEAR) that lacks one of them."""
    words = f" {' '.join(_words(match.quote.text))} "
    for group in REQUIRED.get(match.rule, ()):
        if not any(f" {term}" in words for term in group):
            return f"{match.rule!r} quote lacks {'/'.join(group)}"
    return None


def length_defect(summary: str) -> str | None:
    """An empty summary, or one over MAX_WORDS words."""
    words = len(summary.split())
    return "empty" if not words else f"{words} words" if words > MAX_WORDS else None


_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]{0,15}(?:[ /][^<>]{0,300})?>")
_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,9}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")


def markup(text: str) -> str | None:
    """An HTML tag or character entity shown as text."""
    found = _TAG.search(text) or _ENTITY.search(text)
    return found.group()[:40] if found else None


_READ_MORE = re.compile(
    r"\b(?:read more|continue reading|keep reading|click here|seguir leyendo|lire la suite|weiterlesen|"
    r"leia mais|continua a leggere)\b(?! ?[a-z])|\bappeared first on\b|\[(?:…|\.\.\.)\]",
    re.IGNORECASE,
)


def read_more(text: str) -> str | None:
    """A link's words left in the text: "Read more", "Continue reading", "… appeared first on …", "[…]"."""
    found = _READ_MORE.search(text)
    return found.group() if found else None


def duplicate_keys(alert: Alert) -> list[str]:
    """What makes two alerts the same item or story to a reader: the same page (the link without scheme,
    www., fragment or tracking parameters), the same headline of five words or more, or the same summary
    of eight words or more."""
    parts = urlsplit(alert.link)
    query = sorted(f"{k}={v}" for k, v in parse_qsl(parts.query) if not tracking_params(f"?{k}={v}", {}))
    keys = [f"page {parts.netloc.lower().removeprefix('www.')}{parts.path.rstrip('/')}?{'&'.join(query)}"]
    title, summary = _words(alert.title), _words(alert.summary)
    keys += [f"headline {' '.join(title)}"] if len(title) >= 5 else []
    return keys + ([f"summary {' '.join(summary)}"] if len(summary) >= 8 else [])


def duplicates(alerts: Sequence[Alert]) -> dict[int, str]:
    """Alerts (by index) that repeat an earlier one's page, headline or summary."""
    first: dict[str, int] = {}
    found = {}
    for i, alert in enumerate(alerts):
        for key in duplicate_keys(alert):
            if key in first and i not in found:
                found[i] = f"{key.split(' ')[0]} of alert {first[key] + 1}"
            first.setdefault(key, i)
    return found


CLASSES = (  # as defects() reports them; "duplicate" is found over all alerts at once
    "lead lost or dateline",
    "caption as summary",
    "unbalanced quote",
    "shortcode",
    "tracking parameter",
    "AND quote missing a term",
    "summary empty or over 60 words",
    "markup or entity",
    '"Read more" and its kind',
)


@dataclass(frozen=True)
class Context:
    """What the detectors need beside the alert: the article's text as the bot parsed it, the raw item's
    captions and description, and its feed's constant link parameters."""

    text: str = ""
    captions: tuple[str, ...] = ()
    description: str = ""
    constants: dict[str, str] = field(default_factory=dict)


def defects(alert: Alert, context: Context) -> dict[str, str]:
    """Every class of defect (but "duplicate") this alert shows, with what was seen."""
    texts = [alert.summary, *(m.quote.text for m in alert.matches)]
    found = [
        lead_defect(alert.summary) or lost_lead(alert.summary, context.text, context.captions),
        caption_defect(alert.summary, context.captions, context.description),
        _first(unbalanced_quote, texts),
        _first(shortcode, [alert.title, *texts]),
        ", ".join(tracking_params(alert.link, context.constants)) or None,
        _first(missing_term, alert.matches),
        length_defect(alert.summary),
        _first(markup, [alert.title, *texts]),
        _first(read_more, texts),
    ]
    return {name: seen for name, seen in zip(CLASSES, found, strict=True) if seen}


def _first(detector: Callable, things: Sequence) -> str | None:
    return next((seen for thing in things if (seen := detector(thing))), None)


def self_check() -> None:
    """The detectors on sentences written here: what each must flag, and what it must leave alone."""
    cap = "A billboard in Tehran, Iran, last month."
    cases: list[tuple[Callable, tuple, bool]] = [
        (lead_defect, ("said on Monday that talks would resume.",), True),
        (lead_defect, ("…and the talks resumed.",), True),
        (lead_defect, ("JERUSALEM: The government approved it.",), True),
        (lead_defect, ("WASHINGTON/GENEVA/DUBAI, Feb 17 - Even for a president",), True),
        (lead_defect, ("BERLIN, Feb 17 (Reuters) - More than 80 actors",), True),
        (lead_defect, ("Kyiv, Ukraine (AP) — Russia launched drones",), True),
        (lead_defect, ("[Capital FM] Nairobi -- Aviation workers have",), True),
        (lead_defect, ("The European Union (EU) said on Monday it would act.",), False),
        (lead_defect, ("NATO foreign ministers met in Brussels.",), False),
        (lead_defect, ("“Our father was a servant,” the family said.",), False),
        (lead_defect, ("Rev. Jesse Jackson dies at age 84.",), False),
        (lost_lead, ("And talks resumed.", "Jesse Jackson dies at 84. And talks resumed.", []), True),
        (lost_lead, ("Talks resumed today.", "DUBAI, Feb 17 (Reuters) - Talks resumed today.", []), False),
        (lost_lead, ("Talks resumed today.", "[Capital FM] Nairobi -- Talks resumed today.", []), False),
        (
            lost_lead,
            ("Science in the Arctic is key.", "Science in the Arctic, and Greenland, is key.", []),
            False,
        ),
        (
            lost_lead,
            ("Talks resumed in Geneva.", "By Ann Lee\nWhat happened\nTalks resumed in Geneva.", []),
            False,
        ),
        (lost_lead, ("Talks resumed in Geneva.", f"{cap}\nTalks resumed in Geneva.", [cap]), False),
        (caption_defect, (cap, [cap], "The mood in Iran."), True),
        (caption_defect, (cap, [cap], cap), False),
        (caption_defect, ("Both sides agreed on principles.", ["A man walks."], "Both sides agreed."), False),
        (caption_defect, ("Talks resumed.\n(Image credit: AP)", [], ""), True),
        (unbalanced_quote, ("He said “we will go” and left.",), False),
        (unbalanced_quote, ("He said “we will go and left.",), True),
        (unbalanced_quote, ("we will go” he said.",), True),
        (unbalanced_quote, ("““Maybe we should,” she said.",), True),
        (unbalanced_quote, ("„Wir schaffen das“, sagte sie.",), False),
        (unbalanced_quote, ("«Oui», dit-il, »ja«.",), False),
        (unbalanced_quote, ('He said "yes and left.',), True),
        (unbalanced_quote, ("It’s Trump’s call, the ‘deal’ says.",), False),
        (shortcode, ("[video id=oL9X8h53 title=Greenland]",), True),
        (shortcode, ("Intro [time-brightcove not-tgx=”true”] more",), True),
        (shortcode, ("a clip[/embed]",), True),
        (shortcode, ("[Reuters] London -- rates [...] rose",), False),
        (shortcode, ("being a part of [the alliance] is [sic] good",), False),
        (tracking_params, ("https://x.test/a?utm_source=rss&id=9", {}), True),
        (tracking_params, ("https://x.test/a?article=9", {}), False),
        (tracking_params, ("https://x.test/a?maca=en-rss", {"maca": "en-rss"}), True),
        (tracking_params, ("https://x.test/a#publisher=news", {"publisher": "news"}), True),
        (missing_term, (Match(1, RULES[2], Quote("Russia said no.", ())),), True),
        (missing_term, (Match(1, RULES[2], Quote("Russia's war on Ukraine.", ())),), False),
        (missing_term, (Match(1, PM_RULE, Quote("India's prime minister left.", ())),), False),
        (missing_term, (Match(1, PM_RULE, Quote("The Prime Minister left.", ())),), True),
        (length_defect, ("",), True),
        (length_defect, ("word " * 61,), True),
        (length_defect, ("word " * 60,), False),
        (markup, ("a <b>bold</b> move",), True),
        (markup, ("AT&amp;T",), True),
        (markup, ("AT&T and Q&A; 5 < 6 > 4",), False),
        (read_more, ("Sales rose. Seguir leyendo",), True),
        (read_more, ("The post Obama speaks appeared first on Boston.com.",), True),
        (read_more, ("Rates rose […]",), True),
        (read_more, ("People read more books in winter.",), False),
        (feed_constants, (["a?x=1", "b?x=1", "c?x=1&y=2"],), True),
        (feed_constants, (["a?x=1", "b?x=2", "c?x=1"],), False),
    ]
    wrong = [(d.__name__, args) for d, args, flagged in cases if bool(d(*args)) != flagged]
    when = datetime(2026, 2, 17, tzinfo=UTC)
    same = [Alert("T", "https://www.x.test/a?utm_source=rss", "F", when, "S", ())] * 2
    other = Alert("Another headline of five words", "https://x.test/b", "F", when, "", ())
    if duplicates([*same, other]) != {1: "page of alert 1"}:
        wrong.append(("duplicates", ()))
    assert not wrong, f"detectors wrong on: {wrong}"


# ---- the alerts, as `newsalert check` makes them ---------------------------------------------------------


def feed_url(name: str) -> str:
    return (CORPUS / "real-feeds" / name).resolve().as_uri()


async def run_check() -> list[Alert]:
    report = await check(load_settings(None, {}), [(feed_url(name), "") for name in feed_order()], RULES)
    now = datetime.now(UTC)
    return [checked.alert(now) for checked in report.alerts]


def raw_items(body: bytes) -> dict[str, tuple[tuple[str, ...], str]]:
    """Each raw item's captions (Media RSS description and text) and its own description or summary (the
    standfirst, not the body), by its guid (Atom id) and by its link."""
    try:
        root = etree.fromstring(body, etree.XMLParser(recover=True, resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return {}
    found: dict[str, tuple[tuple[str, ...], str]] = {}
    for item in [] if root is None else root.iter("{*}item", "{*}entry"):
        captions, description, names = [], [], []
        for child in item.iter():
            if not isinstance(child.tag, str):
                continue
            name, text = etree.QName(child).localname, "".join(child.itertext()).strip()
            if child.tag.startswith(f"{{{MEDIA}}}") and name in ("description", "text"):
                captions.append(text)
            elif name in ("description", "summary"):
                description.append(text)
            elif name in ("guid", "id", "link"):
                names.append(text or child.get("href", ""))
        for key in filter(None, names):
            found.setdefault(key, (tuple(captions), "\n".join(description)))
    return found


def contexts(alerts: Sequence[Alert]) -> list[Context]:
    """Each alert's context: its article found by feed name (as check names feeds) and title."""
    feeds: dict[str, list[tuple[list[Article], dict, dict]]] = {}
    for name in feed_order():
        body, url = (CORPUS / "real-feeds" / name).read_bytes(), feed_url(name)
        parsed = parse_feed(body, url)
        feed_name = parsed.title or urlsplit(url).hostname or url
        constants = feed_constants([a.link for a in parsed.articles])
        feeds.setdefault(feed_name, []).append((parsed.articles, raw_items(body), constants))
    return [_context(alert, feeds.get(alert.feed_name, [])) for alert in alerts]


def _context(alert: Alert, feeds: list[tuple[list[Article], dict, dict]]) -> Context:
    for articles, raw, constants in feeds:
        article = next((a for a in articles if a.title == alert.title), None)
        if article:
            captions, description = raw.get(article.guid or "", raw.get(article.link, ((), "")))
            return Context(article.text, captions, description, constants)
    return Context()


@dataclass(frozen=True)
class DefectReport:
    alerts: int
    flagged: dict[int, dict[str, str]]  # alert index -> class -> what was seen

    def count(self, *names: str) -> int:
        return sum(bool(set(found) & set(names)) for found in self.flagged.values())


def look_at(alerts: Sequence[Alert]) -> DefectReport:
    flagged = {}
    for i, (alert, context) in enumerate(zip(alerts, contexts(alerts), strict=True)):
        if found := defects(alert, context):
            flagged[i] = found
    for i, seen in duplicates(alerts).items():
        flagged.setdefault(i, {})["duplicate"] = seen
    return DefectReport(len(alerts), flagged)


# ---- stories: the labelled events through the story decision --------------------------------------------


@dataclass(frozen=True)
class Piece:
    """A corpus article as a poll brings it to the story step."""

    feed: int  # its feed's place in MANIFEST.jsonl
    at: datetime  # published (never after NOW), else NOW
    chars: int
    key: StoryKey
    labelled: tuple[str, str]  # its feed file and identity, as tests/data/events.py names it
    text: str  # what is embedded of it (embeddings.story_text), for the option


NOW = datetime(2026, 2, 18, 12, tzinfo=UTC)  # when the corpus is "fetched": after every article in it


def corpus_pieces() -> list[Piece]:
    """Every corpus article, feed by feed in MANIFEST order, keyed as the pipeline keys it (the feed's name
    as `newsalert check` gives it)."""
    pieces = []
    for f, name in enumerate(feed_order()):
        parsed = parse_feed((CORPUS / "real-feeds" / name).read_bytes(), feed_url(name))
        feed_name = parsed.title or urlsplit(feed_url(name)).hostname or name
        for a in parsed.articles:
            body = clean_body(a.title, a.text)
            at = min(a.published_at, NOW) if a.published_at else NOW
            key = story_key(a.link, a.title, body, feed_name)
            text = embeddings.story_text(without_own_name(a.title, feed_name), body)
            pieces.append(Piece(f, at, len(body), key, (name, a.identity), text))
    return pieces


Vectors = list[tuple[float, ...]]  # each corpus piece's embedding, in corpus_pieces' order


async def embed_pieces(url: str, model: str, pieces: Sequence[Piece]) -> Vectors | None:
    """Each piece's embedding through the bot's own client (None when the endpoint does not answer)."""
    settings = LlmSettings(base_url=url, embeddings_model=model, timeout=600)
    embedder = embeddings.Embedder(settings, embeddings.InMemory())
    try:
        vectors = await embedder.embed([p.text for p in pieces], NOW)
    finally:
        await embedder.close()
    return None if vectors is None else [tuple(v) for v in vectors]


class TimedStories(Stories):
    """The story decider, counting the CPU seconds it takes."""

    cpu = 0.0

    def index_terms(self, key: StoryKey, counts: TermCounts, embedded: bool = False) -> tuple[str, ...]:
        started = time.process_time()
        try:
            return super().index_terms(key, counts, embedded)
        finally:
            TimedStories.cpu += time.process_time() - started

    def decide(self, new: Sequence[StoryArticle], known: Sequence[StoryArticle], counts: TermCounts):
        started = time.process_time()
        try:
            return super().decide(new, known, counts)
        finally:
            TimedStories.cpu += time.process_time() - started


def arrive(
    pieces: Sequence[Piece],
    polls: Sequence[Sequence[int]],
    counts: TermCounts,
    vectors: Vectors | None = None,
) -> tuple[list[int], float]:
    """The story of each piece when they arrive in these polls (indices into pieces), as the store decides
    it (bot.stories.InMemory: the store's story step on lists), and the CPU seconds the decider took. With
    `vectors`, the embeddings decide too, at summary.llm.embeddings_bar's default."""
    TimedStories.cpu = 0.0
    store = InMemory(TimedStories(embeddings_bar=LlmSettings().embeddings_bar if vectors else None), counts)
    row: dict[int, int] = {}
    for poll in polls:
        arrivals = [(pieces[i].feed, pieces[i].at, pieces[i].chars, pieces[i].key) for i in poll]
        ids = store.save(arrivals, [vectors[i] for i in poll] if vectors else None)
        row.update(zip(poll, ids, strict=True))
    return [store.story_of(row[i]) for i in range(len(pieces))], TimedStories.cpu


@dataclass(frozen=True)
class PairScore:
    precision: float
    recall: float
    merged_negatives: int
    stories: int


def score(events: Sequence[str], story: Sequence[int], negatives: Sequence[tuple[int, int]]) -> PairScore:
    """Pairwise precision and recall of "same story" against "same event", over every pair of labelled
    articles (precision 1.0 when no pair is merged), and the hard negative pairs merged."""
    tp = fp = fn = 0
    for i, j in itertools.combinations(range(len(events)), 2):
        same, merged = events[i] == events[j], story[i] == story[j]
        tp += same and merged
        fp += merged and not same
        fn += same and not merged
    merged_negatives = sum(story[i] == story[j] for i, j in negatives)
    return PairScore(tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn), merged_negatives, len(set(story)))


def partition(story: Sequence[int]) -> frozenset[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for i, s in enumerate(story):
        groups.setdefault(s, set()).add(i)
    return frozenset(map(frozenset, groups.values()))


def feed_polls(pieces: Sequence[Piece]) -> list[list[int]]:
    """A poll per feed, in MANIFEST order: `newsalert run --once` on new feeds."""
    return [list(poll) for _, poll in itertools.groupby(range(len(pieces)), lambda i: pieces[i].feed)]


def story_runs(labels: Labels, vectors: Vectors | None = None) -> dict[str, list[int]]:
    """The labelled articles' stories when every corpus article arrives, in feed order (a poll per feed,
    MANIFEST order) and in each seeded shuffled order (an article a poll); with `vectors`, the embeddings
    deciding too."""
    pieces = corpus_pieces()
    counts = term_counts(p.key for p in pieces)
    place = {p.labelled: i for i, p in enumerate(pieces)}
    wanted = [place[(lab.feed, lab.article.identity)] for lab in labels.articles]
    runs = {"feed order": arrive(pieces, feed_polls(pieces), counts, vectors)[0]}
    for seed in SEEDS:
        order = random.Random(seed).sample(range(len(pieces)), len(pieces))
        one_by_one = [[i] for i in order]
        runs[f"shuffled (seed {seed}), one by one"] = arrive(pieces, one_by_one, counts, vectors)[0]
    return {name: [story[i] for i in wanted] for name, story in runs.items()}


def story_cpu(passes: int, vectors: Vectors | None = None) -> tuple[int, float, float]:
    """(articles, story_key µs, decider µs) per article over every corpus article, a poll per feed in MANIFEST
    order (as `newsalert run --once` on new feeds), the best of `passes`; with `vectors`, the embeddings
    deciding too. Untimed: cleaning the bodies (the summary's work), the store's lookups, embedding."""
    feeds = []
    for name in feed_order():
        parsed = parse_feed((CORPUS / "real-feeds" / name).read_bytes(), feed_url(name))
        feed_name = parsed.title or urlsplit(feed_url(name)).hostname or name
        feeds.append([(a.link, a.title, clean_body(a.title, a.text), feed_name) for a in parsed.articles])
    pieces = corpus_pieces()
    counts = term_counts(p.key for p in pieces)
    n = len(pieces)
    best_key = best_decide = float("inf")
    for _ in range(passes):
        started = time.process_time()
        for feed in feeds:
            for fields in feed:
                story_key(*fields)
        best_key = min(best_key, time.process_time() - started)
        best_decide = min(best_decide, arrive(pieces, feed_polls(pieces), counts, vectors)[1])
    return n, best_key / n * 1e6, best_decide / n * 1e6


# ---- the report ------------------------------------------------------------------------------------------


def mark(met: bool) -> str:
    return "MET" if met else "MISSED"


def alert_lines(report: DefectReport, alerts: Sequence[Alert]) -> tuple[list[str], bool]:
    names = [*CLASSES, "duplicate"]
    share = len(report.flagged) / report.alerts if report.alerts else 0.0
    seen = report.count(*(name for name in names if name not in UNSEEN_AT_A_GLANCE))
    lines = [
        f"{report.alerts} alerts, **{len(report.flagged)} with a defect ({share:.1%})**; goal at most "
        f"{GOAL_DEFECTS:.0%}: **{mark(share <= GOAL_DEFECTS)}**. Without the classes a reader does not see "
        f"at a glance ({', '.join(UNSEEN_AT_A_GLANCE)}): {seen} ({seen / report.alerts:.1%}); "
        f"the issue counted {ISSUE_SAW}.",
        "",
        "| defect class | alerts |",
        "| --- | ---: |",
        *(f"| {name} | {report.count(name)} |" for name in names),
        "",
        "Ten examples (a class at a time):",
        "",
    ]
    queues = [[i for i, found in report.flagged.items() if name in found] for name in names]
    picked: dict[int, str] = {}
    for row in itertools.zip_longest(*queues):  # the first of each class, then the second of each...
        for name, i in zip(names, row, strict=True):
            if i is not None and i not in picked and len(picked) < 10:
                picked[i] = name
    for i, name in picked.items():
        alert = alerts[i]
        lines.append(f"- {alert.feed_name[:24]}, {alert.title[:64]!r}: {name}: {report.flagged[i][name]}")
    return lines, share <= GOAL_DEFECTS


def story_lines(labels: Labels, groups: dict[str, dict[str, list[int]]]) -> tuple[list[str], list[bool]]:
    """The stories' table and goals: `groups`, what decides (the lexical decider, and the option) -> each
    arrival order's stories; a group after the first is named in its rows and lines."""
    events = [lab.event for lab in labels.articles]
    clusters = Counter(e for e in events if not e.startswith("only "))
    negatives = len(labels.hard_negatives)
    lines = [
        f"{len(events)} labelled articles: {len(clusters)} events reported by 2 or more "
        f"({sum(clusters.values())} articles), {negatives} hard negative pairs (tests/data/events.json).",
        "",
        "| arrival order | pair precision | pair recall | hard negatives merged | stories |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    scores = {
        group: {name: score(events, story, labels.hard_negatives) for name, story in runs.items()}
        for group, runs in groups.items()
    }
    named = {group: "" if n == 0 else f"{group}, " for n, group in enumerate(groups)}
    for group, by_order in scores.items():
        lines += [
            f"| {named[group]}{name} | {s.precision:.3f} | {s.recall:.3f} "
            f"| {s.merged_negatives} of {negatives} | {s.stories} |"
            for name, s in by_order.items()
        ]
    goals: list[bool] = []
    for group, runs in groups.items():
        by_order = scores[group]
        worst_r = min(s.recall for s in by_order.values())
        worst_p = min(s.precision for s in by_order.values())
        worst_n = max(s.merged_negatives for s in by_order.values())
        same = len({partition(story) for story in runs.values()}) == 1
        met = [worst_r >= GOAL_RECALL and worst_p >= GOAL_PRECISION, worst_n <= GOAL_NEGATIVES, same]
        goals += met
        feed_story = runs["feed order"]
        split = {e: len({feed_story[i] for i, x in enumerate(events) if x == e}) for e in clusters}
        merged = [
            f"{labels.articles[i].article.title[:48]!r} / {labels.articles[j].article.title[:48]!r}"
            for i, j in labels.hard_negatives
            if feed_story[i] == feed_story[j]
        ]
        lines += ["", f"With {group}:"] if named[group] else []
        lines += [
            "",
            f"- event pairs, recall at least {GOAL_RECALL} at precision at least {GOAL_PRECISION} in "
            f"every order (worst: recall {worst_r:.3f}, precision {worst_p:.3f}): **{mark(met[0])}**",
            f"- hard negatives merged, at most {GOAL_NEGATIVES} in every order (worst: {worst_n}): "
            f"**{mark(met[1])}**",
            f"- identical clusters under every order: **{mark(same)}**",
            "",
            "Stories each event became in feed order (articles→stories; 1 story is right): "
            + ", ".join(
                f"{e} {clusters[e]}→{split[e]}" for e in sorted(clusters, key=lambda e: -clusters[e])
            ),
            "",
            "Hard negatives merged in feed order: " + ("; ".join(merged) or "none") + ".",
        ]
    return lines, goals


def cpu_line(cpu: tuple[int, float, float], option: float | None = None) -> str:
    n, key_us, assign_us = cpu
    line = (
        f"Story step CPU over every corpus article ({n}), a poll per feed: story_key {key_us:.0f} µs + "
        f"the decider {assign_us:.0f} µs = **{key_us + assign_us:.0f} µs an article** (best pass, "
        "`time.process_time()`)."
    )
    if option is not None:
        line += (
            f" With {OPTION}: the decider {option:.0f} µs, besides embedding each article "
            '(its cost: the section "Stories: embeddings against the lexical score").'
        )
    return line


NOTES = f"""## How it is measured

Alerts: `bot.check.check` (what `newsalert check` runs) over the 51 files in MANIFEST.jsonl order as
file:// URLs, default settings, the rules {", ".join(f"`{r}`" for r in RULES)}; each alert as
the console shows it. An alert counts once however many defects it has. The detectors, each a plain rule
tried on written sentences (`--self-check`) before every run: a summary whose first letter is lowercase,
that starts with a dateline or source tag, or that leaves out the article's first sentence; a summary
that is the item's media:description or media:text (read from the raw XML) and not its description, or
that carries a photo credit; an unbalanced double quotation mark in the summary or a quote; a
`[shortcode …]`; a query or fragment parameter that is a well-known tracker or has the same value on every
item of the feed; a quote of a rule with several required terms (AND, NEAR) lacking one; a summary empty
or over {MAX_WORDS} words; an HTML tag or entity in the title, summary or a quote; "Read more", "Continue
reading", "appeared first on", "[…]" and their kind; an alert repeating an earlier one's page, headline
(5+ words) or summary (8+ words). Not detected: promo blurbs, a quote whose matched words were cut, titles
clipped mid-character, Slack mrkdwn.

Stories: every corpus article as `parse_feed` reads it, keyed by `story_key(link, title, clean_body(title,
text), feed title)`, arrives at the store's story step on lists (bot.stories.InMemory: the decider's
index terms, the articles sharing a link, headline or index term, every article of their stories given to
`Stories.decide`, its plan written down). Term counts: every corpus article's, as the store's counts of
its window after a day of these feeds. Feed order: a poll per feed, in MANIFEST order; shuffled: seeded
orders of all 1796 articles, an article a poll. An article's time is its publication date (the window
compares those); all arrive in one session. Pairs: every pair of labelled articles; "same event" from
the labels (an article in no cluster is its own event), "same story" from the decision. CPU: every corpus
article's key, then the decider (index terms and decide), a poll per feed; cleaning the bodies and the
store's lookups are not counted.
"""


def option_notes(url: str, model: str) -> str:
    return (
        f"\n{OPTION}: the same, each article also embedded by `{model}` from {url}\n"
        "(through bot.summary.embeddings, the text `embeddings.story_text` makes: its headline without the\n"
        f"outlet's name and its first {embeddings.STORY_WORDS} words), the decider given the vectors and\n"
        f"summary.llm.embeddings_bar's default ({LlmSettings().embeddings_bar}), as the bot does when "
        "summary.llm.embeddings_model is set:\n"
        "two articles of different feeds within the window are also one event when their embeddings'\n"
        "cosine reaches the bar, and an embedded article is looked up through EMBEDDED_INDEX_TERMS index\n"
        "terms.\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timing pass, no RESULTS.md")
    parser.add_argument("--self-check", action="store_true", help="only try the detectors on written text")
    parser.add_argument(
        "--embeddings",
        metavar="URL",
        help="also the stories with embeddings from this endpoint (its /embeddings)",
    )
    parser.add_argument("--model", default=EMBEDDINGS_MODEL, help="the embeddings model to ask for")
    args = parser.parse_args()
    self_check()
    if args.self_check:
        print("the detectors agree with every written case")
        return
    logging.getLogger("bot").setLevel(logging.ERROR)  # check logs each feed entry it cannot read
    t0 = time.perf_counter()
    vectors = None
    if args.embeddings:
        vectors = asyncio.run(embed_pieces(args.embeddings, args.model, corpus_pieces()))
        if vectors is None:
            sys.exit(f"no embeddings from {args.embeddings}/embeddings (bench/embeddings_server.py says how)")
    alerts = asyncio.run(run_check())
    found, defects_met = alert_lines(look_at(alerts), alerts)
    labels = load_labels()
    groups = {"lexical": story_runs(labels)}
    if vectors:
        groups[OPTION] = story_runs(labels, vectors)
    stories, story_goals = story_lines(labels, groups)
    passes = 1 if args.quick else 5
    option = story_cpu(passes, vectors)[2] if vectors else None
    cpu = cpu_line(story_cpu(passes), option)
    notes = NOTES + (option_notes(args.embeddings, args.model) if vectors else "")
    body = "\n".join(["", "## Alerts", "", *found, "", "## Stories", "", *stories, "", cpu, "", notes])
    goals = [defects_met, *story_goals]
    print(f"{body}\ngoals met: {sum(goals)} of {len(goals)}")
    command = ".venv/bin/python bench/quality_eval.py" + (
        f" --embeddings {args.embeddings}" if vectors else ""
    )
    if not args.quick:
        write_section("Quality", command, time.perf_counter() - t0, body)


if __name__ == "__main__":
    main()
