"""Strip what is not the story: promos, timestamps, captions, bylines, datelines. Pure, no I/O.

Each pattern names a kind of boilerplate, not one site's wording, so that the next outlet's
variant of "Get the latest updates" or "Scroll down for video" is caught too. Whole lines of a
kind are dropped; trailers glued to a real paragraph ("Continue reading...") are cut off it.
"""

from __future__ import annotations

import re

from bot.rules.text import fold, sentence_spans

_I = re.IGNORECASE
# Calls to action and widgets: a line that starts by asking the reader to do something.
_PROMO = re.compile(
    r"^\W*(get (the )?(latest|breaking)|scroll (down|up)|media playback|sign up"
    r"|subscribe( now| today| to our)?|follow (us|@)|share (this|on)|click here|download (our|the)"
    r"|read more|continue reading|watch( now| the video)?(?=:)|for more (reports|stories|news)\b"
    r"|advertisement|related( articles| stories|:)|(image|photo|video) (caption|copyright)"
    r"|listen to this|this (video|content) (can not|cannot|is not)|already a subscriber)\b",
    _I,
)
# Timestamps and labels: "Last Updated: 07/27/2016", "Published 3 hours ago".
_STAMP = re.compile(r"^\W*(last )?(updated|published|posted|modified|created)\b(\s+(on|at))?\s*(:)?", _I)
# Photo captions: a credit glued to the text ("APDe Hoop..."), or a credit label line.
_GLUED_CREDIT = re.compile(r"^(AP|AFP|Reuters|EPA|Getty Images|PA|Bloomberg|Xinhua)(?=[A-Z][a-z])")
_CREDIT_LABEL = re.compile(r"^\W*(photo|image|picture|credit|caption)s?( credit)?\s*(:|by\b|should read)", _I)
_CAPTION_POSE = re.compile(r",\s*(left|right|centre|center|second left|second right|circled),|\bpictured\b")
# A caption under a label: "Flying high: Half of the kite took to the sky" (no sentence end; a
# speaker's "He said: 'I think..." is not a label).
# What only a caption says about a picture: "Wright (centre)", "Twizzlers (below)", "(file photo)".
# (?<!\s): a match starts where a run of spaces does. A bare leading \s* is tried from every space of
# the run and reads the rest of it each time: quadratic on a long run (preformatted page text keeps them).
_PICTURE_REF = re.compile(
    r"(?<!\s)\s*\((?:pictured|left|right|centre|center|above|below|inset|circled|top|bottom"
    r"|(?:file|stock) (?:photo|image|picture))\)"
)
_CAPTION_LABEL = re.compile(r"^[A-Z][\w'\u2019-]*(?:\s+[\w'\u2019-]+){0,4}:\s")
_SPEECH = re.compile(r"\b(said|says|added|told|explained|wrote|asked|adding|saying|tweeted|posted)\s*:", _I)
# Bylines: "By Jane Doe", "By Jane Doe and John Roe, Reuters" (see _is_byline). A name's words are
# possessive (++), never giving letters back: else a word ending in "and" ("Grand Smith") could also be
# read as a separator ("Gr and Smith"), two readings for each such word and 2^n for a line of them.
_NAME = r"[A-Z][\w.'-]++(?:\s+[A-Z][\w.'-]++){0,3}"
_BY = re.compile(r"\W*[Bb]y\s+")
_NAMES = re.compile(rf"{_NAME}(?:\s*(?:,|and|&)\s*{_NAME})*\s*")
# A dateline before the first sentence: "BRUSSELS — ", "WASHINGTON (AP) -- ", "(CNN)",
# "New Delhi, India (CNN)", "(The Hollywood Reporter)". No two unbounded quantifiers in a row take
# spaces, or a long run of them would be split between the two in every way: the \s* after "(AP)" is
# inside its optional group, and the words before "(CNN)" keep their spaces (++: a space given back
# could only be read by the \s* after them, which ends at the same bracket).
_DATELINE = re.compile(
    r"^(?:[A-Z][A-Z.'\u2019 -]{1,40}(?:,\s*[A-Z][\w.]+)*\s*(?:\([^)]{1,30}\)\s*)?[\u2014\u2013-]{1,2}\s+"
    r"|(?:[A-Z][\w.'\u2019 -]{1,40}+(?:,\s*[A-Z][\w. ]++)*\s*)?\((?:CNN|AP|AFP|Reuters|[A-Z][\w .&']{1,30})\)"
    r"\s*(?:[\u2014\u2013-]{1,2}\s*)?)"
)
# Trailers glued to the end of a paragraph, each with a word it cannot be without (a cheap test first).
# Each starts where a run of spaces does, as _PICTURE_REF; after a sentence end, \s*+ takes the whole
# run at once, since the words after it may start with spaces too and would try every split of it.
_TRAILERS = [
    ("read", re.compile(r"(?<!\s)\s*\b(continue reading|read more|read the full (story|article))\W*$", _I)),
    ("appeared first on", re.compile(r"(?<!\s)\s*\bThe post .{1,300}? appeared first on .{1,100}$")),
    ("(", re.compile(r"(?<!\s)\s*\((photo|image|picture)s?\b[^)]{0,150}\)\s*$", _I)),
    (
        "contributed",
        re.compile(r"(^|(?<=[.!?\"\u201d]))\s*+[^.!?]{0,150}\bcontributed (reporting )?to this report\.?$"),
    ),
]
# Page widgets that arrive glued into the text, mid-line and even mid-word ("...Tour.Media playback
# is not supported on this device"When he..."): a row of share buttons, a player notice, a page stamp.
_NETWORK = r"(?:E-?mail|Ebost|Facebook|Messenger|Twitter|X|Pinterest|WhatsApp|Linked[Ii]n|Reddit|Telegram)"
_TIME, _DATE = r"\d{1,2}:\d{2}(?: [A-Z]{2,4}(?![a-z]))?", r"\d{1,2} [A-Z][a-z]+ \d{4}"
_WIDGETS = re.compile(
    rf"(?:Share|Rhannu)(?: this| hwn)?(?: with| on| ar| article| story| page)?:?\s*(?:{_NETWORK}\s*){{2,}}"
    r"(?:Cop(?:y|\u00efo)\S*\s*(?:this link|\u2019r ddolen yma|'r ddolen yma))?"
    r"|(?:These are external links and will open in a new window"
    r"|Mae\u2019r rhain yn ddolenni allanol ac yn agor mewn ffenest newydd)"
    r"|Read more (?:on|about) this story(?: and other news)?(?: from [A-Z][a-z]+(?=[A-Z][a-z]|\s|$))?"
    r"|[Mm]edia playback is (?:not supported|unsupported) on (?:this|your) device"
    r"|[Ss]croll (?:down|up) for (?:video|more)\b\s*"
    rf"|(?:{_DATE} )?(?i:last updated) at {_TIME}"
    rf"|(?i:published|updated|last updated):? {_TIME}, {_DATE}"
    rf"(?: \| (?i:updated|last updated):? {_TIME}, {_DATE})?"
)
_SENTENCE_END = re.compile(r"[.!?\"\u201d\u2019)\u3002\uff01\uff1f\u06d4\u2026]$")
_MIN_WORDS, _MIN_CHARS = 5, 40  # a shorter paragraph that ends no sentence is a label
_CAPTION_MAX_WORDS = 40  # a caption is shorter: a longer paragraph is story, whatever it ends on


def is_boilerplate(line: str, title: str = "") -> bool:
    words, text = line.split(), line.strip()
    if not words or (title and _same_text(text, title.strip())):
        return True
    ends_sentence = bool(_SENTENCE_END.search(text))
    if len(words) < _MIN_WORDS and len(text) < _MIN_CHARS and not ends_sentence:
        return True
    if _PROMO.search(line) or _is_byline(line) or _is_stamp(line, len(words)):
        return True
    if _GLUED_CREDIT.search(line) or _CREDIT_LABEL.search(line):
        return True
    if len(words) >= _CAPTION_MAX_WORDS:
        return False
    return _ends_on_picture_ref(text) or (not ends_sentence and _is_caption(line))


def _ends_on_picture_ref(line: str) -> bool:
    """A caption ending "...on Saturday Wright (centre)": the bracket closes no sentence."""
    return bool(_PICTURE_REF.search(line[-30:])) and not _SENTENCE_END.search(_PICTURE_REF.sub("", line))


def _is_caption(line: str) -> bool:
    label = _CAPTION_LABEL.search(line)
    return bool(
        _CAPTION_POSE.search(line)
        or _PICTURE_REF.search(line)
        or (label and not _SPEECH.search(label.group()))
    )


def _same_text(text: str, title: str) -> bool:
    """The title repeated as a paragraph (folding never changes length much: compare only then)."""
    return abs(len(text) - len(title)) <= 8 and fold(text) == fold(title)


def _is_byline(line: str) -> bool:
    """ "By" and names, then perhaps a comma and words without a period ("By Jane Doe, Reuters").

    Those words start at the first comma with no period after it: no name holds a comma, so if the
    names end at a later one they can end at this one too. Two searches find it, where one regex would
    read on to a period from every comma in turn (quadratic on "By Ab, Ab, ..., Ab.")."""
    by = _BY.match(line)
    if by is None:
        return False
    comma = line.find(",", max(by.end(), line.rfind(".") + 1))
    return _NAMES.fullmatch(line, by.end(), comma if comma >= 0 else len(line)) is not None


def _is_stamp(line: str, word_count: int) -> bool:
    """ "Last Updated: ..." or a short "Published 3 hours ago"; not "Published figures show..."."""
    stamp = _STAMP.search(line)
    return bool(stamp and (stamp.group(5) or (word_count < 8 and re.search(r"\d", line))))


def strip_trailers(paragraph: str) -> str:
    lowered = paragraph.lower()
    for needle, trailer in _TRAILERS:
        if needle in lowered:
            paragraph = trailer.sub("", paragraph)
    return paragraph.strip()


def strip_dateline(paragraph: str) -> str:
    return _DATELINE.sub("", paragraph, count=1)


# A word each kind of widget cannot be without: most lines have none, and are spared the search.
_WIDGET_WORDS = ("Share", "Rhannu", "external links", "ddolenni", "Read more", "edia playback", "croll ")
_WIDGET_WORDS_ANY_CASE = ("updated", "published")


def _may_hold_widgets(line: str) -> bool:
    lowered = line.lower()
    return any(word in line for word in _WIDGET_WORDS) or any(w in lowered for w in _WIDGET_WORDS_ANY_CASE)


def cut_widgets(line: str) -> str:
    """The line without glued widgets; a cut between two words leaves a space."""
    if not _may_hold_widgets(line) or not _WIDGETS.search(line):
        return line
    return " ".join(_WIDGETS.sub(" ", line).split())


def drop_furniture_sentences(paragraph: str) -> str:
    """Sentences of a kind that is never story (promos, stamps, credits), dropped from inside a
    paragraph: feeds that lost their line breaks glue them to the story."""
    spans = sentence_spans(paragraph)
    if len(spans) < 2:
        return paragraph
    kept = [paragraph[s:e] for s, e in spans if not _is_furniture(paragraph[s:e])]
    return " ".join(kept)


def _is_furniture(sentence: str) -> bool:
    return bool(
        _PROMO.search(sentence)
        or _CREDIT_LABEL.search(sentence)
        or _is_stamp(sentence, len(sentence.split()))
        or _is_byline(sentence)
    )


def clean_body(title: str, text: str) -> str:
    """The story's paragraphs, one per line, without boilerplate; the first without dateline."""
    kept = []
    for line in map(cut_widgets, text.splitlines()):
        if not is_boilerplate(line, title):
            kept.append(_PICTURE_REF.sub("", strip_trailers(drop_furniture_sentences(line))))
    kept = _from_first_sentence([line for line in kept if line])
    if kept:
        kept[0] = strip_dateline(kept[0])
    return "\n".join(kept)


def _from_first_sentence(lines: list[str]) -> list[str]:
    """Lines that end no sentence before the first that does are captions or kickers, not the lead."""
    first = next((i for i, line in enumerate(lines) if _SENTENCE_END.search(line)), 0)
    return lines[first:]
