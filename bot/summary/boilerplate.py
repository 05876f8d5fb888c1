"""Strip what is not the story: promos, timestamps, captions, bylines, datelines. Pure, no I/O.

Each pattern names a kind of boilerplate, not one site's wording, so that the next outlet's
variant of "Get the latest updates" or "Scroll down for video" is caught too.
"""

from __future__ import annotations

import re

from bot.rules.text import fold

_FLAGS = re.IGNORECASE
# Calls to action and widgets: a line that starts by asking the reader to do something.
_PROMO = re.compile(
    r"^\W*(get (the )?(latest|breaking)|scroll (down|up)|media playback|sign up|subscribe"
    r"|follow (us|@)|share (this|on)|click here|download (our|the)|read more|watch( now)?:"
    r"|advertisement|related( articles| stories|:)|(image|photo|video) (caption|copyright)"
    r"|listen to this|this (video|content) (can not|cannot|is not)|already a subscriber)",
    _FLAGS,
)
# Timestamps and labels: "Last Updated: 07/27/2016", "Published 3 hours ago".
_STAMP = re.compile(r"^\W*(last )?(updated|published|posted|modified|created)\b(\s+(on|at))?\s*(:)?", _FLAGS)
# Photo captions: a credit glued to the text ("APDe Hoop..."), or a credit label.
_CREDIT = re.compile(
    r"^(AP|AFP|Reuters|EPA|Getty Images|PA|Bloomberg|Xinhua)(?=[A-Z][a-z])"
    r"|^\W*(photo|image|picture|credit|caption)\s*(:|by\b)"
    r"|\((photo|image|picture)[^)]*\)\s*$",
    0,
)
_CAPTION_POSE = re.compile(r",\s*(left|right|centre|center|second left|second right),|\bpictured\b")
# Bylines and credits: "By Jane Doe", "Jane Doe contributed to this report."
_NAME = r"[A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){0,3}"
_BYLINE = re.compile(
    rf"^\W*[Bb]y\s+{_NAME}(?:\s*(?:,|and|&)\s*{_NAME})*\s*(?:,[^.]*)?$|contributed to this report", 0
)
# A dateline before the first sentence: "BRUSSELS — ", "WASHINGTON (AP) -- ", "(CNN)".
_DATELINE = re.compile(
    r"^(?:[A-Z][A-Z.'\u2019 -]{1,40}(?:,\s*[A-Z][\w.]+)*\s*(?:\([^)]{1,30}\))?\s*[\u2014\u2013-]{1,2}\s+"
    r"|\((?:CNN|AP|AFP|Reuters|[A-Z]{2,10})\)\s*(?:[\u2014\u2013-]{1,2}\s*)?)"
)
_MIN_WORDS = 5  # a paragraph shorter than this, not ending a sentence, is a label


def is_boilerplate(line: str, title: str = "") -> bool:
    words = line.split()
    if not words or (title and fold(line.strip()) == fold(title.strip())):
        return True
    if len(words) < _MIN_WORDS and not re.search(r"[.!?\"\u201d]$", line.strip()):
        return True
    if _PROMO.search(line) or _BYLINE.search(line) or _is_stamp(line, len(words)):
        return True
    return bool(_CREDIT.search(line) or (len(words) < 40 and _CAPTION_POSE.search(line)))


def _is_stamp(line: str, word_count: int) -> bool:
    """ "Last Updated: ..." or a short "Published 3 hours ago"; not "Published figures show..."."""
    stamp = _STAMP.search(line)
    return bool(stamp and (stamp.group(5) or (word_count < 8 and re.search(r"\d", line))))


def strip_dateline(paragraph: str) -> str:
    return _DATELINE.sub("", paragraph, count=1)


def clean_body(title: str, text: str) -> str:
    """The story's paragraphs, one per line, without boilerplate; the first without dateline."""
    kept = [line.strip() for line in text.splitlines() if not is_boilerplate(line, title)]
    if kept:
        kept[0] = strip_dateline(kept[0])
    return "\n".join(kept)
