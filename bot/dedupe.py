"""One story, however many outlets carry it: canonical links, and a sketch of the text to compare.

Pure functions. An article gets a StoryKey (its canonical link, its normalized title, a bottom-k
sketch of its word pairs); two articles are the same story when same_story() says so. The store
finds the candidates to compare through a few `marks` per article (its smallest pair hashes).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Collection, Sequence
from urllib.parse import SplitResult, unquote_plus, urlsplit, urlunsplit

from courlan.clean import TRACKERS_RE
from courlan.settings import ALLOWED_PARAMS, LANG_PARAMS

from bot.domain import StoryKey
from bot.rules.text import DEFAULT_LANGUAGE, keys

SKETCH = 32  # pair hashes kept per article: the Jaccard estimate's resolution is 1/32
SAME_TEXT = 0.3  # estimated Jaccard of word pairs from which two texts tell the same story
MIN_TITLE_WORDS = 5  # a shorter title ("Live updates") says too little to merge on its own
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
# " - Reuters", " | BBC News": the outlet's name after the headline. It starts where a run of spaces
# does: a bare \s+ would be tried from every space of a long run, reading the rest of it each time.
_OUTLET_SUFFIX = re.compile(r"(?<!\s)\s+[-|\u2013\u2014:]\s+[^-|\u2013\u2014:]{2,40}$")


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


def title_key(title: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The headline as words to compare, without the outlet's name after it."""
    return " ".join(keys(_OUTLET_SUFFIX.sub("", title.strip()), language))


def _pairs(text: str, language: str) -> set[int]:
    words = keys(text, language)
    return set(map(zlib.crc32, map(str.encode, map(" ".join, zip(words, words[1:], strict=False)))))


def story_key(link: str, title: str, body: str, language: str = DEFAULT_LANGUAGE) -> StoryKey:
    pairs = _pairs(f"{title}\n{body}", language)
    return StoryKey(url_key(link), title_key(title, language), tuple(sorted(pairs)[:SKETCH]))


def resemblance(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity of two texts' word pairs, from their bottom-k sketches."""
    if not a or not b:
        return 0.0
    mine = set(a)
    union = sorted(mine.union(b))[:SKETCH]  # the union's sketch
    return len(mine.intersection(b).intersection(union)) / len(union)


def same_story(a: StoryKey, b: StoryKey) -> bool:
    """The same page, the same headline (long enough to mean something), or the same text."""
    if a.url and a.url == b.url:
        return True
    if a.title and a.title == b.title and len(a.title.split()) >= MIN_TITLE_WORDS:
        return True
    return resemblance(a.sketch, b.sketch) >= SAME_TEXT


def _clues(key: StoryKey) -> list[object]:
    """What an article shares with another of its story, at least one of them: its link, its
    headline (when long enough to mean something), or one of its marks."""
    return [*_exact_clues(key), *key.marks]


def _exact_clues(key: StoryKey) -> list[object]:
    title = [("title", key.title)] if len(key.title.split()) >= MIN_TITLE_WORDS else []
    return [*([("url", key.url)] if key.url else []), *title]


def assign_stories(new: Sequence[tuple[int, StoryKey]], known: Sequence[tuple[int, StoryKey]]) -> list[int]:
    """The story id of each new (article id, key), oldest first: that of the first known story (or
    earlier new article) with its link or long headline, else the first whose text it shares (see
    same_story), else a story of its own (its article id)."""
    pool: list[tuple[int, StoryKey]] = []
    near: dict[object, list[int]] = {}  # a link, a headline or a mark -> the pool entries that have it
    wanted = {clue for _, key in new for clue in _clues(key)}  # only these are ever looked up

    def add(story_id: int, key: StoryKey) -> None:
        for clue in wanted.intersection(_clues(key)):
            near.setdefault(clue, []).append(len(pool))
        pool.append((story_id, key))

    for story_id, key in known:
        add(story_id, key)
    result = []
    for article_id, key in new:
        # only entries sharing a clue can be the same story: the others need no comparing. Those with
        # the same link or headline first: the strongest evidence, and it needs no texts compared.
        exact = sorted({i for clue in _exact_clues(key) for i in near.get(clue, ())})
        similar = sorted({i for mark in key.marks for i in near.get(mark, ())} - set(exact))
        candidates = (pool[i] for i in exact + similar)
        story = next((story_id for story_id, other in candidates if same_story(key, other)), article_id)
        result.append(story)
        add(story, key)
    return result
