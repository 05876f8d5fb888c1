"""Strip what is not the story: promos, timestamps, captions, bylines, datelines. Pure, no I/O.

Each pattern names a kind of boilerplate, not one site's wording, so that the next outlet's
variant of "Get the latest updates" or "Scroll down for video" is caught too. Whole lines of a
kind are dropped; trailers glued to a real paragraph ("Continue reading...") are cut off it.
"""

from __future__ import annotations

import re

from bot.rules.text import fold

_I = re.IGNORECASE
# Calls to action and widgets: a line that starts by asking the reader to do something.
_PROMO = re.compile(
    r"^\W*(get (the )?(latest|breaking)|scroll (down|up)|media playback|sign up"
    r"|subscribe( now| today| to our)?|follow (us|@)|share (this|on)|click here|download (our|the)"
    r"|read more|continue reading|watch( now)?:"
    r"|advertisement|related( articles| stories|:)|(image|photo|video) (caption|copyright)"
    r"|listen to this|this (video|content) (can not|cannot|is not)|already a subscriber)\b",
    _I,
)
# Timestamps and labels: "Last Updated: 07/27/2016", "Published 3 hours ago".
_STAMP = re.compile(r"^\W*(last )?(updated|published|posted|modified|created)\b(\s+(on|at))?\s*(:)?", _I)
# Photo captions: a credit glued to the text ("APDe Hoop..."), or a credit label line.
_GLUED_CREDIT = re.compile(r"^(AP|AFP|Reuters|EPA|Getty Images|PA|Bloomberg|Xinhua)(?=[A-Z][a-z])")
_CREDIT_LABEL = re.compile(r"^\W*(photo|image|picture|credit|caption)s?( credit)?\s*(:|by\b|should read)", _I)
_CAPTION_POSE = re.compile(
    r",\s*(left|right|centre|center|second left|second right),|\(pictured\)|\bpictured\b"
)
# Bylines: "By Jane Doe", "By Jane Doe and John Roe, Reuters".
_NAME = r"[A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){0,3}"
_BYLINE = re.compile(rf"^\W*[Bb]y\s+{_NAME}(?:\s*(?:,|and|&)\s*{_NAME})*\s*(?:,[^.]*)?$")
# A dateline before the first sentence: "BRUSSELS — ", "WASHINGTON (AP) -- ", "(CNN)",
# "New Delhi, India (CNN)", "(The Hollywood Reporter)".
_DATELINE = re.compile(
    r"^(?:[A-Z][A-Z.'\u2019 -]{1,40}(?:,\s*[A-Z][\w.]+)*\s*(?:\([^)]{1,30}\))?\s*[\u2014\u2013-]{1,2}\s+"
    r"|(?:[A-Z][\w.'\u2019 -]{1,40}(?:,\s*[A-Z][\w. ]+)*\s*)?\((?:CNN|AP|AFP|Reuters|[A-Z][\w .&']{1,30})\)"
    r"\s*(?:[\u2014\u2013-]{1,2}\s*)?)"
)
# Trailers glued to the end of a paragraph, each with a word it cannot be without (a cheap test first).
_TRAILERS = [
    ("read", re.compile(r"\s*\b(continue reading|read more|read the full (story|article))\W*$", _I)),
    ("appeared first on", re.compile(r"\s*\bThe post .{1,300}? appeared first on .{1,100}$")),
    ("(", re.compile(r"\s*\((photo|image|picture)s?\b[^)]{0,150}\)\s*$", _I)),
    (
        "contributed",
        re.compile(r"(^|(?<=[.!?\"\u201d]))\s*[^.!?]{0,150}\bcontributed (reporting )?to this report\.?$"),
    ),
]
_SENTENCE_END = re.compile(r"[.!?\"\u201d\u2019)\u3002\uff01\uff1f\u06d4\u2026]$")
_MIN_WORDS, _MIN_CHARS = 5, 40  # a shorter paragraph that ends no sentence is a label


def is_boilerplate(line: str, title: str = "") -> bool:
    words, text = line.split(), line.strip()
    if not words or (title and _same_text(text, title.strip())):
        return True
    ends_sentence = bool(_SENTENCE_END.search(text))
    if len(words) < _MIN_WORDS and len(text) < _MIN_CHARS and not ends_sentence:
        return True
    if _PROMO.search(line) or _BYLINE.search(line) or _is_stamp(line, len(words)):
        return True
    if _GLUED_CREDIT.search(line) or _CREDIT_LABEL.search(line):
        return True
    return len(words) < 40 and not ends_sentence and bool(_CAPTION_POSE.search(line))


def _same_text(text: str, title: str) -> bool:
    """The title repeated as a paragraph (folding never changes length much: compare only then)."""
    return abs(len(text) - len(title)) <= 8 and fold(text) == fold(title)


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


def clean_body(title: str, text: str) -> str:
    """The story's paragraphs, one per line, without boilerplate; the first without dateline."""
    kept = [strip_trailers(line) for line in text.splitlines() if not is_boilerplate(line, title)]
    kept = [line for line in kept if line]
    if kept:
        kept[0] = strip_dateline(kept[0])
    return "\n".join(kept)
