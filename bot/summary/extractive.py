"""The extractive summary: the story's first sentences, in text order, the last one shortened to fit.
Pure, no I/O.

News puts what matters first, so the summary is the lead and the story sentences after it, whole
while they fit in max_words; the words left over (when there are at least MIN_WORDS) go to the next
story sentence, cut at a clause boundary and closed with an ellipsis. Only story sentences count:
ended, capitalised, long enough; after the lead, no quotes and no first person, because the alert says
what happened, not what someone felt.

Asides are dropped from the sentences first: what brackets or a pair of dashes set off ("the National
Security Agency (NSA)", "the guards – seven of them former soldiers –"), since the sentence reads
whole without it and the words go to the story instead; an aside that attributes or hedges ("– police
said –", "(allegedly)") or holds a quote mark stays. A line that ends no sentence and a next line
that starts in lower case are read as one sentence that markup broke.

Why lead order and not the most central sentences: on news whose feed gives the lede, centrality
chose no better (bench/RESULTS.md, "# Summary evaluation", how the summarizer was chosen), and lead
order reads as one piece, has nothing to tune and costs less.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.rules.text import sentence_spans
from bot.summary.lead import ELLIPSIS

MIN_WORDS = 8  # a story sentence, and a shortened one, has at least this many words
_ENDED = re.compile(r"[.!?\"'\u201d\u2019)\u2026]$")
_STARTED = re.compile(r"^[\"'\u201c\u2018(\[]?[A-Z0-9]")
_QUOTE_OR_FIRST_PERSON = re.compile(r"^[\"'\u201c\u2018]|\b(I|I'm|I've|I'd|we|We|my|My|our|Our|you|You)\b")
_CLAUSE_END = re.compile(r"[,;:]$")
_DASH = frozenset(("-", "--", "\u2013", "\u2014"))
# Asides (see without_asides): brackets after a word, a pair of spaced dashes (-, --, –, —) around
# words that start with a letter, or a pair of em dashes glued to the words around them. None holds a
# quote mark: dropping it could leave a quote unclosed. A spaced dash is read from where its spaces
# start: a bare \s+ would be tried from every space of a long run, reading the rest of it each time.
_QUOTES = '"\u201c\u201d\u2018'
_SPACED_DASH = r"(?<!\s)\s+(?:--?|\u2013|\u2014)"
_ASIDE = re.compile(
    rf"(?<=[^\s(])\s+\([^(){_QUOTES}]{{1,80}}\)(?=[\s,.;:!?])"
    rf"|{_SPACED_DASH}\s+(?=[^\W\d])(?:(?!{_SPACED_DASH}\s)[^{_QUOTES}]){{3,120}}?{_SPACED_DASH}(?=\s)"
    rf"|\u2014(?=[^\W\d])[^\u2014{_QUOTES}]{{3,120}}?(?<=\w)\u2014(?=[^\W\d])"
)
_ASIDE_MARKS = (" (", " -", " \u2013", "\u2014")  # every aside starts with one
# An aside that attributes or hedges stays, or a claim would read as fact.
_ATTRIBUTION = re.compile(
    r"\b(?:say|says|said|told|tells|according|claim\w*|alleg\w*|report\w*|suspect\w*|believ\w*|thought"
    r"|understood|apparently|deny|denies|denied|accus\w*|insist\w*)\b",
    re.IGNORECASE,
)
# Words a shortened sentence must not end on: "...found him under the…" says less than "...found him…".
_DANGLING = frozenset(
    "a an the of to in on at by for with from into about over under after before as than and or but nor"
    " that which who whom whose when where while if because is are was were be been has have had will"
    " would could should can may might its his her their our your this these those".split()
)


def summarize(body: str, max_words: int = 60) -> str:
    """At most max_words words from the top: whole story sentences while they fit, then the next one
    shortened with an ellipsis if at least MIN_WORDS words are left (a lead longer than max_words is
    always shortened)."""
    summary: list[str] = []
    count = 0
    for sentence in story_sentences(body):
        words = len(sentence.split())
        if count + words <= max_words:
            summary.append(sentence)
            count += words
            continue
        if not summary or max_words - count >= MIN_WORDS:
            summary.append(shorten(sentence, max_words - count))
        break
    return " ".join(summary)


def story_sentences(body: str) -> Iterator[str]:
    """The lead and the story sentences after it, without their asides, read from the top only as far
    as needed; when none looks like a story's, all sentences (still no quotes after the first)."""
    found, others = False, []
    for line in _joined_lines(body):
        for start, end in sentence_spans(line):
            sentence = " ".join(line[start:end].split())
            if _is_story_sentence(sentence) and not (found and _QUOTE_OR_FIRST_PERSON.search(sentence)):
                found = True
                yield without_asides(sentence)
            elif not found:
                others.append(sentence)
    if not found:
        yield from others[:1] + [s for s in others[1:] if not _QUOTE_OR_FIRST_PERSON.search(s)]


def _joined_lines(body: str) -> Iterator[str]:
    """The body's lines, a line that ends no sentence joined to the next when that one starts in
    lower case: one sentence that markup (a <br>, a link on its own line) broke in two.

    The lines of one sentence are held apart and joined once, and only the last is read for its end:
    rebuilding and rereading the joined text at every line is quadratic in a long run of such lines."""
    held: list[str] = []
    for line in body.split("\n"):
        if held and line.lstrip()[:1].islower() and not _ENDED.search(held[-1].rstrip()):
            held[-1] = held[-1].rstrip()
            held.append(line.lstrip())
            continue
        if held:
            yield " ".join(held)
        held = [line]
    if held:
        yield " ".join(held)


def without_asides(sentence: str) -> str:
    """The sentence without the asides that brackets or paired dashes set off ("the National Security
    Agency (NSA) was", "the guards – seven of them former soldiers – were"): it reads whole without them,
    and the words go to the story. An aside that attributes or hedges ("– police said –",
    "(allegedly)") stays."""
    if not any(mark in sentence for mark in _ASIDE_MARKS):  # most sentences: no regex
        return sentence
    return " ".join(_ASIDE.sub(_drop_aside, sentence).split())


def _drop_aside(aside: re.Match[str]) -> str:
    text = aside.group()
    if _ATTRIBUTION.search(text):
        return text
    return " " if text.startswith("\u2014") else ""  # an unspaced em dash sat between two words


def _is_story_sentence(sentence: str) -> bool:
    return bool(_ENDED.search(sentence) and _STARTED.search(sentence)) and len(sentence.split()) >= MIN_WORDS


def shorten(sentence: str, max_words: int) -> str:
    """The sentence in at most max_words words: whole if it fits, else cut after the last comma, colon,
    semicolon or before a dash in its second half (else after the last word that leaves nothing
    dangling), with an ellipsis."""
    words = sentence.split()
    if len(words) <= max_words:
        return sentence
    kept = words[:max_words]
    clause = next(
        (i for i in range(len(kept) - 1, len(kept) // 2 - 1, -1)
         if _CLAUSE_END.search(kept[i]) or (i + 1 < len(words) and words[i + 1] in _DASH)),
        None,
    )  # fmt: skip
    if clause is not None:
        kept = kept[: clause + 1]
    else:
        while len(kept) > 1 and kept[-1].lower() in _DANGLING:
            kept.pop()
    return " ".join(kept).rstrip(",;:") + ELLIPSIS
