"""Measures RuleIndex build time, memory, per-article match time and add() time against a naive re baseline.

Rules are n-grams of real news (corpus real-feeds), articles are CNN/DailyMail texts of 3-4 KB
(corpus summaries). Run from the repo root:  .venv/bin/python bench/match_bench.py [--quick]
The full run rewrites the "# Rule matching benchmark" section of bench/RESULTS.md; --quick only prints.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import random
import re
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.results import write_section  # noqa: E402
from bot.errors import QueryError  # noqa: E402
from bot.feeds.parse import parse_feed  # noqa: E402
from bot.rules.index import Document, RuleIndex  # noqa: E402
from bot.rules.query import Phrase, parse_rule  # noqa: E402
from bot.rules.text import words  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"  # ../shared beside the checkout
STOP = set(
    """a an the and or not of in on at to for from by with without as is are was were be been
being it its this that these those he she they we you i his her their our your my me him them us
has have had do does did will would can could should may might must shall but if than then so no
yes up down out over under about after before into onto off per via who whom whose which what when
where why how all any some more most such only own same too very just also s t mr mrs ms""".split()
)
SENTENCE = re.compile(r"[.!?;:,()\[\]\"\u201c\u201d|]+")
ADDS = 200


def ngrams(rng: random.Random, mix: str) -> tuple[list[tuple[str, ...]], list[str], list[str]]:
    """Deduplicated 1-4 word n-grams in random order; unigrams; acronyms.

    stress: frequency-weighted, so the commonest n-grams ("went", "the idea of") become rules.
    watchlist: uniform over the n-grams that recur (2+ times), then over the rest, one-word rules
    being names: what people watch for is specific ("Membership Action Plan", "Gazprom")."""
    counts: dict[tuple[str, ...], int] = {}
    for line in (CORPUS / "real-feeds/MANIFEST.jsonl").read_text().splitlines():
        try:
            feed = parse_feed((CORPUS / "real-feeds" / json.loads(line)["file"]).read_bytes())
        except Exception:
            continue
        for article in feed.articles:
            for sentence in SENTENCE.split(article.title + "\n" + article.text):
                ws = [m.group() for m in words(sentence)]
                for n in range(1, 5):
                    for i in range(len(ws) - n + 1):
                        gram = tuple(ws[i : i + n])
                        counts[gram] = counts.get(gram, 0) + 1
    merged: dict[tuple[str, ...], list] = {}  # lowercase -> [count, most frequent surface form, its count]
    for gram, count in counts.items():
        if all(w.lower() in STOP or w.isdigit() for w in gram):
            continue
        entry = merged.setdefault(tuple(w.lower() for w in gram), [0, gram, 0])
        entry[0] += count
        if count > entry[2]:
            entry[1:] = [gram, count]
    if mix == "stress":  # Efraimidis-Spirakis: weighted sampling without replacement
        keyed = sorted(((math.log(rng.random()) / c, g) for c, g, _ in merged.values()), reverse=True)
        order = [g for _, g in keyed]
    else:  # recurring n-grams first, then (if more rules are needed) the rest, each shuffled;
        # a one-word rule is a name ("Gazprom"), not a common word ("staged")
        wanted = [(c, g) for c, g, _ in merged.values() if len(g) > 1 or g[0][:1].isupper()]
        recurring = sorted(g for c, g in wanted if c >= 2)
        rest = sorted(g for c, g in wanted if c < 2)
        rng.shuffle(recurring)
        rng.shuffle(rest)
        order = recurring + rest
    unigrams = [g[0] for g in order if len(g) == 1 and g[0].isalpha()]
    acronyms = [w for w in unigrams if w.isupper() and 2 <= len(w) <= 6]
    return order, unigrams, acronyms


def make_rules(count: int, rng: random.Random, mix: str = "stress") -> list[tuple[str, object]]:
    """(text, tree) pairs: ~70% phrases, 20% boolean, 5% NEAR, 4% case:, 1% regex."""
    order, uni, acro = ngrams(rng, mix)
    grams = iter(order)

    def term() -> str:
        g = next(grams)
        return g[0] if len(g) == 1 else '"' + " ".join(g) + '"'

    def word() -> str:
        return rng.choice(uni[:5000])

    rules, seen = [], set()
    while len(rules) < count:
        r = rng.random()
        if r < 0.70:
            text = " ".join(next(grams))
        elif r < 0.90:
            kind = rng.randrange(3)
            if kind == 0:
                text = f"{term()} {word()} -{word()}"
            elif kind == 1:
                text = f"({term()} OR {term()}) {word()}"
            else:
                text = f"title:{term()}"
        elif r < 0.95:
            text = f"{term()} NEAR/{rng.randint(2, 10)} {word()}"
        elif r < 0.99:
            text = f"case:{rng.choice(acro)}" + (f" {term()}" if rng.random() < 0.5 else "")
        else:
            w, v = rng.choice(uni[:3000]).capitalize(), rng.choice(uni[:3000]).lower()
            text = rng.choice([f"/{w}s? \\d+/", rf"/{w}\W+{v}/", f"/{w}(ian|ese|s)? ({v}|{w})/"])
        if text in seen:
            continue
        seen.add(text)
        with contextlib.suppress(QueryError):
            rules.append((text, parse_rule(text)))
    return rules


def load_articles(count: int, rng: random.Random) -> list[Document]:
    """Real CNN/DM article text cut at word boundaries into 3,000-4,000 char bodies.

    The 250 articles are read as one stream: a long article gives several bodies, a short one
    is continued by the next article (only 137 of them reach 3,000 chars on their own)."""
    lines = (CORPUS / "summaries/cnndm_frank.jsonl").read_text().splitlines()
    texts = [json.loads(line)["article"] for line in lines]
    docs, buffer = [], ""
    for text in texts:
        buffer = (buffer + "\n" + text).strip()
        while len(buffer) >= 3000 and len(docs) < count:
            body = buffer[: rng.randint(3000, 4000)].rsplit(" ", 1)[0]
            buffer = buffer[len(body) :].strip()
            title = " ".join(m.group() for m in list(words(re.sub(r"^.{0,40}\(CNN\)", "", body)))[:8])
            docs.append(
                Document(title=title, body=body, feed="CNN", link=f"https://edition.cnn.com/{len(docs)}")
            )
    return docs


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def time_matches(index: RuleIndex, docs: list[Document]) -> tuple[list[float], int]:
    times, hits = [], 0
    for doc in docs:
        start = time.perf_counter()
        found = index.match(Document(title=doc.title, body=doc.body, feed=doc.feed, link=doc.link))
        times.append(time.perf_counter() - start)
        hits += len(found)
    return times, hits


def baseline(rules: list[tuple[str, object]], size: int, docs: list[Document]) -> list[float]:
    """One compiled re per rule, for `size` rules: the first `size` plain phrase rules (a phrase is what
    one regex can say; the issue's own measurement was phrases only), each searched over title + body."""
    phrases = (tree for _, tree in rules if isinstance(tree, Phrase) and tree.field is None and not tree.case)
    compiled = [
        re.compile(r"\b" + r"\W+".join(map(re.escape, tree.words)) + r"\b", re.I)
        for tree in itertools.islice(phrases, size)
    ]
    times = []
    for doc in docs:
        start = time.perf_counter()
        text = doc.title + "\n" + doc.body
        [p for p in compiled if p.search(text)]
        times.append(time.perf_counter() - start)
    return times


def bench_size(size: int, rules, fresh, docs, n_base: int) -> dict:
    start = time.perf_counter()
    index = RuleIndex((i, tree) for i, (_, tree) in enumerate(rules[:size]))
    build = time.perf_counter() - start
    del index
    tracemalloc.start()
    index = RuleIndex((i, tree) for i, (_, tree) in enumerate(rules[:size]))
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    time_matches(index, docs)  # warm-up: lru caches of the normalizer, regex compile cache
    times, hits = time_matches(index, docs)
    subset, _ = time_matches(index, docs[:n_base])  # against the baseline: these rules, before the adds
    adds = []
    for j, (_, tree) in enumerate(fresh):
        start = time.perf_counter()
        index.add(size + j, tree)
        adds.append(time.perf_counter() - start)
    # matching still works: each fresh plain phrase is found in a story that holds it
    for j, (text, tree) in enumerate(fresh):
        if isinstance(tree, Phrase) and not tree.field and not tree.case:
            doc = Document(title="x", body=docs[j % len(docs)].body + " " + text + ".")
            assert size + j in index.match(doc), f"added rule {text!r} not matched"
    after, _ = time_matches(index, docs)
    return dict(size=size, build=build, retained=retained, peak=peak, med=statistics.median(times),
                p95=pct(times, 0.95), hits=hits / len(docs), add_med=statistics.median(adds),
                add_p95=pct(adds, 0.95), after=statistics.median(after),
                subset=statistics.median(subset))  # fmt: skip


def report(results: list[dict], base: dict, n_base: int) -> str:
    ms = 1000
    lines = [
        "| rules | build s | index MB retained / peak | match median ms | p95 ms | hits/article"
        " | add median ms | add p95 ms | match after adds ms |",
        "|" + "---|" * 9,
    ]
    for r in results:
        mem = f"{r['retained'] / 2**20:.1f} / {r['peak'] / 2**20:.1f}"
        match = [f"{r[k] * ms:.2f}" for k in ("med", "p95")]
        adds = [f"{r[k] * ms:.3f}" for k in ("add_med", "add_p95")]
        cells = [f"{r['size']:,}", f"{r['build']:.2f}", mem, *match, f"{r['hits']:.1f}", *adds]
        cells.append(f"{r['after'] * ms:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"| rules | naive re median ms | ours median ms (same {n_base} articles) | ratio |"]
    lines.append("|---|---|---|---|")
    for size, (b, ours) in base.items():
        lines.append(f"| {size:,} | {b * ms:.1f} | {ours * ms:.2f} | {b / ours:,.0f}x |")
    big, add = results[-1], max(r["add_p95"] for r in results)
    ratio = base[10_000][0] / base[10_000][1] if 10_000 in base else 0
    n = f"{big['size']:,} rules"
    goals = [
        (f"match < 1.5 ms/article (median) at {n}", big["med"] < 0.0015, f"{big['med'] * ms:.2f} ms"),
        ("at least 1,000x the naive re baseline at 10,000 rules", ratio >= 1000, f"{ratio:,.0f}x"),
        (f"build < 2 s at {n}", big["build"] < 2, f"{big['build']:.2f} s"),
        ("add one rule < 10 ms (p95, every size)", add < 0.010, f"{add * ms:.3f} ms"),
    ]
    lines += ["", *(f"- {'MET' if ok else 'MISSED'}: {name}: {value}" for name, ok, value in goals)]
    return "\n".join(lines)


def run_mix(mix: str, sizes: list[int], docs: list[Document], n_base: int) -> tuple[str, str]:
    rng = random.Random(20240601)
    t0 = time.perf_counter()
    rules = make_rules(max(sizes) + ADDS, rng, mix)
    fresh = rules[max(sizes) :]
    kinds = {k: sum(1 for t, _ in rules if t.startswith(k)) for k in ("/", "case:", "title:")}
    kinds["NEAR/"] = sum(1 for t, _ in rules if "NEAR/" in t)
    print(f"{mix}: {len(rules)} rules {kinds} prepared in {time.perf_counter() - t0:.1f}s")
    print("  e.g. " + " | ".join(t for t, _ in rules[:12]))
    results, base = [], {}
    for size in sizes:
        r = bench_size(size, rules, fresh, docs, n_base)
        if size <= 10_000:
            base[size] = (statistics.median(baseline(rules, size, docs[:n_base])), r["subset"])
        results.append(r)
        print(f"  {size:>7} rules done")
    examples = ", ".join(f"`{t}`" for t, _ in rules[:8])
    return report(results, base, n_base), f"{kinds}; for example {examples}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, smoke run, no RESULTS.md")
    args = parser.parse_args()
    sizes = [500, 2000] if args.quick else [1000, 10_000, 100_000]
    n_docs, n_base = (30, 5) if args.quick else (200, 20)
    t0 = time.perf_counter()
    docs = load_articles(n_docs, random.Random(20240601))
    size = statistics.mean(len(d.body) for d in docs)
    print(f"{len(docs)} articles of {size:.0f} chars on average")
    sections = []
    for mix in ("watchlist", "stress"):
        table, kinds = run_mix(mix, sizes, docs, n_base)
        print(f"\n{mix}\n{table}\n")
        sections.append(f"## {mix} mix\n\nRule kinds: {kinds}\n\n{table}\n")
    if args.quick:
        return
    notes = f"""
Two rule mixes, each of 1-4 word n-grams of the feeds in corpus/real-feeds (seeded RNG), ~70% phrases,
20% boolean, 5% NEAR, 4% case:, 1% bare RE2 regex:
- watchlist: n-grams drawn uniformly from those that recur (2+ times in the corpus), then from the
  rest, a one-word rule being a capitalized word (a name): specific phrases, as people watch for.
- stress: n-grams drawn weighted by frequency, so the commonest ("went", "the idea of") become rules
  and hundreds match every article: a worst case, reported so that regressions show.
Each size uses the first N rules; the add columns add the {ADDS} rules after them.
Articles: {len(docs)} bodies of 3,000-4,000 chars cut at word boundaries from the CNN/DailyMail texts of
corpus/summaries/cnndm_frank.jsonl read as one stream, title = first 8 words of the body.
Match time: the whole `index.match(Document(...))` call (normalization included), after one untimed
warm-up pass. Memory: tracemalloc during a second build (retained / peak); build time from the
first build, without tracemalloc. Add: {ADDS} `add()` calls of fresh parsed rules; afterwards every
added plain phrase is checked to match, and the articles are matched again.
Baseline: one `re.compile(r"\\b" + r"\\W+".join(words) + r"\\b", re.I)` per rule, as many as the size:
the first that many plain phrase rules of the mix (a phrase is what one regex says), searched over
title + body, on the first {n_base} articles only (it is slow), against our median on the same articles
with the size's rules, all kinds (timed before the adds).
"""
    write_section(
        "Rule matching benchmark",
        ".venv/bin/python bench/match_bench.py",
        time.perf_counter() - t0,
        f"{notes}\n" + "\n".join(sections),
    )


if __name__ == "__main__":
    main()
