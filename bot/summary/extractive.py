"""The extractive summary: the story's first sentences, in text order, the last one shortened to fit.
Pure, no I/O.

News puts what matters first, so the summary is the lead and the story sentences after it, whole
while they fit in max_words; the words left over (when there are at least MIN_WORDS) go to the next
story sentence, cut at a clause boundary and closed with an ellipsis. The lead is the first real
sentence, whatever its length ("Remembering was his curse."): it starts with a capital or a digit,
ends on a full stop, a question or an exclamation mark, and has MIN_LEAD_WORDS words. After it, only
story sentences count: ended, capitalised, MIN_WORDS long, no quotes and no first person, because the
alert says what happened, not what someone felt.

Quotation marks never show unpaired (quotation.py says how they pair). Marks apart from every word
or typed twice are tidied first; the sentences that one quotation runs across are read as one
("“We are practicing kindness. You can, too.”"); a quotation still open where its paragraph ends
on a full stop is closed there, as a quote that runs over several paragraphs leaves it; a sentence that
closes a quotation it did not open is the end of a quote whose start is elsewhere, and is not shown.
A shortened sentence is cut where no quotation is open, or, when one is open over all of its second
half, inside it, and the quotation is closed after the ellipsis ("…”").

Asides are dropped from the sentences first: what brackets or a pair of dashes set off ("the National
Security Agency (NSA)", "the guards – seven of them former soldiers –"), since the sentence reads
whole without it and the words go to the story instead; an aside that attributes or hedges ("– police
said –", "(allegedly)"), holds a quote mark, or holds words a rule matched stays: an alert's summary
never loses the words that say why it alerted ("Science in the Arctic – and Greenland – is…"). A line
that ends no sentence and a next line that starts in lower case are read as one sentence that markup
broke.

Why lead order and not the most central sentences: on news whose feed gives the lede, centrality
chose no better (bench/RESULTS.md, "# Summary evaluation", how the summarizer was chosen), and lead
order reads as one piece, has nothing to tune and costs less.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from functools import partial

from bot.domain import Span
from bot.rules.text import sentence_spans
from bot.summary.lead import ELLIPSIS
from bot.summary.quotation import (
    BROKEN,
    closing_mark,
    is_balanced,
    open_after,
    open_after_each,
    paired_words,
    without_stray_marks,
)

MIN_WORDS = 8  # a story sentence, and a shortened one, has at least this many words
# A lead has a subject, a verb and what they act on or say of it: two words that end on a period are
# far more often a place or a label ("Sandisfield, Mass.") than a sentence.
MIN_LEAD_WORDS = 3
_ENDED = re.compile(r"[.!?\"'\u201d\u2019\u00bb)\u2026]$")
_TERMINAL = re.compile(r"[.!?\u2026][\"'\u201d\u2019\u00bb)\]]*$")  # a full stop, ? or !, then closers
_DOUBLE_MARKS = frozenset('"\u201c\u201d\u201e')  # see _marks_rejoined
_OPENERS = "\"'\u201c\u2018\u201e\u00ab(["
_QUOTE_OR_FIRST_PERSON = re.compile(
    r"^[\"'\u201c\u2018\u201e\u00ab]|\b(I|I'm|I've|I'd|we|We|my|My|our|Our|you|You)\b"
)
_CLAUSE_END = re.compile(r"[,;:]$")
_DASH = frozenset(("-", "--", "\u2013", "\u2014"))
# Asides (see without_asides): brackets after a word, a pair of spaced dashes (-, --, –, —) around
# words that start with a letter, or a pair of em dashes glued to the words around them. None holds a
# quote mark: dropping it could leave a quote unclosed. A spaced dash is read from where its spaces
# start: a bare \s+ would be tried from every space of a long run, reading the rest of it each time.
_QUOTES = '"\u201c\u201d\u2018\u201e\u00ab\u00bb'
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


def summarize(body: str, max_words: int = 60, keep: Iterable[Span] = ()) -> str:
    """At most max_words words from the top: whole story sentences while they fit, then the next one
    shortened with an ellipsis if at least MIN_WORDS words are left (a lead longer than max_words, or
    whose quotation runs past its paragraph, is always shortened). keep: spans of body, the words that
    rules matched; an aside that holds the same words stays (see without_asides)."""
    summary: list[str] = []
    count = 0
    for sentence in story_sentences(body, {" ".join(body[start:end].split()) for start, end in keep}):
        words = len(sentence.split())
        if count + words <= max_words and is_balanced(sentence):
            summary.append(sentence)
            count += words
            continue
        if not summary or max_words - count >= MIN_WORDS:
            summary.append(shorten(sentence, max_words - count))
        break
    return " ".join(piece for piece in summary if piece)


def story_sentences(body: str, keep: Collection[str] = ()) -> Iterator[str]:
    """The lead and the story sentences after it, without their asides (but those that hold one of the
    words to keep), read from the top only as far as needed. When no sentence is a story sentence (a
    short lead at most), all sentences from the lead on, or from the top without one; no quotes after
    the first. A sentence here is what one quotation runs across (see _quoted_sentences)."""
    lead = story = False
    others: list[str] = []  # sentences that are neither, while no story sentence has come
    for sentence, opened in _sentences(body):
        if lead and opened is None and _is_more_story(sentence):
            story = True
            yield without_asides(sentence, keep)
        elif not lead and _pairs_enough(sentence, opened) and _is_lead(sentence):
            lead, story, others = True, _is_story_sentence(sentence), []
            yield without_asides(sentence, keep)
        elif not story:
            others.append(sentence)
    if not story:  # the others after the lead (from the top when there is none), no quotes after the first
        first = [] if lead else others[:1]
        yield from first + [s for s in others[len(first) :] if not _QUOTE_OR_FIRST_PERSON.search(s)]


def _sentences(body: str) -> Iterator[tuple[str, str | None]]:
    for line in _joined_lines(body):
        yield from _quoted_sentences(without_stray_marks(line))


def _pairs_enough(sentence: str, opened: str | None) -> bool:
    """Its quotation marks pair, or pair for MIN_WORDS words before they stop: the summary shows it
    cut there (see shorten). One that stops sooner is not the lead: one that closes a quotation it did
    not open is the end of a quote whose start is elsewhere."""
    return opened is None or paired_words(sentence) >= MIN_WORDS


def _is_more_story(sentence: str) -> bool:
    """A story sentence after the lead: no quote, no first person."""
    return _is_story_sentence(sentence) and not _QUOTE_OR_FIRST_PERSON.search(sentence)


def _joined_lines(body: str) -> Iterator[str]:
    """The body's lines, a line that ends no sentence joined to the next when that one starts in
    lower case: one sentence that markup (a <br>, a link on its own line) broke in two.

    The lines of one sentence are held apart and joined once, and only the last is read for its end:
    rebuilding and rereading the joined text at every line is quadratic in a long run of such lines."""
    held: list[str] = []
    for line in _marks_rejoined(body.split("\n")):
        if held and line.lstrip()[:1].islower() and not _ENDED.search(held[-1].rstrip()):
            held[-1] = held[-1].rstrip()
            held.append(line.lstrip())
            continue
        if held:
            yield " ".join(held)
        held = [line]
    if held:
        yield " ".join(held)


def _marks_rejoined(lines: list[str]) -> list[str]:
    """The lines, each without surrounding spaces, a double quotation mark that stands alone at a
    line's edge moved to the line next to it: a line that starts with one ('" I was taken aback') lost
    it from the end of the line before, and one that ends with one ('a news release. "') took it from
    the start of the next, where a sentence splitter broke the text on the wrong side of the mark."""
    rejoined: list[str] = []
    carried = ""
    for line in lines:
        text, carried = carried + line.strip(), ""
        if rejoined and _stray_mark(text[:2]):
            rejoined[-1], text = rejoined[-1] + text[0], text[1:].lstrip()
        if _stray_mark(text[-2:][::-1]):
            carried, text = text[-1], text[:-1].rstrip()
        rejoined.append(text)
    if carried:
        rejoined[-1] += " " + carried
    return rejoined


def _stray_mark(edge: str) -> bool:
    """edge: a line's first two characters (or last two, reversed): a double mark, then a space or
    nothing."""
    return edge[:1] in _DOUBLE_MARKS and edge[1:2] in ("", " ", "\t")


def _quoted_sentences(line: str) -> Iterator[tuple[str, str | None]]:
    """The line's sentences, those that one quotation runs across joined into one, each with the mark
    still open at its end: "\u201cThey are slow. We will act,\u201d she said." is one sentence.

    A quotation still open where its paragraph ends on a full stop is closed there: a quote that runs
    over several paragraphs leaves each but the last unclosed, and the words up to the paragraph's end
    are the speaker's, whole, as an editor quoting them would close them."""
    start, opened = None, None
    for s, e in sentence_spans(line):
        start = s if start is None else start
        opened = open_after(line[s:e], opened)
        if opened is None or opened == BROKEN:
            yield " ".join(line[start:e].split()), opened
            start, opened = None, None
    if start is not None:
        sentence = " ".join(line[start:].split())
        if opened != BROKEN and _TERMINAL.search(sentence):
            sentence, opened = sentence + closing_mark(opened), None
        yield sentence, opened


def without_asides(sentence: str, keep: Collection[str] = ()) -> str:
    """The sentence without the asides that brackets or paired dashes set off ("the National Security
    Agency (NSA) was", "the guards – seven of them former soldiers – were"): it reads whole without them,
    and the words go to the story. An aside that attributes or hedges ("– police said –",
    "(allegedly)") stays, and so does one that holds one of the words to keep ("Science in the Arctic
    – and Greenland – is", keeping "Greenland"), as whole words, whatever else it holds."""
    if not any(mark in sentence for mark in _ASIDE_MARKS):  # most sentences: no regex
        return sentence
    return " ".join(_ASIDE.sub(partial(_drop_aside, keep=keep), sentence).split())


def _drop_aside(aside: re.Match[str], keep: Collection[str]) -> str:
    text = aside.group()
    if _ATTRIBUTION.search(text) or any(_holds(text, words) for words in keep):
        return text
    return " " if text.startswith("\u2014") else ""  # an unspaced em dash sat between two words


def _holds(text: str, words: str) -> bool:
    """The words are in text, not as part of a longer word ("Iran" is not in "Iranian")."""
    at = text.find(words) if words else -1
    while at >= 0:
        end = at + len(words)
        if not (at and text[at - 1].isalnum()) and not (end < len(text) and text[end].isalnum()):
            return True
        at = text.find(words, at + 1)
    return False


def _is_story_sentence(sentence: str) -> bool:
    return bool(_ENDED.search(sentence)) and _is_started(sentence) and len(sentence.split()) >= MIN_WORDS


def _is_lead(sentence: str) -> bool:
    """The first real sentence, whatever its length: a story sentence, or a shorter one that ends on a
    full stop, a question or an exclamation mark (not only on a quote or a bracket, as titles do)."""
    if not _is_started(sentence):
        return False
    words = len(sentence.split())
    return (
        words >= MIN_WORDS
        and bool(_ENDED.search(sentence))
        or (words >= MIN_LEAD_WORDS and bool(_TERMINAL.search(sentence)))
    )


def _is_started(sentence: str) -> bool:
    """It starts with a capital or a digit, perhaps after an opening quote or bracket (and the space
    French sets inside guillemets)."""
    first = sentence.lstrip(_OPENERS + " \u00a0\u202f")[:1]
    return first.isupper() or first.isdigit()


def shorten(sentence: str, max_words: int) -> str:
    """The sentence in at most max_words words: whole if it fits and its quotations close, else cut,
    where no quotation is open, after the last comma, colon, semicolon or before a dash in its second
    half, or else after the last word there that leaves nothing dangling, with an ellipsis. When a
    quotation is open over all of the second half, the cut is made inside it and the quotation is
    closed after the ellipsis; "" when no cut leaves its quotations paired."""
    words = sentence.split()
    if len(words) <= max_words and is_balanced(sentence):
        return sentence
    kept = words[:max_words]
    opened = open_after_each(kept)
    second_half = range(len(kept) - 1, len(kept) // 2 - 1, -1)  # the last word first
    clause = next((i for i in second_half if opened[i] is None and _ends_clause(i, words)), None)
    if clause is not None:
        return " ".join(kept[: clause + 1]).rstrip(",;:") + ELLIPSIS
    cut = _last_whole_word(kept, opened)
    if cut is None:
        return ""
    closing = closing_mark(opened[cut]) if opened[cut] else ""
    return " ".join(kept[: cut + 1]).rstrip(",;:") + ELLIPSIS + closing


def _last_whole_word(kept: list[str], opened: list[str | None]) -> int | None:
    """Where to cut when no clause ends: after the last word that leaves nothing dangling, in the
    second half where no quotation is open, else in the second half inside an open one, else anywhere
    before the pairing broke."""
    half = len(kept) // 2
    whole = [i for i in range(len(kept) - 1, -1, -1) if kept[i].lower() not in _DANGLING]
    choices = (
        [i for i in whole if i >= half and opened[i] is None],
        [i for i in whole if i >= half and opened[i] != BROKEN],
        [i for i in whole if opened[i] is None],
    )
    return next((found[0] for found in choices if found), None)


def _ends_clause(i: int, words: list[str]) -> bool:
    """Word i ends a clause: a comma, colon or semicolon after it, or a dash next."""
    return bool(_CLAUSE_END.search(words[i])) or (i + 1 < len(words) and words[i + 1] in _DASH)
