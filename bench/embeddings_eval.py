"""Measures the optional embeddings similarity against the lexical story decider, on the same labels.

Every corpus article (../shared/corpus/real-feeds, as bench/quality_eval.py reads and keys them) is
embedded through the bot's own client (bot.summary.embeddings.Embedder) from an OpenAI-compatible
endpoint, by default bench/embeddings_server.py (all-MiniLM-L6-v2 on loopback; start it first, with
its own virtualenv, as its docstring says). Articles are then clustered as the decider would with the
cosine of their embeddings in place of its TF-IDF cosine: union-find over the pairs of different feeds,
published within the window, whose cosine is at least a threshold (plus the decider's own rules for one
link and one long headline), the threshold swept. Scored on tests/data/events.json beside the lexical
decider's figures, computed in the same run through bench/quality_eval.py's path (bot.stories as it is),
and beside "lexical OR embeddings at a higher bar". Run from the repository root:
    .venv/bin/python bench/embeddings_eval.py [--url http://127.0.0.1:8765/v1] [--model NAME] [--quick]
The full run replaces the "# Stories: embeddings against the lexical score" section of bench/RESULTS.md;
--quick only prints. Without the corpus or the endpoint it says so and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.quality_eval import (  # noqa: E402
    GOAL_NEGATIVES,
    GOAL_PRECISION,
    GOAL_RECALL,
    NOW,
    PairScore,
    Piece,
    arrive,
    corpus_pieces,
    feed_polls,
    feed_url,
    score,
    story_cpu,
    story_runs,
)
from bench.results import write_section  # noqa: E402
from bot.config import LlmSettings  # noqa: E402
from bot.dedupe import LEAD_WORDS, without_own_name  # noqa: E402
from bot.feeds.parse import parse_feed  # noqa: E402
from bot.stories import MIN_TITLE_WORDS, Stories, term_counts  # noqa: E402
from bot.summary import clean_body  # noqa: E402
from bot.summary.embeddings import BATCH, STORY_WORDS, Embedder, InMemory, story_text  # noqa: E402
from tests.data.events import CORPUS, Labels, feed_order, load_labels  # noqa: E402

TITLE = "Stories: embeddings against the lexical score"
DEFAULT_URL = "http://127.0.0.1:8765/v1"
EMBEDDED = Stories(embeddings_bar=LlmSettings().embeddings_bar)  # as the bot decides with embeddings
THRESHOLDS = [round(0.60 + 0.01 * i, 2) for i in range(31)]  # 0.60 .. 0.90
# What is embedded: the headline (without the outlet's own name, as the key has it), then the lead.
TEXTS = {
    "headline": 0,
    f"headline + lead ({LEAD_WORDS} words)": LEAD_WORDS,
    f"headline + first {STORY_WORDS} words": STORY_WORDS,  # all-MiniLM-L6-v2 reads 256 tokens: about this
}
MAIN = f"headline + first {STORY_WORDS} words"  # the best alone and with the lexical score: the bot's
SINGLES = 20  # articles embedded one call each, for the latency of one article


def corpus_texts(pieces: Sequence[Piece]) -> list[tuple[str, str]]:
    """Each corpus piece's (headline, body), in corpus_pieces' order, as the pipeline cleans them."""
    found = []
    for name in feed_order():
        parsed = parse_feed((CORPUS / "real-feeds" / name).read_bytes(), feed_url(name))
        feed_name = parsed.title or urlsplit(feed_url(name)).hostname or name
        found += [
            (without_own_name(a.title, feed_name), clean_body(a.title, a.text)) for a in parsed.articles
        ]
    assert len(found) == len(pieces), "the corpus is read as bench/quality_eval.py reads it"
    return found


class Joined:
    """Union-find over article indices."""

    def __init__(self, n: int, stories: Sequence[int] | None = None):
        self.parent = list(range(n))
        first: dict[int, int] = {}
        for i, story in enumerate(stories or ()):
            self.join(i, first.setdefault(story, i))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        self.parent[max(a, b)] = min(a, b)


@dataclass
class Corpus:
    pieces: list[Piece]
    within: np.ndarray  # i, j: different feeds, published within the window of each other
    near: np.ndarray  # i, j: published within the window of each other
    always: list[tuple[int, int]]  # the decider's own joins without a similarity: one link, one long headline
    clues: np.ndarray  # i, j share an index term, link or headline: what the store finds as candidates


def corpus(pieces: list[Piece]) -> Corpus:
    n, window = len(pieces), Stories().window.total_seconds()
    at = np.array([p.at.timestamp() for p in pieces])
    feed = np.array([p.feed for p in pieces])
    near = np.abs(at[:, None] - at[None, :]) <= window
    within = near & (feed[:, None] != feed[None, :])
    counts = term_counts(p.key for p in pieces)
    clues = np.zeros((n, n), dtype=bool)
    holders: dict[object, list[int]] = {}
    for i, p in enumerate(pieces):
        long = len(p.key.title.split()) >= MIN_TITLE_WORDS
        for clue in [("url", p.key.url) if p.key.url else None, ("title", p.key.title) if long else None]:
            if clue:
                holders.setdefault(clue, []).append(i)
        for term in EMBEDDED.index_terms(p.key, counts, embedded=True):
            holders.setdefault(term, []).append(i)
    always = []
    for clue, have in holders.items():
        clues[np.ix_(have, have)] = True
        if isinstance(clue, tuple):  # the same link anywhere, the same headline within the window
            always += [(i, j) for i in have for j in have if i < j and (clue[0] == "url" or near[i, j])]
    return Corpus(pieces, within, near, always, clues)


def cluster(c: Corpus, similar: np.ndarray, bar: float, seed: Sequence[int] | None = None) -> list[int]:
    """Each article's story: the pairs of `c.within` at or above the bar joined, and `c.always`; `seed`, the
    stories to start from (the lexical decider's, for the combination)."""
    joined = Joined(len(c.pieces), seed)
    for i, j in [*c.always, *zip(*np.nonzero(np.triu(c.within & (similar >= bar), 1)), strict=True)]:
        joined.join(int(i), int(j))
    return [joined.find(i) for i in range(len(c.pieces))]


async def embed_all(settings: LlmSettings, texts: list[str]) -> tuple[np.ndarray | None, float]:
    """The texts' unit vectors (None when the endpoint does not answer), and the wall seconds it took."""
    embedder = Embedder(settings, InMemory())
    try:
        started = time.perf_counter()
        vectors = await embedder.embed(texts, NOW)
        took = time.perf_counter() - started
    finally:
        await embedder.close()
    if vectors is None:
        return None, took
    matrix = np.array(vectors, dtype=np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9), took


async def one_by_one(settings: LlmSettings, texts: list[str]) -> float:
    """The median wall seconds to embed one article, one call each (what a poll of one new article waits)."""
    embedder = Embedder(settings, InMemory())
    took = []
    try:
        for text in texts:
            started = time.perf_counter()
            await embedder.embed([text], NOW)
            took.append(time.perf_counter() - started)
    finally:
        await embedder.close()
    return statistics.median(took)


def server_cpu(url: str) -> float | None:
    """bench/embeddings_server.py's CPU seconds so far (GET /cpu); None from another server."""
    try:
        with urllib.request.urlopen(url.rstrip("/").removesuffix("/v1") + "/cpu", timeout=5) as answer:
            return float(json.load(answer)["cpu_seconds"])
    except (OSError, ValueError, KeyError):
        return None


def best(scores: dict[float, PairScore]) -> float:
    """The threshold of the most recall at the goal's precision and hard negatives, else of the most
    precision."""
    fine = [
        t for t, s in scores.items() if s.precision >= GOAL_PRECISION and s.merged_negatives <= GOAL_NEGATIVES
    ]
    if fine:
        return max(fine, key=lambda t: (scores[t].recall, -t))
    return max(scores, key=lambda t: (scores[t].precision, t))


def row(name: str, bar: str, s: PairScore, negatives: int) -> str:
    return (
        f"| {name} | {bar} | {s.precision:.3f} | {s.recall:.3f} | {s.merged_negatives} of {negatives} "
        f"| {s.stories} |"
    )


HEAD = (
    "| similarity | bar | pair precision | pair recall | hard negatives merged | stories |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
)


def report(labels: Labels, wanted: list[int], c: Corpus, vectors: dict[str, np.ndarray]) -> list[str]:
    events = [lab.event for lab in labels.articles]
    neg = labels.hard_negatives
    everyone = list(range(len(events)))

    def scored(story: Sequence[int], keep: Sequence[int] = everyone) -> PairScore:
        """Over the labelled articles kept (indices into labels.articles) and the hard negatives of them."""
        at = {k: n for n, k in enumerate(keep)}
        pairs = [(at[a], at[b]) for a, b in neg if a in at and b in at]
        return score([events[k] for k in keep], [story[wanted[k]] for k in keep], pairs)

    def sweep(
        corpus: Corpus, similar: np.ndarray, seed: Sequence[int] | None = None
    ) -> dict[float, list[int]]:
        return {t: cluster(corpus, similar, t, seed) for t in THRESHOLDS}

    def held_out(name: str, stories: dict[float, list[int]], lexical: list[int]) -> str:
        """The bar chosen on the even-numbered events, checked on the odd ones, beside the lexical decider."""
        first = list(dict.fromkeys(e for e in events if not e.startswith("only ")))
        even, odd = (
            [k for k, e in enumerate(events) if e.startswith("only ") or first.index(e) % 2 == half]
            for half in (0, 1)
        )
        t = best({t: scored(story, even) for t, story in stories.items()})
        got, lex = scored(stories[t], odd), scored(lexical, odd)
        return (
            f"- {name}: bar {t:.2f} on the even events; on the odd ones {got.precision:.3f} / "
            f"{got.recall:.3f} / {got.merged_negatives}, the lexical decider {lex.precision:.3f} / "
            f"{lex.recall:.3f} / {lex.merged_negatives}"
        )

    lexical = story_runs(labels)
    lex = {name: score(events, story, neg) for name, story in lexical.items()}
    worst = min(lex.values(), key=lambda s: (s.recall, s.precision))
    lex_all = arrive(c.pieces, feed_polls(c.pieces), term_counts(p.key for p in c.pieces))[0]
    similar = {name: v @ v.T for name, v in vectors.items()}
    found = Corpus(c.pieces, c.within & c.clues, c.near, c.always, c.clues)
    runs = {  # the sweep's columns
        "embeddings": sweep(c, similar[MAIN]),
        "embeddings, index": sweep(found, similar[MAIN]),
        "lexical OR embeddings": sweep(c, similar[MAIN], lex_all),
        "lexical OR embeddings, index": sweep(found, similar[MAIN], lex_all),
    }
    main = {name: {t: scored(story) for t, story in stories.items()} for name, stories in runs.items()}
    lines = [
        *HEAD,
        row("lexical decider (bot.stories), feed order", "its own", lex["feed order"], len(neg)),
        row(f"lexical decider, worst of {len(lex)} arrival orders", "its own", worst, len(neg)),
    ]
    rows = {f"{name}: {MAIN}": scores for name, scores in main.items()}
    for text in TEXTS:
        if text != MAIN:
            for name, seed in (("embeddings", None), ("lexical OR embeddings", lex_all)):
                rows[f"{name}: {text}"] = {t: scored(s) for t, s in sweep(c, similar[text], seed).items()}
    for name, scores in rows.items():
        t = best(scores)
        lines.append(row(name, f"{t:.2f}", scores[t], len(neg)))
    lines += [
        "",
        "Held out, as bot/stories.py's constants were chosen: the bar picked on the even-numbered events "
        "(numbered as they first come in the corpus) alone, then scored on the odd ones (pair precision / "
        f"recall / hard negatives merged; {MAIN}):",
        "",
        *(held_out(name, runs[name], lex_all) for name in runs),
    ]
    needing = int(np.count_nonzero((c.within & c.clues).any(axis=1)))
    lines += [
        "",
        f"Bar: the cosine of the embeddings, chosen for the most recall at pair precision ≥ {GOAL_PRECISION} "
        f"with at most {GOAL_NEGATIVES} hard negative merged (else the most precise); the goal is recall ≥ "
        f"{GOAL_RECALL}. 'index': only pairs sharing an index term, a link or a headline, as the store finds "
        f"candidates; {needing} of {len(c.pieces)} articles ({needing / len(c.pieces):.0%}) have such a pair "
        "with another feed in the window, and only they would need a vector. The sweep, text "
        f"{MAIN}, each cell pair precision / recall / hard negatives merged:",
        "",
        "| cosine ≥ | " + " | ".join(main) + " |",
        "| ---: |" + " ---: |" * len(main),
    ]
    for t in THRESHOLDS:
        cells = (f"{s[t].precision:.3f} / {s[t].recall:.3f} / {s[t].merged_negatives}" for s in main.values())
        lines.append(f"| {t:.2f} | " + " | ".join(cells) + " |")
    return lines


def cost_lines(
    n: int, costs: dict[str, tuple[float, float | None]], single: float, lexical_us: float
) -> list[str]:
    """What embedding an article took, per text: wall time in batches, the server's CPU, and that as a
    multiple of the lexical story step's CPU."""
    lines = [
        f"Cost of embedding, per article ({n} articles in batches of {BATCH}; the lexical story step, "
        f"story_key and the decider, takes {lexical_us:.0f} µs an article, best of 3 passes of "
        "bench/quality_eval.py's measure in this run):",
        "",
        "| text | wall time | server CPU | × the lexical step's CPU |",
        "| --- | ---: | ---: | ---: |",
    ]
    for text, (took, cpu) in costs.items():
        shown = f"{cpu / n * 1e3:.1f} ms | {cpu / n * 1e6 / lexical_us:.0f}×" if cpu is not None else "? | ?"
        lines.append(f"| {text} | {took / n * 1e3:.1f} ms | {shown} |")
    lines += [
        "",
        f"One article a call ({MAIN}) waits {single * 1e3:.0f} ms (median of {SINGLES}). The model runs on "
        "one thread of the same 2 CPUs as the bench, shared with other work.",
    ]
    return lines


NOTES = """## How it is measured

Articles: every corpus article, parsed, cleaned and keyed as bench/quality_eval.py does (the same
`corpus_pieces`). Embedded text: the headline without the outlet's own name (as `story_key` has it),
a newline, then the first words of the cleaned text (60: the key's lead; or 150, what the bot embeds,
`bot.summary.embeddings.story_text`; or none). Similarity:
the cosine of the unit vectors. Clustering, as the decider's rules with the cosine swapped: two articles
join when they have one link, or one headline of 5+ words within the window, or come from two feeds,
were published within the window (48 h) and their cosine is at least the bar; stories are the connected
groups (union-find over all pairs, so arrival order cannot change them). 'index': the same, but a pair
is compared only when both have one of the decider's index terms (an embedded article's
EMBEDDED_INDEX_TERMS), a link or a headline, as the store finds candidates. 'Lexical OR embeddings':
the lexical decider's stories (feed order, every corpus article) joined further by every pair at or
above the bar. Lexical figures:
bench/quality_eval.py's `story_runs` in this run (bot.stories as it is, feed order and three shuffled
orders). Scores: pairwise over the labelled articles of tests/data/events.json, as the quality bench.
A bar holds for this model only: another model's cosines spread otherwise, and need their own sweep.
Cost: the server's CPU (GET /cpu) around each text's batched run, and the wall time the client waited;
both move with what else the machine runs.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="the OpenAI-compatible endpoint (its /embeddings)")
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="the embeddings model to ask for")
    parser.add_argument("--quick", action="store_true", help="one timing pass, no RESULTS.md")
    args = parser.parse_args()
    if not (CORPUS / "real-feeds" / "MANIFEST.jsonl").exists():
        print(f"skipped: no feed corpus at {CORPUS / 'real-feeds'}")
        return
    logging.getLogger("bot").setLevel(logging.ERROR)
    settings = LlmSettings(base_url=args.url, embeddings_model=args.model, timeout=600)
    t0 = time.perf_counter()
    pieces = corpus_pieces()
    texts = corpus_texts(pieces)
    if asyncio.run(embed_all(settings, ["Is the endpoint there?"]))[0] is None:
        print(
            f"skipped: no embeddings at {args.url}/embeddings. Start one with\n"
            "    HF_HUB_OFFLINE=1 /work/embed-venv/bin/python bench/embeddings_server.py\n"
            "(bench/embeddings_server.py says how to make that virtualenv)"
        )
        return
    vectors: dict[str, np.ndarray] = {}
    costs: dict[str, tuple[float, float | None]] = {}
    for name, words in TEXTS.items():
        before = server_cpu(args.url)
        matrix, took = asyncio.run(embed_all(settings, [story_text(h, b, words) for h, b in texts]))
        after = server_cpu(args.url)
        assert matrix is not None, "the endpoint stopped answering"
        vectors[name] = matrix
        costs[name] = (took, after - before if before is not None and after is not None else None)
    single = asyncio.run(one_by_one(settings, [story_text(h, b, TEXTS[MAIN]) for h, b in texts[:SINGLES]]))
    labels = load_labels()
    place = {p.labelled: i for i, p in enumerate(pieces)}
    wanted = [place[(lab.feed, lab.article.identity)] for lab in labels.articles]
    scores = report(labels, wanted, corpus(pieces), vectors)
    _, key_us, decide_us = story_cpu(1 if args.quick else 3)
    events = sum(1 for e in {lab.event for lab in labels.articles} if not e.startswith("only "))
    body = "\n".join(
        [
            "",
            f"Model: `{args.model}` through bot.summary.embeddings from {args.url} "
            "(bench/embeddings_server.py "
            f"on loopback). Labels: {len(labels.articles)} articles, {events} events of 2 or more, "
            f"{len(labels.hard_negatives)} hard negative pairs (tests/data/events.json); every one of the "
            f"{len(pieces)} corpus articles is clustered.",
            "",
            *scores,
            "",
            *cost_lines(len(pieces), costs, single, key_us + decide_us),
            "",
            NOTES,
        ]
    )
    print(body)
    if not args.quick:
        write_section(TITLE, ".venv/bin/python bench/embeddings_eval.py", time.perf_counter() - t0, body)


if __name__ == "__main__":
    main()
