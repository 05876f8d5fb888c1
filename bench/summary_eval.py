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
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from rouge_score import rouge_scorer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bot.rules.text import sentence_spans  # noqa: E402
from bot.summary import clean_body, summarize  # noqa: E402
from bot.summary.lead import ELLIPSIS  # noqa: E402

MAX_WORDS = 60
ORACLE_SENTENCES = 10  # the oracle picks among the first 10 sentences of the cleaned body
FILES = ("cnndm_frank", "xsum_frank")
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


def systems(record: dict, mode: str, scorer: rouge_scorer.RougeScorer) -> dict[str, list[str]]:
    """Each system's summary as a list of sentences."""
    text = "\n".join(record["article_sentences"]) if mode == "lines" else record["article"]
    body = clean_body("", text)
    return {
        "ours: summarize": sentences(summarize(body, MAX_WORDS)),
        "Lead-3": record["article_sentences"][:3],
        "Lead-3 cut at 60 words": [" ".join(" ".join(record["article_sentences"][:3]).split()[:MAX_WORDS])],
        "oracle: best whole sentences": oracle(record["reference"], sentences(body)[:ORACLE_SENTENCES], scorer),
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
    return out


def table(results: dict[str, dict[str, float]]) -> str:
    head = "| system | R-1 | R-2 | R-L | R-Lsum | words avg | max | over 60 | boilerplate | unended | cut … |\n"
    head += "|---|---|---|---|---|---|---|---|---|---|---|\n"
    lines = [
        f"| {name} | {r['rouge1']:.2f} | {r['rouge2']:.2f} | {r['rougeL']:.2f} | {r['rougeLsum']:.2f}"
        f" | {r['words']:.1f} | {r['max words']} | {r['over 60']} | {r['boiler']} | {r['unended']} | {r['cut']} |"
        for name, r in results.items()
    ]
    return head + "\n".join(lines) + "\n"


def goals(results: dict[str, dict[str, float]]) -> str:
    ours, lead3 = results["ours: summarize"], results["Lead-3"]
    checks = [
        (f"ROUGE-1 at least Lead-3's: {ours['rouge1']:.2f} vs {lead3['rouge1']:.2f}",
         ours["rouge1"] >= lead3["rouge1"]),
        (f"ROUGE-L at least Lead-3's: {ours['rougeL']:.2f} vs {lead3['rougeL']:.2f}",
         ours["rougeL"] >= lead3["rougeL"]),
        (f"at most {MAX_WORDS} words: max {ours['max words']}", ours["max words"] <= MAX_WORDS),
        (f"no boilerplate sentence left: {ours['boiler']}", ours["boiler"] == 0),
    ]  # fmt: skip
    return "\n".join(f"- {'MET' if ok else 'MISSED'}: {text}" for text, ok in checks) + "\n"


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
    if not args.quick:
        write_results("\n".join(out), time.perf_counter() - t0)


NOTES = """
Systems, each given the same article:
- ours: `summarize(clean_body("", text), 60)`: boilerplate removed, then the lead sentence and the most
  central of the first 6 story sentences, whole sentences, at most 60 words.
- Lead-3: the first 3 of FRANK's spaCy sentences of the raw article (boilerplate and all), no word limit.
- Lead-3 cut at 60 words: the same, cut mid-sentence after 60 words (one "sentence" for the counts): what
  Lead-3 scores when held to our length, though it breaks our whole-sentence rule.
- oracle: the whole sentences among the first 10 of the cleaned body, in text order, at most 60 words,
  with the best ROUGE-1 F1 against the reference (every subset tried). It reads the reference: not a
  system, but the ceiling for any method that picks whole sentences there.
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
captions, and fragments where the corpus's sentence split cut a quote. Cut …: summaries that end on
an ellipsis (a sentence shortened to fit).
"""


def write_results(body: str, seconds: float) -> None:
    machine = f"{len(os.sched_getaffinity(0))} CPUs (nproc), Python {platform.python_version()}"
    section = (
        f"# Summary evaluation\n\nDate: {datetime.now():%Y-%m-%d %H:%M}  \nMachine: {machine}  \n"
        "Command: `.venv/bin/python bench/summary_eval.py` (from the repository root)  \n"
        f"Total run time: {seconds:.0f} s\n{NOTES}\n{body}"
    )
    path = Path(__file__).with_name("RESULTS.md")
    old = path.read_text() if path.exists() else ""
    keep = re.sub(r"(?ms)^# Summary evaluation\n.*?(?=^# |\Z)", "", old).rstrip()
    path.write_text((keep + "\n\n" if keep else "") + section)
    print("wrote the Summary evaluation section of bench/RESULTS.md")


if __name__ == "__main__":
    main()
