"""Strip what is not the story: shortcodes, promos, timestamps, captions, bylines, datelines. Pure, no I/O.

Each pattern names a kind of boilerplate, not one site's wording, so that the next outlet's
variant of "Get the latest updates" or "Scroll down for video" is caught too. Whole lines of a
kind are dropped; trailers glued to a real paragraph ("Continue reading...") are cut off it.
"""

from __future__ import annotations

import re

import regex

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


# A dateline or source tag before the first sentence, read on the paragraph's first words joined by
# single spaces (see strip_dateline): "BRUSSELS \u2014 ", "WASHINGTON (AP) -- ", "JERUSALEM / ISLAMABAD: ",
# "WASHINGTON/GENEVA/DUBAI, Feb 17 (Reuters) - ", "(CNN)", "New Delhi, India (CNN)", "Quito, 24 Set 2018
# (AFP) - ", "MAINZ - (red). ", and an outlet's tag, alone or before a place: "[Daily Trust] ",
# "[Capital FM] Nairobi -- ". A place is capitals ("LONDON", "ST. LOUIS", "A/B/C"), or capitalised
# words before a source in brackets or after an outlet's tag; after a comma come a region or a date
# ("Calif.", "Feb 17", "24 SET"). The source may stand before the dash or after it.
_CAPS = r"\p{Lu}[\p{Lu}.'\u2019-]+"
_WORDS = r"\p{Lu}[\w.'\u2019-]*(?: [\w.'\u2019][\w.'\u2019-]*){0,3}"
_PART = r", [\w.'\u2019][\w.'\u2019-]*(?: [\w.'\u2019][\w.'\u2019-]*){0,3}"
_SOURCE = r"\(\w[\w .&'\u2019/-]{0,40}\)"
_SEPARATOR = r"(?:\.?[\u2014\u2013-]{1,2}|:)"
_DATELINE = regex.compile(
    r"(?P<outlet>\[[^\[\]]{1,60}\] )?"
    rf"(?:{_CAPS}(?:(?: / | |/){_CAPS})*(?:{_PART})*(?: {_SOURCE})? ?{_SEPARATOR} (?:{_SOURCE}\.? )?"
    rf"|(?:{_WORDS}(?:{_PART})* ?)?{_SOURCE}(?: ?{_SEPARATOR})? ?"
    rf"|(?P<place>{_WORDS})(?:{_PART})* {_SEPARATOR} "
    r")?"
)
_DATELINE_CHARS = 200  # a dateline is a few words: longer heads are not read
_OPENING = "\"'\u201c\u2018([\u00ab\u201e"


def strip_dateline(paragraph: str) -> str:
    """The paragraph without the dateline or source tag it opens with (_DATELINE).

    A dateline is followed by the sentence's start, a capital or a digit: what a lowercase word follows
    is part of the sentence ("The European Union (EU) said", "The party's (BNP) leader"). It is read
    on the paragraph's first words joined by single spaces, at most _DATELINE_CHARS of them, so that a
    run of spaces or a long paragraph costs nothing; the cut is mapped back to the paragraph."""
    head, starts = _first_words(paragraph)
    found = _DATELINE.match(head)
    if not found or not found.end() or (found.group("place") and not found.group("outlet")):
        return paragraph
    rest = head[found.end() :].lstrip(_OPENING)
    if not (rest[:1].isupper() or rest[:1].isdigit()):
        return paragraph
    at, start = next((at, start) for at, start in reversed(starts) if at <= found.end())
    return paragraph[start + found.end() - at :]


def _first_words(paragraph: str) -> tuple[str, list[tuple[int, int]]]:
    """The paragraph's first words joined by single spaces, at most _DATELINE_CHARS of them, and for
    each word where it starts there and in the paragraph."""
    words, starts, length = [], [], 0
    for word in re.finditer(r"\S+", paragraph):
        if length + len(word.group()) > _DATELINE_CHARS:
            break
        starts.append((length, word.start()))
        words.append(word.group())
        length += len(word.group()) + 1
    return " ".join(words), starts


# Shortcodes: a word in square brackets with attributes ("[video id=oL9X8h53 autostart=true]",
# "[time-brightcove not-tgx="true"]"), or a pair around what it holds ("[caption id=1]A crowd in
# Tehran.[/caption]", "[PDN]814058[/PDN]"): the markup of a player, a picture or an embedded post that a
# feed left as text. What a pair holds is a caption, a link or an id, never the story. An editor's
# brackets hold no "=" and close no pair, and stay: "[the U.S.]", "[sic]", "feel[s]".
_SHORTCODE = re.compile(r"[^\S\n]?\[[A-Za-z][\w-]{0,40}[^\S\n][^\[\]\n=]{0,200}=[^\[\]\n]{0,300}\]")
_CLOSING_SHORTCODE = re.compile(r"\[/([A-Za-z][\w-]{0,40})\]")


def drop_shortcodes(text: str) -> str:
    """The text without shortcodes (_SHORTCODE): a pair is dropped with what it holds when both ends
    are in one paragraph; a closing tag without its opening one is dropped alone."""
    if "[" not in text:
        return text
    kept, start = [], 0
    for closing in _CLOSING_SHORTCODE.finditer(text):
        # The opening tag is looked for between the last cut and here, in this paragraph only: each
        # stretch of the text is read once, however many tags there are.
        since = max(start, text.rfind("\n", start, closing.start()) + 1)
        opening = _opening_tag(text, closing.group(1), since, closing.start())
        cut = closing.start() if opening is None else opening
        kept.append(text[start : cut - 1 if cut > start and text[cut - 1] in " \t" else cut])
        start = closing.end()
    kept.append(text[start:])
    return _SHORTCODE.sub("", "".join(kept))


def _opening_tag(text: str, name: str, since: int, before: int) -> int | None:
    """Where the last "[name]" or "[name ...]" between since and before starts, if there is one."""
    at = text.rfind("[" + name, since, before)
    while at >= 0:
        after = text[at + len(name) + 1 : at + len(name) + 2]
        if after == "]" or after.isspace():
            return at
        at = text.rfind("[" + name, since, at)
    return None


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
    """The story's paragraphs, one per line, without shortcodes and boilerplate; the first paragraph of
    prose without its dateline."""
    kept = []
    for line in map(cut_widgets, drop_shortcodes(text).splitlines()):
        if not is_boilerplate(line, title):
            kept.append(_PICTURE_REF.sub("", strip_trailers(drop_furniture_sentences(line))))
    kept = _from_first_sentence([line for line in kept if line])
    lead = next((i for i, line in enumerate(kept) if _opens_prose(line)), None)
    if lead is not None:
        kept[lead] = strip_dateline(kept[lead])
    return "\n".join(kept)


def _opens_prose(line: str) -> bool:
    """A paragraph of prose opens with a letter, a digit, a bracket or a quote: not with a list's bullet,
    as the standfirst's points above a story do ("• Hamas condemns the move")."""
    return line[:1].isalnum() or line[:1] in _OPENING


def _from_first_sentence(lines: list[str]) -> list[str]:
    """Lines that end no sentence before the first that does are captions or kickers, not the lead."""
    first = next((i for i, line in enumerate(lines) if _SENTENCE_END.search(line)), 0)
    return lines[first:]
