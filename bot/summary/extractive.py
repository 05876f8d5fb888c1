"""The extractive summary: the lead sentence first, then the most central sentences near it. Pure, no I/O.

Centrality is the summed similarity of a sentence to the other candidates (words weighted by how
few sentences share them, so "the" weighs nothing), damped by position: news puts what matters
early. Only story sentences are candidates: ended, capitalised, long enough; after the lead, no
quotes and no first person, because the alert says what happened, not what someone felt.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from bot.rules.text import keys, sentence_spans
from bot.summary.lead import ELLIPSIS

CANDIDATES = 6  # how many story sentences from the top compete
POSITION_DAMPING = 0.5  # score / (1 + damping * position)
MIN_WORDS = 8
_ENDED = re.compile(r"[.!?\"'\u201d\u2019)\u2026]$")
_STARTED = re.compile(r"^[\"'\u201c\u2018(\[]?[A-Z0-9]")
_QUOTE_OR_FIRST_PERSON = re.compile(r"^[\"'\u201c\u2018]|\b(I|I'm|I've|I'd|we|We|my|My|our|Our|you|You)\b")


def summarize(body: str, max_words: int = 60) -> str:
    """At most max_words words of whole sentences, in text order, the lead first; a lead longer than
    max_words is cut with an ellipsis."""
    sentences = candidate_sentences(body)
    if not sentences:
        return ""
    lead = sentences[0].split()
    if len(lead) > max_words:
        return " ".join(lead[:max_words]) + ELLIPSIS
    chosen, count = [0], len(lead)
    for i in sorted(range(1, len(sentences)), key=centrality(sentences).__getitem__, reverse=True):
        words = len(sentences[i].split())
        if count + words <= max_words:
            chosen.append(i)
            count += words
    return " ".join(sentences[i] for i in sorted(chosen))


def candidate_sentences(body: str) -> list[str]:
    """The lead and the story sentences after it (all sentences when none looks like a story's)."""
    every = [" ".join(body[s:e].split()) for s, e in sentence_spans(body)]
    story = [s for s in every if _is_story_sentence(s)] or every
    after = [s for s in story[1:] if not _QUOTE_OR_FIRST_PERSON.search(s)]
    return (story[:1] + after)[:CANDIDATES]


def _is_story_sentence(sentence: str) -> bool:
    return bool(_ENDED.search(sentence) and _STARTED.search(sentence)) and len(sentence.split()) >= MIN_WORDS


def centrality(sentences: list[str]) -> list[float]:
    """Each sentence's summed similarity to the others, damped by its position."""
    bags = [set(keys(s)) for s in sentences]
    shared = Counter(key for bag in bags for key in bag)
    weight = {key: math.log((len(bags) + 1) / n) for key, n in shared.items()}
    mass = [math.sqrt(sum(weight[k] for k in bag)) or 1.0 for bag in bags]

    def similarity(i: int, j: int) -> float:
        return sum(weight[k] for k in bags[i] & bags[j]) / (mass[i] * mass[j])

    n = len(bags)
    return [sum(similarity(i, j) for j in range(n) if j != i) / (1 + POSITION_DAMPING * i) for i in range(n)]
