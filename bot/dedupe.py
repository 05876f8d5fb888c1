"""One story, however many outlets carry it: canonical links, and what an article's story is told by.

Pure functions. An article gets a StoryKey: its canonical link, its headline's words (without its own
feed's name after them), and the word keys of its headline and lead; the story decider (stories.py)
compares keys.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from urllib.parse import SplitResult, unquote_plus, urlsplit, urlunsplit

from courlan.clean import TRACKERS_RE
from courlan.settings import ALLOWED_PARAMS, LANG_PARAMS

from bot.domain import StoryKey
from bot.rules.text import DEFAULT_LANGUAGE, keys

LEAD_WORDS = 60  # the lead compared: the first words of the text, where news says what happened
_LEAD_CHARS = 1_000  # read no further than this for them: a lead's words are rarely longer on average
# between a headline and the outlet's name after it: "Talks resume - Reuters", "Talks resume | BBC News"
_SEPARATORS = (" - ", " | ", " \u2013 ", " \u2014 ", " \u00b7 ", " :: ")
FEED_ITEMS = 3  # links it takes to tell that a parameter is the feed's own (feed_parameters)

# Query parameters that say where a click came from, not what the page is: courlan's list (kept from
# AdGuard's and ClearURLs' tracker lists; its strict mode, which keeps only parameters it knows to
# name a page, is not used: it drops ?article=9), and these, which it lacks.
_TRACKING = re.compile(
    r"^(ocid|cmpid|cmp|icid|ito|src|smid|smtyp|at_.*|share|sh|wt\.mc_id|rss|feedtype|outputtype|amp|"
    r"partner|taid|ns_.*|yptr|guccounter|spm)$",
    re.IGNORECASE,
)
# what names the page or its language, even when every link of a feed has the same (courlan's list)
_NAMES_THE_PAGE = ALLOWED_PARAMS | LANG_PARAMS
_MOBILE_HOST = re.compile(r"^(www|m|mobile|amp)\.", re.IGNORECASE)
_AMP_PATH = re.compile(r"(^/amp(?=/))|(/amp/?$)|(\.amp(?=\.html?$|$))", re.IGNORECASE)


def canonical_url(url: str, feed_params: Collection[str] = ()) -> str:
    """The link as alerts show it: without what only says how you got there (tracking parameters,
    the parameters its feed puts on every link (`feed_parameters`), the fragment, an AMP form).
    Anything that is not an http(s) URL stays as it is."""
    parts = _canonical_parts(url, feed_params)
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


def feed_parameters(links: Sequence[str]) -> frozenset[str]:
    """The query parameters ("name=value", as the links spell them) that every one of a feed's links
    carries with the same value, when at least FEED_ITEMS of them differ: they name the feed, not the
    article (?maca=en-rss, ?traffic_source=rss), so canonical_url leaves them out."""
    return shared_parameters(links) if len(set(links)) >= FEED_ITEMS else frozenset()


def shared_parameters(links: Sequence[str]) -> frozenset[str]:
    """The query parameters every one of these links has, less those that name a page or its
    language (id, p, page, lang...), whatever else they share."""
    shared = set(query_parameters(links[0])) if links else set()
    for link in links[1:]:
        shared.intersection_update(query_parameters(link))
    return frozenset(p for p in shared if _name(p) not in _NAMES_THE_PAGE)


def query_parameters(url: str) -> list[str]:
    """The link's query as its "name=value" parts, as it spells them; none when it is not a URL."""
    parts = _split(url.strip())
    return _pieces(parts.query) if parts else []


def _pieces(query: str) -> list[str]:
    return [p for p in query.split("&") if p]


def _name(parameter: str) -> str:
    return unquote_plus(parameter.partition("=")[0]).lower()


def _is_tracking(parameter: str) -> bool:
    name = _name(parameter)
    return bool(TRACKERS_RE.search(name) or _TRACKING.match(name))


def _canonical_parts(url: str, feed_params: Collection[str] = ()) -> SplitResult | None:
    parts = _split(url.strip())
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    path = _AMP_PATH.sub("", parts.path) or "/"
    kept = (p for p in _pieces(parts.query) if p not in feed_params and not _is_tracking(p))
    return SplitResult(parts.scheme.lower(), parts.netloc.lower(), path, "&".join(sorted(kept)), "")


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
