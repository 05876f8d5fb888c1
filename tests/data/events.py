"""The hand-labelled events of the saved real feeds (events.json), read back as the bot's own articles.

events.json names each article by its corpus feed file and its guid (its link when it has none); this
module finds those articles in the feeds as bot.feeds.parse reads them, so the bench and the tests
measure story decisions on exactly what the bot sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bot.domain import Article
from bot.feeds.parse import parse_feed

EVENTS = Path(__file__).with_name("events.json")
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"  # ../shared beside the checkout


@dataclass(frozen=True)
class Labelled:
    feed: str  # the corpus file, as MANIFEST.jsonl names it
    article: Article
    event: str  # its cluster's name; else a name of its own: it is the only labelled article of its event


@dataclass(frozen=True)
class Labels:
    articles: list[Labelled]  # each labelled article once, in corpus order (MANIFEST.jsonl, then the feed's)
    hard_negatives: list[tuple[int, int]]  # pairs of indices into articles: same names, different events


def read_events(path: Path = EVENTS) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def ref_id(ref: dict) -> tuple[str, str]:
    """What names a labelled article: its feed file and its guid, or its link when it has no guid."""
    return ref["feed"], f"guid:{ref['guid']}" if "guid" in ref else f"link:{ref['link']}"


def find_article(ref: dict, articles: list[Article]) -> Article | None:
    """The feed's first article with the reference's guid (or link, when the reference names none)."""
    if "guid" in ref:
        return next((a for a in articles if a.guid == ref["guid"]), None)
    return next((a for a in articles if a.link == ref["link"]), None)


def feed_order(corpus: Path = CORPUS) -> list[str]:
    """The corpus's feed files in MANIFEST.jsonl order."""
    manifest = (corpus / "real-feeds" / "MANIFEST.jsonl").read_text(encoding="utf-8")
    return [json.loads(line)["file"] for line in manifest.splitlines() if line.strip()]


def parse_corpus_feed(name: str, corpus: Path = CORPUS) -> list[Article]:
    """A corpus feed's articles as `newsalert check --feed FILE` reads them (its file:// URL as the base)."""
    path = corpus / "real-feeds" / name
    return parse_feed(path.read_bytes(), path.resolve().as_uri()).articles


def load_labels(corpus: Path = CORPUS, events: dict | None = None) -> Labels:
    """Every labelled article found in its feed; LookupError naming each reference that is not there."""
    events = events or read_events()
    event_of = {ref_id(ref): c["event"] for c in events["clusters"] for ref in c["articles"]}
    refs = {ref_id(r): r for c in events["clusters"] for r in c["articles"]}
    refs.update((ref_id(r), r) for pair in events["hard_negatives"] for r in pair["pair"])
    feeds = feed_order(corpus)
    found: dict[tuple[str, str], tuple[tuple[int, int], Labelled]] = {}  # key -> (place in the corpus, it)
    for f, feed in enumerate(feeds):
        mine = {key: ref for key, ref in refs.items() if key[0] == feed}
        articles = parse_corpus_feed(feed, corpus) if mine else []
        for key, ref in mine.items():
            article = find_article(ref, articles)
            if article is not None:
                place = (f, articles.index(article))
                found[key] = (place, Labelled(feed, article, event_of.get(key, f"only {feed} {key[1]}")))
    missing = sorted(f"{feed} {what}" for feed, what in refs.keys() - found.keys())
    if missing:
        raise LookupError("labelled articles not found in the corpus: " + "; ".join(missing))
    order = sorted(found, key=lambda key: found[key][0])
    index = {key: i for i, key in enumerate(order)}
    pairs = [(index[ref_id(a)], index[ref_id(b)]) for a, b in (p["pair"] for p in events["hard_negatives"])]
    return Labels([found[key][1] for key in order], pairs)
