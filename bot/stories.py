"""The one story decider: which event each new article joins, which article is its face. Pure, no I/O.

Two articles report one event when they have the same page (link), the same headline (five words or
more, the same once folded and stemmed, without the outlet's name), or, from two feeds, published within
the window of each other, texts alike enough: the cosine of their TF-IDF vectors is at least SAME_EVENT,
plus SLOWER for each hour between their publication (reports of one event come out within hours; the same
names a day or two apart are mostly the next development). A vector holds the word keys of the headline
(weighing TITLE_WEIGHT) and of the lead, each weighing by how rare it is among recent articles:
log((N + PRIOR) / (n + 1)), n of the N articles counted having it. Two leads are compared at the same
length, the shorter one's (MIN_LEAD words at least): a feed's one-line item against another's first
paragraphs, not against all the words it never had. PRIOR reads the counts as if that many more articles,
without the word, had been counted: while few are (a new database), every word weighs about the same,
and only texts alike in most of their words join.

How the constants were measured (bench/quality_eval.py on tests/data/events.json, 36 events, numbered
as they first come in the corpus): chosen on the even-numbered events alone (pair precision 0.986,
recall 0.664), then checked on the odd ones (precision 1.000, recall 0.725); all: precision 0.990,
recall 0.680, no hard negative merged, up from recall 0.593. The same figures hold for SAME_EVENT 0.38
to 0.41 and SLOWER 0.004 to 0.006. Tried and left out, for no gain at that precision: names (capitalised
words, numbers) weighted up (hard negatives share the names), more of the text (40 to 200 words),
"U.S." read as "US", and, as a batch clustering, joining on a story's average link (whose stories would
depend on the arrival order anyway). What keeps recall from 0.8: outlets word one event differently (a
cosine of 0.1 to 0.3), while its preview ("to meet in Geneva") and the next development share its names
and most of its words.

With embeddings (summary.llm.embeddings_model; off by default), two articles from two feeds published
within the window are also one event when the cosine of their embeddings (of the headline and first 150
words, summary/embeddings.py) is at least `embeddings_bar`, however differently they are worded, and an
article with an embedding is found through EMBEDDED_INDEX_TERMS index terms. Measured the same way
(all-MiniLM-L6-v2, bench/quality_eval.py --embeddings; the bar from bench/embeddings_eval.py, picked on the
even events and checked on the odd): precision 0.992, recall 0.800, no hard negative merged, in every
arrival order. Through INDEX_TERMS index terms recall is 0.740: the pairs the embeddings join share fewer
of their heaviest words; 12 terms find every pair that comparing all of them would join (0.800), 16 leave a
margin. More index terms change nothing for words alone (0.680 with 8, 12 or 16).

A story is every article linked to another of it, whatever came first: each new article is compared with
every article of the stories it may join (through an index term, a link or a headline they share), so
the order in which outlets arrive never changes the stories. An article that links two stories merges
them: the older story (the smaller id) absorbs the other.

One outlet's two articles are joined only by the same page or headline, or through other outlets: an
outlet reports an event once, and a second article of its with the same names is another development,
another part of a series, or shares only the site's related-links text.

A story's face, the article its alerts show: a full text over a thin item, then the earliest.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain import StoryArticle, StoryKey, StoryPlan, TermCounts

# How alike two texts must be to report one event: a cosine of SAME_EVENT when published together, and
# SLOWER more for each hour between them (measured: see the module's docstring).
SAME_EVENT = 0.40
SLOWER = 0.005  # a day apart: 0.52; two days (the window): 0.64, which copies of one text still pass
TITLE_WEIGHT = 2.5  # a headline word counts 2.5 times a lead word as rare: the headline says what happened
MIN_LEAD = 10  # lead words compared at least: a one-line item meets more than the other's headline
MIN_TITLE_WORDS = 5  # a shorter headline ("Live updates") says too little to merge on its own
INDEX_TERMS = 8  # an article's heaviest terms, through which the stories it may join are found
EMBEDDED_INDEX_TERMS = 16  # with embeddings (measured: see Stories.index_terms and docs/stories.md)
INDEX_LEAD = 20  # lead words index terms are picked from: a one-line item shares the opening, not the rest
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
    # summary.llm.embeddings_bar when summary.llm.embeddings_model is set: two articles of different feeds
    # within the window whose embeddings have at least this cosine report one event, however differently
    # worded. None: words alone decide.
    embeddings_bar: float | None = None

    def index_terms(self, key: StoryKey, counts: TermCounts, embedded: bool = False) -> tuple[str, ...]:
        """The INDEX_TERMS terms of the headline and the first INDEX_LEAD lead words that weigh most in
        the article's vector (a headline word weighs TITLE_WEIGHT times a lead word as rare; ties by the
        term), of those in at most INDEX_SHARE of the counted articles (or 5): two articles alike enough
        to be one event almost always share one. EMBEDDED_INDEX_TERMS when the article has an embedding
        and embeddings decide too: they join reports worded so differently that they share fewer of
        their heaviest words."""
        most = max(5, INDEX_SHARE * counts.articles)
        found = counts.counts
        weighs = {term: TITLE_WEIGHT * _rarity(found.get(term, 0), counts) for term in key.title_terms}
        for term in key.lead_terms[:INDEX_LEAD]:
            weighs.setdefault(term, _rarity(found.get(term, 0), counts))
        heaviest = sorted((-w, term) for term, w in weighs.items() if found.get(term, 0) <= most)
        wanted = EMBEDDED_INDEX_TERMS if embedded and self.embeddings_bar is not None else INDEX_TERMS
        return tuple(term for _, term in heaviest[:wanted])

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
        return found + list(article.index or self.index_terms(key, counts, article.vector is not None))

    def same_event(self, a: StoryArticle, b: StoryArticle, vectors: _Vectors) -> bool:
        """Whether two articles report one event (see the module's docstring)."""
        if a.key.url and a.key.url == b.key.url:
            return True
        if abs(a.at - b.at) > self.window:
            return False
        if a.key.title == b.key.title and len(a.key.title.split()) >= MIN_TITLE_WORDS:
            return True
        if a.feed == b.feed:
            return False
        hours = abs(a.at - b.at) / timedelta(hours=1)
        if vectors.cosine(a, b) >= SAME_EVENT + SLOWER * hours:
            return True
        bar, both = self.embeddings_bar, a.vector is not None and b.vector is not None
        return bar is not None and both and vectors.embedded(a, b) >= bar


class _Vectors:
    """Each article's TF-IDF vector, made once: each term's weight and place (0: the headline, i: the i-th
    lead word), and the squared length of the vector cut after each lead word (lengths[i])."""

    def __init__(self, counts: TermCounts):
        self.counts = counts
        self.made: dict[int, tuple[dict[str, tuple[float, int]], list[float]]] = {}
        self.rarity: dict[str, float] = {}
        self.lengths: dict[int, float] = {}  # each article's embedding's length

    def embedded(self, a: StoryArticle, b: StoryArticle) -> float:
        """The cosine of the two articles' embeddings (both have one, of one model: one size)."""
        assert a.vector is not None and b.vector is not None
        length = self.length_of(a) * self.length_of(b)
        return sum(map(operator.mul, a.vector, b.vector)) / length if length else 0.0

    def length_of(self, article: StoryArticle) -> float:
        if article.id not in self.lengths:
            self.lengths[article.id] = math.sqrt(sum(x * x for x in article.vector or ()))
        return self.lengths[article.id]

    def cosine(self, a: StoryArticle, b: StoryArticle) -> float:
        """Of the headlines and as many lead words of each: the shorter lead's, MIN_LEAD at least."""
        words = max(MIN_LEAD, min(len(a.key.lead_terms), len(b.key.lead_terms)))
        (mine, my_lengths), (theirs, their_lengths) = self.of(a), self.of(b)
        if len(mine) > len(theirs):
            mine, theirs = theirs, mine
        dot = 0.0
        for term, (weight, place) in mine.items():
            if place <= words and (other := theirs.get(term)) and other[1] <= words:
                dot += weight * other[0]
        length = math.sqrt(my_lengths[min(words, len(my_lengths) - 1)])
        length *= math.sqrt(their_lengths[min(words, len(their_lengths) - 1)])
        return dot / length if length else 0.0

    def of(self, article: StoryArticle) -> tuple[dict[str, tuple[float, int]], list[float]]:
        if article.id not in self.made:
            key = article.key
            vector = {term: (TITLE_WEIGHT * self.rarity_of(term), 0) for term in key.title_terms}
            lengths = [sum(weight * weight for weight, _ in vector.values())]
            for place, term in enumerate(key.lead_terms, 1):
                weight = self.rarity_of(term) if term not in vector else 0.0  # each term once
                vector.setdefault(term, (weight, place))
                lengths.append(lengths[-1] + weight * weight)
            self.made[article.id] = vector, lengths
        return self.made[article.id]

    def rarity_of(self, term: str) -> float:
        if term not in self.rarity:
            self.rarity[term] = _rarity(self.counts.counts.get(term, 0), self.counts)
        return self.rarity[term]


def _rarity(counted: int, counts: TermCounts) -> float:
    """How telling a term in `counted` of the counted articles is (see the module's docstring)."""
    return math.log((counts.articles + PRIOR) / (counted + 1))


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

    def save(
        self,
        poll: Sequence[tuple[int, datetime, int, StoryKey]],
        vectors: Sequence[tuple[float, ...] | None] | None = None,
    ) -> list[int]:
        """Each (feed, when, text length, key) of a poll, as a new article: its id. `vectors`: their
        embeddings, in the same order (None: none has one)."""
        new = []
        for i, ((feed, at, chars, key), vector) in enumerate(
            zip(poll, vectors or [None] * len(poll), strict=True), len(self.articles) + 1
        ):
            index = self.decider.index_terms(key, self.counts, vector is not None)
            new.append(StoryArticle(i, i, feed, at, chars, key, index, vector))
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
