"""Scores our summary against Lead-3 on CNN/DailyMail and XSum samples: ROUGE, length, boilerplate left.

Corpus: ../shared/corpus/summaries/{cnndm,xsum}_frank.jsonl (FRANK's CNN/DM and XSum test articles
with their reference summaries). Run from the repo root:
    .venv/bin/python bench/summary_eval.py [--corpus DIR] [--quick]
The full run replaces the "# Summary evaluation" section of bench/RESULTS.md; --quick (50 articles
per file) only prints.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import feedparser
from rouge_score import rouge_scorer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.results import write_section  # noqa: E402
from bot.feeds.markup import html_to_text  # noqa: E402
from bot.rules.text import sentence_spans  # noqa: E402
from bot.summary import clean_body, summarize  # noqa: E402
from bot.summary.lead import ELLIPSIS  # noqa: E402

MAX_WORDS = 60
ORACLE_SENTENCES = 10  # the oracle picks among the first 10 sentences of the cleaned body
FILES = ("cnndm_frank", "xsum_frank")
# The development set: items of two saved feeds (../shared/corpus/real-feeds) that carry their full
# text and a description the editors wrote, which is the reference. Choices are made here and on XSum.
FEEDS = ("fastfeedparser/time-world.rss", "fastfeedparser/404media.rss")
METRICS = ("rouge1", "rouge2", "rougeL", "rougeLsum")
# The bench's own detectors, written from the corpus notes (SOURCE.md) and a read of the articles,
# independent of bot/summary/boilerplate.py: an output sentence matching one is boilerplate that survived.
DETECTORS = {
    "dateline": r"^\s*(?:[A-Z][\w.,' ]{0,40})?\((?:CNN|AP|AFP|Reuters|The Hollywood Reporter)\)"
    r"|^[A-Z][A-Z .,]{2,40}(?:\([\w ]+\))?\s+(?:--|\u2014|\u2013|-)\s",
    "scroll": r"(?i:scroll (?:down|up) for)",
    "player": r"(?i:media playback is)",
    "share": r"(?i:share this|copy this link|rhannu hwn|external links)",
    "stamp": r"(?i:last updated|\bpublished:|\bupdated:)",
    "credit": r"(?i:contributed to this report|\((?:photo|image|picture)s?\b|\b(?:photo|picture|image)s?:"
    r"|getty images|\((?:left|right|centre|center|above|below|file photo|stock photo)\))",
    "byline": r"^By [A-Z]",
    "promo": r"(?i:watch the video|read more|click here|follow @|follow us|sign up|subscribe (?:now|to))",
}
_DETECT = re.compile("|".join(f"(?:{p})" for p in DETECTORS.values()))
_ENDED = re.compile(r"[.!?\"'\u201d\u2019)\u2026]$")


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def feed_records(folder: Path) -> list[dict]:
    """Feed items with over 150 words of text and a description of 9-99 words that does not just
    repeat the text's start, as records like the corpus's (sentences by our own splitter)."""
    records = []
    for name in FEEDS:
        for entry in feedparser.parse((folder / name).read_bytes()).entries:
            if not entry.get("content"):
                continue
            text = html_to_text(max((part["value"] for part in entry.content), key=len))
            reference = html_to_text(entry.get("summary", "")).replace("\n", " ")
            if len(text.split()) > 150 and 8 < len(reference.split()) < 100 and reference[:60] != text[:60]:
                article = " ".join(text.split("\n"))
                records.append(
                    {"article": article, "article_sentences": sentences(text), "reference": reference}
                )
    return records


def systems(record: dict, mode: str, scorer: rouge_scorer.RougeScorer) -> dict[str, list[str]]:
    """Each system's summary as a list of sentences."""
    text = "\n".join(record["article_sentences"]) if mode == "lines" else record["article"]
    body = clean_body("", text)
    return {
        "ours: summarize": sentences(summarize(body, MAX_WORDS)),
        "Lead-3": record["article_sentences"][:3],
        "Lead-3 cut at 60 words": [" ".join(" ".join(record["article_sentences"][:3]).split()[:MAX_WORDS])],
        "oracle: best whole sentences": oracle(
            record["reference"], sentences(body)[:ORACLE_SENTENCES], scorer
        ),
    }


def oracle(reference: str, candidates: list[str], scorer: rouge_scorer.RougeScorer) -> list[str]:
    """The whole sentences, in text order and within MAX_WORDS words, with the best ROUGE-1 F1 against
    the reference: every subset tried. It reads the reference, so it is no system but a ceiling for
    any method that picks whole sentences among these candidates."""
    tokens = scorer._tokenizer.tokenize  # rouge-score's own tokenizer and stemmer
    ref = Counter(tokens(reference))
    bags = [Counter(tokens(s)) for s in candidates]
    sizes = [len(s.split()) for s in candidates]
    best, best_f = [], 0.0
    for n in range(1, len(candidates) + 1):
        for subset in itertools.combinations(range(len(candidates)), n):
            if sum(sizes[i] for i in subset) > MAX_WORDS:
                continue
            bag = sum((bags[i] for i in subset), Counter())
            overlap = sum((bag & ref).values())
            f = 2 * overlap / (sum(bag.values()) + sum(ref.values())) if overlap else 0.0
            if f > best_f:
                best, best_f = [candidates[i] for i in subset], f
    return best


def score(records: list[dict], mode: str) -> dict[str, dict[str, float]]:
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    rows: dict[str, dict[str, list[float]]] = {}
    for record in records:
        reference = record["reference"]
        ref_lines = "\n".join(re.split(r"(?<=[.!?])\s+", reference))
        for name, summary in systems(record, mode, scorer).items():
            row = rows.setdefault(name, {key: [] for key in (*METRICS, "words", "boiler", "unended", "cut")})
            flat, lines = " ".join(summary), "\n".join(summary)
            for metric in METRICS:
                pair = (ref_lines, lines) if metric == "rougeLsum" else (reference, flat)
                row[metric].append(100 * scorer.score(*pair)[metric].fmeasure)
            row["words"].append(len(flat.split()))
            row["boiler"].append(sum(bool(_DETECT.search(s)) for s in summary))
            row["unended"].append(sum(not _ENDED.search(s.strip()) for s in summary))
            row["cut"].append(flat.endswith(ELLIPSIS))
    return {name: summarize_row(row) for name, row in rows.items()}


def summarize_row(row: dict[str, list[float]]) -> dict[str, float]:
    out = {key: statistics.mean(row[key]) for key in (*METRICS, "words")}
    out["max words"] = max(row["words"])
    out["over 60"] = sum(w > MAX_WORDS for w in row["words"])
    out["boiler"] = sum(row["boiler"])
    out["unended"] = sum(row["unended"])
    out["cut"] = sum(row["cut"])
    out["per article"] = {metric: row[metric] for metric in ("rouge1", "rougeL")}
    return out


def table(results: dict[str, dict[str, float]]) -> str:
    head = "| system | R-1 | R-2 | R-L | R-Lsum | words avg | max | over 60 | boilerplate | unended | cut |\n"
    head += "|---|---|---|---|---|---|---|---|---|---|---|\n"
    lines = [
        f"| {name} | {r['rouge1']:.2f} | {r['rouge2']:.2f} | {r['rougeL']:.2f} | {r['rougeLsum']:.2f}"
        f" | {r['words']:.1f} | {r['max words']} | {r['over 60']} | {r['boiler']} | {r['unended']}"
        f" | {r['cut']} |"
        for name, r in results.items()
    ]
    return head + "\n".join(lines) + "\n"


def goals(results: dict[str, dict]) -> str:
    ours, lead3, cut = results["ours: summarize"], results["Lead-3"], results["Lead-3 cut at 60 words"]
    checks = [
        (f"ROUGE-1 at least Lead-3's: {ours['rouge1']:.2f} vs {lead3['rouge1']:.2f}"
         f" ({gap(ours, lead3, 'rouge1')})", ours["rouge1"] >= lead3["rouge1"]),
        (f"ROUGE-L at least Lead-3's: {ours['rougeL']:.2f} vs {lead3['rougeL']:.2f}"
         f" ({gap(ours, lead3, 'rougeL')})", ours["rougeL"] >= lead3["rougeL"]),
        (f"at most {MAX_WORDS} words: max {ours['max words']}", ours["max words"] <= MAX_WORDS),
        (f"no boilerplate sentence left: {ours['boiler']}", ours["boiler"] == 0),
    ]  # fmt: skip
    lines = [f"- {'MET' if ok else 'MISSED'}: {text}" for text, ok in checks]
    lines.append(
        f"- for comparison, against Lead-3 cut at {MAX_WORDS} words: R-1 {gap(ours, cut, 'rouge1')};"
        f" R-L {gap(ours, cut, 'rougeL')}"
    )
    return "\n".join(lines) + "\n"


def gap(ours: dict, other: dict, metric: str, draws: int = 2000) -> str:
    """Ours minus the other, per article: the mean and a 95% paired bootstrap interval (fixed seed)."""
    diffs = [a - b for a, b in zip(ours["per article"][metric], other["per article"][metric], strict=True)]
    rng = random.Random(0)
    means = sorted(statistics.mean(rng.choices(diffs, k=len(diffs))) for _ in range(draws))
    low, high = means[int(0.025 * draws)], means[int(0.975 * draws) - 1]
    return f"difference {statistics.mean(diffs):+.2f}, 95% interval {low:+.2f} to {high:+.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    root = Path(__file__).resolve().parent.parent
    parser.add_argument("--corpus", type=Path, default=root.parent / "shared" / "corpus" / "summaries")
    parser.add_argument("--quick", action="store_true", help="50 articles per file, no RESULTS.md")
    args = parser.parse_args()
    t0, out = time.perf_counter(), []
    for name in FILES:
        with open(args.corpus / f"{name}.jsonl", encoding="utf-8") as f:
            records = [json.loads(line) for line in f][: 50 if args.quick else None]
        for mode in ("lines", "flat"):
            results = score(records, mode)
            part = f"## {name}, {mode} input ({len(records)} articles)\n\n{table(results)}"
            if name.startswith("cnndm"):
                part += "\n" + goals(results)
            print(part)
            out.append(part)
    records = feed_records(args.corpus.parent / "real-feeds")[: 50 if args.quick else None]
    part = f"## Development set: feed descriptions, lines input ({len(records)} items)\n\n"
    part += table(score(records, "lines"))
    print(part)
    out.append(part)
    if not args.quick:
        write_results("\n".join(out), time.perf_counter() - t0)


NOTES = """
Systems, each given the same article:
- ours: `summarize(clean_body("", text), 60)`: boilerplate removed, then the story sentences from the
  top (after the lead: no quotes, no first person, none under 8 words; a line that ends no sentence
  joined to a next one that starts in lower case), each without its asides (brackets, paired dashes,
  unless they attribute or hedge), whole while they fit in 60 words; if 8 or more words are left, the
  next one shortened at its last clause boundary (else at a word that leaves nothing dangling) and
  closed with "…".
- Lead-3: the first 3 of FRANK's spaCy sentences of the raw article (boilerplate and all), no word limit.
- Lead-3 cut at 60 words: the same, cut mid-sentence after 60 words (one "sentence" for the counts): what
  Lead-3 scores when held to our length, though it breaks our whole-sentence rule.
- oracle: the whole sentences among the first 10 of the cleaned body, in text order, at most 60 words,
  with the best ROUGE-1 F1 against the reference (every subset tried). It reads the reference: not a
  system, but the ceiling for any method that picks whole sentences there.
- Development set (last table): 101 items of two saved feeds (TIME world, 404 Media; `FEEDS`) with their
  full text and a description the editors wrote, which is the reference (about 20 words: shorter
  summaries score better there). Choices for `ours` are made on it and on XSum, not on CNN/DailyMail.
Input: `lines` gives the article as one sentence a line (FRANK's `article_sentences`), the nearest we have
to a feed's paragraphs: the corpus lost its line breaks. `flat` gives the raw `article`, one line, as a
feed that lost its paragraphs would; XSum's flat text has sentences glued (`...Syria.They were...`), which
no sentence splitter of ours cuts, so read its flat rows as a stress case.
ROUGE: rouge-score, Porter stemming, F1 x 100, mean over articles; R-L on the flat strings, R-Lsum with one
sentence a line (references split after `.!?`). Words: whitespace-separated.
Boilerplate: output sentences (ours split by `bot.rules.text.sentence_spans`, Lead-3's as given) that
match one of the bench's own detectors (`DETECTORS` in this file: dateline, scroll, player, share,
stamp, credit, byline, promo), written from the corpus notes and independent of
`bot/summary/boilerplate.py`. Unended: output sentences without a final `.!?`, quote or bracket: DM
captions, and fragments where the corpus's sentence split cut a quote. Cut: summaries that end on
an ellipsis (a sentence shortened to fit).
"""


CHOICE = """
## How the summarizer was chosen, and how close the goal is

Measured with this script's scoring (R-1 / R-L, mean words). "before" is the summarizer of commit
00c8564, "centrality" the same with 10 candidates, position damping 2 and the words left over spent on
a shortened sentence (2026-11-28); "lead order" the one that shipped then; "lead order, asides out" the
one that ships now (2026-12-04).

| summarizer | dev | XSum lines | CNN/DM lines | CNN/DM flat |
|---|---|---|---|---|
| before: lead + central of 6 | 24.68 / 18.59 (54) | 19.19 / 12.69 | 39.30 / 25.54 (53) | 39.47 / 25.76 |
| centrality, tuned on dev | 25.03 / 18.75 (57) | 19.30 / 12.62 | 39.69 / 25.41 (58) | 39.41 / 25.33 |
| lead order | 24.83 / 18.49 (57) | 19.01 / 12.22 | 41.11 / 26.38 (57) | 41.16 / 26.34 |
| lead order, asides out | 25.18 / 18.69 (57) | 19.13 / 12.25 | 41.38 / 26.71 (58) | 41.34 / 26.57 |

- Lead order is kept: news feeds give the lede (Lead-3 is the usual hard-to-beat baseline on
  CNN/DailyMail), it reads as one piece with no jumps, has nothing to tune and costs about a sixth of
  centrality (0.1 ms against 0.55-0.6 ms an article). Centrality's parameters (candidates 6-15,
  damping 1-16 or none) were picked on dev and XSum; on CNN/DailyMail it stayed 1.6-1.9 R-1 under
  Lead-3. Skipping low-content sentences by centrality, whole sentences only, or a later whole
  sentence instead of the shortened one all lost 0.2-1.3 R-1 on CNN/DailyMail in 2026-12.
- What changed on 2026-12-04, each kept for what it does to an alert, and because dev and XSum moved
  the same way (removing one at a time, R-1): asides out (what brackets or a pair of dashes set off,
  unless it attributes or hedges, "- police said -", "(allegedly)", or holds a quote mark: the
  sentence reads whole without it and the words go to the story): +0.35 dev, +0.05 CNN/DM lines,
  +0.02 flat and XSum; a sentence broken across two lines read as one (a line that ends no sentence,
  then one that starts in lower case: markup broke it): +0.18 CNN/DM lines, +0.10 XSum lines; a
  paragraph of 40 or more words that ends on "(file picture)" is story, not a caption: +0.15 CNN/DM
  flat, all of it one article whose summary had been empty.
- Kept although dev disagrees: no quotes or first person after the lead (tests pin it; an alert says
  what happened). Allowing them scores 0.7 R-1 higher on dev, whose descriptions often quote.
- Ending on an ellipsis (the cut column): judged to read well on a phone, since the alert links the
  article and "…" says there is more; the cut falls after a comma, semicolon or colon, or before a
  dash, when one is in the second half of what fits. Not cutting at all: -1.9 R-1 on CNN/DM.
- Tried and left out: dropping closing attributions (", police said.") or relative "who" clauses
  (an allegation would read as fact, or the grammar breaks; +/-0.1); dropping "yesterday"/"last
  night" (+0.1 on CNN/DM only, and it loses when something happened); questions after the lead,
  redundant sentences, other minimum lengths (0.2 or less, no steady direction).
- How close: ours is now at or above Lead-3 on R-1 and R-L for both inputs, at 58 words against 74,
  but by 0.06-0.36, far inside the 95% intervals (about +/-0.8): on 250 articles the two cannot be
  told apart. Split in halves (even and odd articles), lines input is ahead in both; flat input is
  ahead on the even half and 0.12 R-1 behind on the odd one. The oracle (whole sentences, 50-52
  R-1) says that choosing sentences is where the room is; nothing tried without the reference found it.
"""


def write_results(body: str, seconds: float) -> None:
    write_section(
        "Summary evaluation", ".venv/bin/python bench/summary_eval.py", seconds, f"{NOTES}\n{body}{CHOICE}"
    )


if __name__ == "__main__":
    main()
