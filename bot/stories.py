"""The one story decider: which event each new article joins, which article is its face. Pure, no I/O.

Two articles report one event when they have the same page (link), the same headline (five words or
more, the same once folded and stemmed, without the outlet's name), or, from two feeds, published within
the window of each other, texts alike enough: the cosine of their TF-IDF vectors is SAME_EVENT or more.
A vector holds the word keys of the headline (weighing TITLE_WEIGHT) and of the lead, each weighing by how
rare it is among recent articles: log((N + PRIOR) / (n + 1)), n of the N articles counted having it. PRIOR
reads the counts as if that many more articles, without the word, had been counted: until many are (a
new database), every word weighs about the same, and only texts alike in most of their words join.

A story is every article linked to another of it, whatever came first: each new article is compared with
every article of the stories it may join (through a rare term, a link or a headline they share), so the
order in which outlets arrive never changes the stories. An article that links two stories merges them:
the older story (the smaller id) absorbs the other.

One outlet's two articles are joined only by the same page or headline, or through other outlets: an
outlet reports an event once, and a second article of its with the same names is another development,
another part of a series, or shares only the site's related-links text.

A story's face, the article its alerts show: a full text over a thin item, then the earliest.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain import StoryArticle, StoryKey, StoryPlan, TermCounts

SAME_EVENT = 0.44  # cosine from which two texts report one event: measured on tests/data/events.json
TITLE_WEIGHT = 2.0  # a headline word counts twice a lead word: the headline says what happened
MIN_TITLE_WORDS = 5  # a shorter headline ("Live updates") says too little to merge on its own
INDEX_TERMS = 12  # an article's rarest terms, through which the stories it may join are found
# a term in more of the counted articles than this is never an index term: it would find too many
# candidates, and two texts alike enough to be one event share rarer terms than that
INDEX_SHARE = 0.02
PRIOR = 100  # articles assumed counted besides those that were (see the module's docstring)
FULL_TEXT = 600  # characters from which an article's text is a full text, not a thin item
WINDOW = timedelta(hours=48)


@dataclass(frozen=True)
class Stories:
    """The story decider (domain.StoryDecider) with its window: stories.window in the settings."""

    window: timedelta = WINDOW

    def index_terms(self, key: StoryKey, counts: TermCounts) -> tuple[str, ...]:
        """The INDEX_TERMS terms of the headline and lead that the fewest articles have (ties by the
        term), of those in at most INDEX_SHARE of the counted articles (or 5): two articles alike enough
        to be one event almost always share one of them."""
        most = max(5, INDEX_SHARE * counts.articles)
        found = counts.counts
        terms = (*key.title_terms, *key.lead_terms)
        rare = [(n, term) for term in terms if (n := found.get(term, 0)) <= most]
        return tuple(term for _, term in sorted(rare)[:INDEX_TERMS])

    def decide(
        self, new: Sequence[StoryArticle], known: Sequence[StoryArticle], counts: TermCounts
    ) -> StoryPlan:
        """Each new article's story, the stories merged, and the faces and edits that follow. Two articles
        are compared when they share a clue: a link, a long headline, or an index term of both (each
        article's own, as picked when it was stored): the same clues the store finds candidates by."""
        stories = _Stories(a.story for a in (*known, *new))
        vectors = _Vectors(counts)
        pool: dict[object, list[StoryArticle]] = {}  # a clue -> the articles before that have it
        for article in known:
            for clue in self.clues(article, counts):
                pool.setdefault(clue, []).append(article)
        for article in sorted(new, key=lambda a: a.id):
            clues = self.clues(article, counts)
            for other in {other.id: other for clue in clues for other in pool.get(clue, ())}.values():
                if stories.find(other.story) != stories.find(article.story) and self.same_event(
                    article, other, vectors
                ):
                    stories.join(article.story, other.story)
            for clue in clues:
                pool.setdefault(clue, []).append(article)
        return _plan(new, known, stories)

    def clues(self, article: StoryArticle, counts: TermCounts) -> list[object]:
        """Its link, its headline when long enough, and its index terms."""
        key = article.key
        found: list[object] = [("url", key.url)] if key.url else []
        if len(key.title.split()) >= MIN_TITLE_WORDS:
            found.append(("title", key.title))
        return found + list(article.index or self.index_terms(key, counts))

    def same_event(self, a: StoryArticle, b: StoryArticle, vectors: _Vectors) -> bool:
        """Whether two articles report one event (see the module's docstring)."""
        if a.key.url and a.key.url == b.key.url:
            return True
        if abs(a.at - b.at) > self.window:
            return False
        if a.key.title == b.key.title and len(a.key.title.split()) >= MIN_TITLE_WORDS:
            return True
        return a.feed != b.feed and vectors.cosine(a, b) >= SAME_EVENT


class _Vectors:
    """Each article's TF-IDF vector, made once, normalized to length 1."""

    def __init__(self, counts: TermCounts):
        self.counts = counts
        self.made: dict[int, dict[str, float]] = {}
        self.rarity: dict[str, float] = {}

    def cosine(self, a: StoryArticle, b: StoryArticle) -> float:
        mine, theirs = self.of(a), self.of(b)
        if len(mine) > len(theirs):
            mine, theirs = theirs, mine
        return sum(weight * theirs.get(term, 0.0) for term, weight in mine.items())

    def of(self, article: StoryArticle) -> dict[str, float]:
        if article.id not in self.made:
            key = article.key
            lead = {term: self._rarity(term) for term in key.lead_terms}
            title = {term: TITLE_WEIGHT * self._rarity(term) for term in key.title_terms}
            self.made[article.id] = _normalized(lead | title)
        return self.made[article.id]

    def _rarity(self, term: str) -> float:
        if term not in self.rarity:
            counted = self.counts.counts.get(term, 0)
            self.rarity[term] = math.log((self.counts.articles + PRIOR) / (counted + 1))
        return self.rarity[term]


def _normalized(vector: dict[str, float]) -> dict[str, float]:
    length = math.sqrt(sum(w * w for w in vector.values()))
    return {term: w / length for term, w in vector.items()} if length else {}


class _Stories:
    """Stories joined into one: the oldest (smallest id) stands for them all (union-find)."""

    def __init__(self, ids: Iterable[int]):
        self.parent = {story: story for story in ids}

    def find(self, story: int) -> int:
        while self.parent[story] != story:
            self.parent[story] = self.parent[self.parent[story]]
            story = self.parent[story]
        return story

    def join(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        self.parent[max(a, b)] = min(a, b)


def _plan(new: Sequence[StoryArticle], known: Sequence[StoryArticle], stories: _Stories) -> StoryPlan:
    """The decision as rows to write: stories of the new articles, merges, faces, alerts to edit."""
    merged = {a.story: stories.find(a.story) for a in known if stories.find(a.story) != a.story}
    changed = {stories.find(a.story) for a in new}
    after: dict[int, list[StoryArticle]] = {story: [] for story in changed}
    before: dict[int, list[StoryArticle]] = {story: [] for story in changed}  # what alerts showed
    for article in known:
        if article.story in changed:
            before[article.story].append(article)
    for article in (*known, *new):
        if stories.find(article.story) in changed:
            after[stories.find(article.story)].append(article)
    faces = {story: face(after[story]).id for story in changed}
    edited = {
        story
        for story in changed
        if before[story]
        and (
            story in merged.values()
            or {a.feed for a in after[story]} != {a.feed for a in before[story]}
            or face(before[story]).id != faces[story]
        )
    }
    return StoryPlan({a.id: stories.find(a.story) for a in new}, merged, faces, frozenset(edited))


def face(articles: Iterable[StoryArticle]) -> StoryArticle:
    """The article a story's alerts show: a full text over a thin item, then the earliest."""
    return min(articles, key=lambda a: (a.chars < FULL_TEXT, a.at, a.id))


def term_counts(keys: Iterable[StoryKey]) -> TermCounts:
    """The articles having each term, among these: the counts a batch without a database decides by."""
    keys = list(keys)
    return TermCounts(
        len(keys), Counter(term for key in keys for term in {*key.title_terms, *key.lead_terms})
    )


class InMemory:
    """The store's story step (bot/store/stories.py) on lists instead of tables, for what decides stories
    without a database (`newsalert check`, bench/quality_eval.py): a poll's articles get the next ids, the
    stories they may join are found through their links, headlines and index terms, every article of
    those stories goes to the decider, and its plan is kept."""

    def __init__(self, decider: Stories, counts: TermCounts):
        self.decider, self.counts = decider, counts
        self.articles: list[StoryArticle] = []  # by id - 1
        self.clues: dict[object, list[int]] = {}  # what the store's indexes find: a link, a headline, a term

    def save(self, poll: Sequence[tuple[int, datetime, int, StoryKey]]) -> list[int]:
        """Each (feed, when, text length, key) of a poll, as a new article: its id."""
        first = len(self.articles) + 1
        new = [
            StoryArticle(
                first + i, first + i, feed, at, chars, key, self.decider.index_terms(key, self.counts)
            )
            for i, (feed, at, chars, key) in enumerate(poll)
        ]
        found = {i for a in new for clue in _looked_up(a) for i in self.clues.get(clue, ())}
        stories = {self.articles[i - 1].story for i in found}
        plan = self.decider.decide(new, [a for a in self.articles if a.story in stories], self.counts)
        if plan.merged:
            self.articles = [replace(a, story=plan.merged.get(a.story, a.story)) for a in self.articles]
        for article in new:
            self.articles.append(replace(article, story=plan.stories[article.id]))
            for clue in _looked_up(article):
                self.clues.setdefault(clue, []).append(article.id)
        return [article.id for article in new]

    def story_of(self, article_id: int) -> int:
        return self.articles[article_id - 1].story


def _looked_up(article: StoryArticle) -> list[object]:
    return [("url", article.key.url), ("title", article.key.title), *article.index]
