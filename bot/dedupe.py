"""One story, however many outlets carry it: canonical links, and what an article's story is told by.

Pure functions. An article gets a StoryKey: its canonical link, its headline's words (without its own
feed's name after them), and the word keys of its headline and lead; the story decider (stories.py)
compares keys.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from bot.domain import StoryKey
from bot.rules.text import DEFAULT_LANGUAGE, keys

LEAD_WORDS = 60  # the lead compared: the first words of the text, where news says what happened
_LEAD_CHARS = 1_000  # read no further than this for them: a lead's words are rarely longer on average
# between a headline and the outlet's name after it: "Talks resume - Reuters", "Talks resume | BBC News"
_SEPARATORS = (" - ", " | ", " \u2013 ", " \u2014 ", " \u00b7 ", " :: ")

# query parameters that say where a click came from, not what the page is
_TRACKING = re.compile(
    r"^(utm_.*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|ocid|cmpid|cmp|icid|ito|xtor|ref|ref_src|"
    r"refsrc|src|source|smid|smtyp|igshid|at_.*|_ga|_gl|share|sh|s_cid|wt\.mc_id|cid|rss|feedtype|"
    r"outputtype|amp|partner|taid|ns_.*|yptr|guccounter|spm)$",
    re.IGNORECASE,
)
_MOBILE_HOST = re.compile(r"^(www|m|mobile|amp)\.", re.IGNORECASE)
_AMP_PATH = re.compile(r"(^/amp(?=/))|(/amp/?$)|(\.amp(?=\.html?$|$))", re.IGNORECASE)


def canonical_url(url: str) -> str:
    """The link as alerts show it: without what only says how you got there (tracking parameters,
    the fragment, an AMP form). Anything that is not an http(s) URL stays as it is."""
    parts = _canonical_parts(url)
    return urlunsplit(parts) if parts else url.strip()


def url_key(url: str) -> str:
    """What two links to the same page have in common: the canonical URL without its scheme, a
    www./m./amp. host prefix, a default port or a trailing slash."""
    parts = _canonical_parts(url) or _split(url.strip())
    if parts is None or not parts.hostname:
        return url.strip()
    host = _MOBILE_HOST.sub("", parts.hostname)
    if parts.port and parts.port not in (80, 443):
        host += f":{parts.port}"
    return urlunsplit(("", host, parts.path.rstrip("/"), parts.query, "")).removeprefix("//")


def _canonical_parts(url: str) -> SplitResult | None:
    parts = _split(url.strip())
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    path = _AMP_PATH.sub("", parts.path) or "/"
    query = parts.query and urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k))
    )
    return SplitResult(parts.scheme.lower(), parts.netloc.lower(), path, query, "")


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        return None
    return parts


def title_key(title: str, feed_name: str = "", language: str = DEFAULT_LANGUAGE) -> str:
    """The headline as words to compare, without the feed's own name after it."""
    return " ".join(keys(without_own_name(title, feed_name, language), language))


def without_own_name(title: str, feed_name: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The headline without what follows its last separator (" - ", " | ", a dash) when those words are
    the feed's own name or part of it ("Talks resume - Reuters" from the feed "Reuters World"). Any other
    suffix is the headline's own subtitle ("NATO ministers meet - Baltic air policing"), and stays."""
    name = keys(feed_name, language)
    while name:
        at, sep = max((title.rfind(sep), sep) for sep in _SEPARATORS)
        if at <= 0 or not _within(keys(title[at + len(sep) :], language), name):
            break
        title = title[:at]
    return title


def _within(words: tuple[str, ...], name: tuple[str, ...]) -> bool:
    """Whether these words are in the name, together and in order."""
    return bool(words) and any(name[i : i + len(words)] == words for i in range(len(name) - len(words) + 1))


def story_key(
    link: str, title: str, body: str, feed_name: str = "", language: str = DEFAULT_LANGUAGE
) -> StoryKey:
    """What the story decider compares: the link, the headline, and the words of headline and lead."""
    headline = without_own_name(title, feed_name, language)
    title_terms = tuple(dict.fromkeys(keys(headline, language)))
    in_title = set(title_terms)
    lead = keys(body[:_LEAD_CHARS], language)[:LEAD_WORDS]
    lead_terms = tuple(term for term in dict.fromkeys(lead) if term not in in_title)
    return StoryKey(url_key(link), " ".join(keys(headline, language)), title_terms, lead_terms)
