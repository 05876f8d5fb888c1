"""Story rows: what the story decider is given (the stories a poll's articles may join, recent term
counts), and its plan written down. Which story an article joins is decided by the decider, not here.

Merged stories: the absorbing story's alerts stay; an alert of the absorbed story moves to it, unless the
chat already has one there: then it is dropped if not yet sent (status "merged": the chat hears of the
event through the alert it has, edited), and left as it is if sent (a message cannot be unsent).
"""

from __future__ import annotations

import hashlib
import struct
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from bot.domain import NewStory, StoryArticle, StoryDecider, StoryKey, StoryPlan, TermCounts
from bot.store.rows import Direct, Rows, one_of
from bot.store.tables import article_vectors, articles, outbox, story_clues, term_census, term_counts

# Term counts are counted again (from the articles of the window) once they are a day old, or once more
# articles came since than they counted: often while a new database fills, then daily.
COUNTED_FOR = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TEXTS = 16  # of a clue a story has, the latest texts compared with a new article (_known)


def plan_stories(
    conn: Connection, feed_id: int, new: Sequence[tuple[int, NewStory]], now: datetime, decider: StoryDecider
) -> StoryPlan:
    """The decider's plan for a poll's articles (stored, with these ids), written down, and their
    embeddings kept."""
    fresh, counts, since = _arrivals(conn, feed_id, new, now, decider)
    known, clues, faces = _known(conn, fresh, since, _model(new))
    plan = decider.decide(fresh, known, _with_terms_of(conn, known, counts))
    _write(conn, plan, fresh, clues, faces, now)
    _keep_vectors(conn, new)
    return plan


def _keep_vectors(conn: Connection, new: Sequence[tuple[int, NewStory]]) -> None:
    rows = [
        {"article_id": i, "model": e.model, "text_hash": e.text_hash, "vector": pack(e.vector)}
        for i, e in ((i, story.embedding) for i, story in new)
        if e is not None
    ]
    _INSERT_VECTORS.run_many(conn, rows)


def _model(new: Sequence[tuple[int, NewStory]]) -> str | None:
    """The model of the poll's embeddings: stored articles' vectors of it are given to the decider (of no
    other: two models' vectors are not alike however alike their texts). None: the poll has none."""
    return next((story.embedding.model for _, story in new if story.embedding), None)


def pack(vector: Sequence[float]) -> bytes:
    """A vector as article_vectors keeps it: float32, little-endian (1,536 bytes for 384 numbers)."""
    return struct.pack(f"<{len(vector)}f", *vector)


def unpack(stored: bytes) -> tuple[float, ...]:
    return struct.unpack(f"<{len(stored) // 4}f", stored)


class EmbeddingRows(Rows):
    """The embeddings cache (summary.embeddings.EmbeddingsCache) in the database: the vectors of stored
    articles, by the hash of the model and the text, so a copy of a text already stored is not embedded
    again. A poll's new vectors are kept with its articles (plan_stories), and go with them."""

    async def cached_embeddings(self, hashes: Sequence[str]) -> Mapping[str, list[float]]:
        rows = await self._run(lambda conn: _CACHED.rows(conn, {"hashes": sorted(hashes)}))
        return {text_hash: list(unpack(vector)) for text_hash, vector in rows}

    async def save_embeddings(self, vectors: Mapping[str, list[float]], tokens: int, now: datetime) -> None:
        """Nothing here: the vectors are kept with the articles that have them, when the poll is saved (a
        vector of an article never stored would be kept for nothing)."""


def _arrivals(
    conn: Connection, feed_id: int, new: Sequence[tuple[int, NewStory]], now: datetime, decider: StoryDecider
) -> tuple[list[StoryArticle], TermCounts, datetime]:
    """A poll's articles as the decider sees them, the term counts, and since when articles are near."""
    since = now - decider.window
    terms = {term for _, story in new for term in (*story.key.title_terms, *story.key.lead_terms)}
    counts = _term_counts(conn, max(i for i, _ in new), since, now, terms)
    fresh = [
        StoryArticle(
            i, i, feed_id, _at(story.article.published_at, now), len(story.body), story.key,
            decider.index_terms(story.key, counts, story.embedding is not None),
            unpack(pack(story.embedding.vector)) if story.embedding else None,  # as it is kept
        )
        for i, story in new
    ]  # fmt: skip
    return fresh, counts, since


def _with_terms_of(conn: Connection, known: Sequence[StoryArticle], counts: TermCounts) -> TermCounts:
    """The counts of the known articles' terms too: a stored article's words weigh as rare as they are,
    whichever of two articles came first (else a word only it has would weigh as if in no article)."""
    missing = {t for a in known for t in (*a.key.title_terms, *a.key.lead_terms)} - counts.counts.keys()
    if not missing:
        return counts
    return TermCounts(
        counts.articles, {**counts.counts, **dict(_COUNTS.rows(conn, {"terms": sorted(missing)}))}
    )


def _at(published: datetime | None, fetched: datetime) -> datetime:
    return min(published, fetched) if published else fetched


def _term_counts(
    conn: Connection, newest: int, since: datetime, now: datetime, terms: set[str]
) -> TermCounts:
    [census] = _CENSUS.rows(conn, {}) or [None]
    if census is None or newest - census[1] > census[0] or now - _utc(census[2]) >= COUNTED_FOR:
        counted = _count_terms(conn, newest, since, now)
    else:
        counted = census[0]
    return TermCounts(counted, dict(_COUNTS.rows(conn, {"terms": sorted(terms)})))


def _utc(value: datetime | str) -> datetime:
    """A date as Direct returns it: SQLite's text unconverted, PostgreSQL's already a datetime."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if isinstance(value, str) else value


def _count_terms(conn: Connection, newest: int, since: datetime, now: datetime) -> int:
    """Counts again in how many articles of the window each term is; returns how many were counted."""
    query = select(articles.c.story_terms).where(
        articles.c.fetched_at >= since, articles.c.story_terms.is_not(None)
    )
    counts: Counter[str] = Counter()
    counted = 0
    for terms in conn.execute(query).scalars():
        counted += 1
        counts.update(set(terms.split()).difference("|"))
    conn.execute(delete(term_counts))
    _INSERT_COUNT.run_many(conn, [{"term": term, "articles": n} for term, n in counts.items()])
    conn.execute(delete(term_census))
    conn.execute(insert(term_census).values(id=1, articles=counted, last_article_id=newest, counted_at=now))
    return counted


# An article as story_clues compares them, (at in microseconds, -id, feed): the greatest is the latest,
# the one published last, and of those published together the first stored (copies of a wire text,
# published together, keep their first, often the story's face).
_Seen = tuple[int, int, int]


class _Clue(NamedTuple):
    """A story_clues row: for a clue, story and text, its latest article and its latest from another
    outlet, when the first article having it was published and when one was last fetched (in
    microseconds)."""

    clue: str
    story: int
    text: int
    latest: _Seen
    other: _Seen | None
    first_at: int
    fetched_at: int


def _known(
    conn: Connection, new: Sequence[StoryArticle], since: datetime, model: str | None = None
) -> tuple[list[StoryArticle], list[_Clue], dict[int, int]]:
    """Of the stories the new articles may join, the articles that decide as every article would
    (_every_member, the plain path, gives them all; tests hold the two plans equal), with their vectors
    of `model`; the clue rows read; and the faces the stories had.

    The stories are those with an article fetched in the window that has a clue of a new article: its
    link, its headline, or one of its index terms. An article joins a story through one article it
    matches (the same page; the same headline within the window; from another outlet within the window,
    a text alike enough, the more alike the further apart in time, or embeddings alike enough), and
    copies of one text (one headline and lead, one embedding) match alike but for their time: so of
    each story, per clue of a new article and text having it, the latest article is given (and the
    latest from another outlet, when the latest is from the poll's own): the copy nearest in time to a
    new article published after it (or to any, when the copies were all published together), however
    many outlets carried that text. A story is given whole when a new article was published before the
    latest of copies published at different times having one of its clues (then any copy may be the
    nearest), or when it has no face kept yet (stored before 0010). And of each story, its face (the
    full text, then earliest, that the decider last chose, which a new article must beat) and its first
    article from the poll's feed (so whether an outlet joined is known). Articles without index terms
    are found through their story's clue "".

    Where this is not every article: of a clue shared by more than TEXTS texts of one story, the latest
    TEXTS texts are compared."""
    clues = sorted({clue for a in new for clue in _clues(a.key, a.index) if clue})
    found = _CLUE_ROWS.rows(conn, {"clues": clues})
    floor, feed = micros(since), new[0].feed
    stories = {row[1] for row in found if row[-1] >= floor}  # (clue, story, ..., fetched_at)
    if not stories:
        return [], [], {}
    rows = _clue_rows_of([row for row in found if row[1] in stories])
    rows += _clue_rows_of(_NO_TERMS.rows(conn, {"stories": sorted(stories)}))
    earliest: dict[str, int] = {}  # of the new articles having each clue, the earliest published
    for a in new:
        at = micros(a.at)
        for clue in (*_clues(a.key, a.index), ""):
            earliest[clue] = min(earliest.get(clue, at), at)
    whole, texts = set(), {}
    for row in rows:
        if earliest[row.clue] < row.latest[0] and row.first_at < row.latest[0]:
            whole.add(row.story)  # its copy nearest in time may be any
        texts.setdefault((row.clue, row.story), []).append(row)
    wanted: set[int] = set()
    for group in texts.values():
        if len(group) > TEXTS:
            group = sorted(group, key=lambda r: r.latest, reverse=True)[:TEXTS]
        for row in group:
            wanted.add(-row.latest[1])
            if row.latest[2] == feed and row.other:
                wanted.add(-row.other[1])
    faces = {}
    for story, face, mine in _FACES.rows(conn, {"stories": sorted(stories), "feed": feed}):
        if face is not None:
            faces[story] = face
            wanted.update(i for i in (face, mine) if i is not None)
    whole |= stories - faces.keys()
    params = {"first": min(a.id for a in new), "ids": sorted(wanted), "whole": sorted(whole), "model": model}
    return [_article(row) for row in _ARTICLES.rows(conn, params)], rows, faces


def _clue_rows_of(rows: Sequence[Sequence]) -> list[_Clue]:
    return [
        _Clue(clue, story, text, (at, -i, feed), (o_at, -other, o_feed) if other else None, first, fetched)
        for clue, story, text, i, at, feed, other, o_at, o_feed, first, fetched in rows
    ]


def _every_member(
    conn: Connection, new: Sequence[StoryArticle], since: datetime, model: str | None = None
) -> list[StoryArticle]:
    """The plain path that _known shadows (tests hold their plans equal): every article of every story
    that has, fetched in the window, an article with a link, headline or index term of a new one; with
    their vectors of `model`."""
    rows = _EVERY_ARTICLE.rows(conn, {"first": min(a.id for a in new), "model": model})
    known = [(_article(row), _utc(row[4])) for row in rows]
    clues = {clue for a in new for clue in _clues(a.key, a.index) if clue}
    near = {a.story for a, fetched in known if fetched >= since and clues & {*_clues(a.key, a.index)}}
    return [a for a, _ in known if a.story in near]


def _clues(key: StoryKey, index: Sequence[str]) -> list[str]:
    """An article's clues as story_clues keeps them: its link, headline, and index terms, or "" when it
    has none (the decider then picks them afresh, from the counts of its day)."""
    found = [f"link {key.url}"] if key.url else []
    if key.title:
        found.append(f"title {key.title}")
    return found + ([f"term {term}" for term in index] or [""])


def _text(key: StoryKey, vector: Sequence[float] | None = None) -> int:
    """The text's hash: copies of one text (the same headline and lead terms, and embedding) compare
    alike."""
    digest = hashlib.blake2b(_story_terms(key).encode(), digest_size=8)
    if vector is not None:
        digest.update(pack(vector))
    return int.from_bytes(digest.digest(), "big", signed=True)


def _story_terms(key: StoryKey) -> str:
    return f"{' '.join(key.title_terms)} | {' '.join(key.lead_terms)}"


def _article(row: Sequence) -> StoryArticle:
    i, story, feed, published, fetched, chars, url, title, terms, index, vector = row
    at = _at(published and _utc(published), _utc(fetched))
    key, found = _key(url, title, terms), tuple((index or "").split())
    return StoryArticle(i, story, feed, at, chars, key, found, unpack(vector) if vector else None)


def _key(url: str | None, title: str | None, terms: str | None) -> StoryKey:
    title_terms, _, lead_terms = (terms or "").partition(" | ")
    return StoryKey(url or "", title or "", tuple(title_terms.split()), tuple(lead_terms.split()))


def _write(
    conn: Connection,
    plan: StoryPlan,
    new: Sequence[StoryArticle],
    clues: Sequence[_Clue],
    faces: dict[int, int],
    now: datetime,
) -> None:
    """The plan written down; `faces`: the faces the stories had (those that did not change and absorbed
    no other story are left as they are)."""
    _SET_STORY.run_many(
        conn, [{"article": a.id, "story": plan.stories[a.id], "index": " ".join(a.index)} for a in new]
    )
    merges = [{"absorbed": absorbed, "into": into} for absorbed, into in plan.merged.items()]
    if merges:
        conn.execute(_MERGE_ARTICLES, merges)
        conn.execute(_MOVE_CLUES, merges)
        conn.execute(_MOVE_ALERTS, merges)
        conn.execute(_DROP_ALERTS, merges)
    shown = [
        {"story": s, "face": f}
        for s, f in plan.faces.items()
        if faces.get(s) != f or s in plan.merged.values()
    ]
    _SET_FACE.run_many(conn, shown)
    first = min(a.id for a in new)  # a story born in this poll has no alert yet
    _SHOW_FACE.run_many(conn, [row for row in shown if row["story"] < first])
    if plan.edited:
        _EDIT_AGAIN.run_many(conn, [{"stories": sorted(plan.edited), "now": now}])
    updated, inserted, refresh = _clue_rows(plan, new, clues, now)
    _UPDATE_CLUE.run_many(conn, updated)
    _INSERT_CLUE.run_many(conn, inserted)
    _REFRESH_CLUES.run_many(conn, refresh)


def _clue_rows(
    plan: StoryPlan, new: Sequence[StoryArticle], clues: Sequence[_Clue], now: datetime
) -> tuple[list[dict], list[dict], list[dict]]:
    """story_clues after the plan: for each clue, story and text of a new article, the latest article and
    the latest from another outlet, of those kept (of the stories now merged into it) and the new ones.
    Rows there were are updated (the merges moved them to their story), others inserted; a row whose
    articles stay (a copy published with the first) only gets the fetch time, with the others of its
    story and text at once."""
    found: dict[tuple[str, int, int], list[_Seen]] = {}
    for a in new:
        text, seen = _text(a.key, a.vector), (micros(a.at), -a.id, a.feed)
        for clue in _clues(a.key, a.index):
            found.setdefault((clue, plan.stories[a.id], text), []).append(seen)
    had: dict[tuple[str, int, int], list[_Clue]] = {}
    merged = plan.merged
    for row in clues:
        key = (row.clue, merged.get(row.story, row.story), row.text)
        if key in found:
            had.setdefault(key, []).append(row)
    updated, inserted, fetched = [], [], micros(now)
    refreshed: dict[tuple[int, int], list[str]] = {}
    for key, kept in found.items():
        rows = had.get(key, ())
        first = min([a[0] for a in kept] + [row.first_at for row in rows])
        for row in rows:
            kept += (row.latest, row.other) if row.other else (row.latest,)
        latest, other = _latest_two(kept)
        if len(rows) == 1 and (rows[0].latest, rows[0].other, rows[0].first_at) == (latest, other, first):
            if rows[0].fetched_at < fetched:  # else nothing changes (polls of one moment)
                refreshed.setdefault(key[1:], []).append(key[0])
        else:
            row = {
                "p_clue": key[0], "p_story": key[1], "p_text": key[2], "p_article": -latest[1],
                "p_at": latest[0], "p_feed": latest[2], "p_other": other and -other[1],
                "p_other_at": other and other[0], "p_other_feed": other and other[2], "p_first": first,
                "p_fetched": max([fetched] + [r.fetched_at for r in rows]),
            }  # fmt: skip
            (updated if rows else inserted).append(row)
    refresh = [
        {"p_story": story, "p_text": text, "p_clues": sorted(clues), "p_fetched": fetched}
        for (story, text), clues in refreshed.items()
    ]
    return updated, inserted, refresh


def _latest_two(kept: list[_Seen]) -> tuple[_Seen, _Seen | None]:
    """Of these articles, the latest, and the latest from another outlet than its."""
    if len(kept) == 1:
        return kept[0], None
    latest = max(kept)
    return latest, max((a for a in kept if a[2] != latest[2]), default=None)


def fill_clues(conn: Connection) -> None:
    """story_clues for the stored articles, as _write would have made them (migration 0010)."""
    found: dict[tuple[str, int, int], list[_Seen]] = {}
    fetched: dict[tuple[str, int, int], int] = {}
    for i, story, feed, published, fetched_at, url, title, terms, index in conn.execute(_STORED):
        key, at, when = _key(url, title, terms), micros(_at(published, fetched_at)), micros(fetched_at)
        for clue in _clues(key, tuple((index or "").split())):
            k = (clue, story, _text(key))
            found.setdefault(k, []).append((at, -i, feed))
            fetched[k] = max(fetched.get(k, when), when)
    rows = []
    for (clue, story, text), kept in found.items():
        latest, other = _latest_two(kept)
        rows.append({
            "p_clue": clue, "p_story": story, "p_text": text, "p_article": -latest[1], "p_at": latest[0],
            "p_feed": latest[2], "p_other": other and -other[1], "p_other_at": other and other[0],
            "p_other_feed": other and other[2], "p_first": min(a[0] for a in kept),
            "p_fetched": fetched[clue, story, text],
        })  # fmt: skip
    if rows:
        conn.execute(_INSERT_CLUE.statement, rows)


def micros(when: datetime) -> int:
    """A time as story_clues keeps it: microseconds since 1970 (UTC), compared and stored as they are."""
    return (when - EPOCH) // timedelta(microseconds=1)


_COUNTS = Direct(
    select(term_counts.c.term, term_counts.c.articles).where(one_of(term_counts.c.term, "terms"))
)
_INSERT_COUNT = Direct(insert(term_counts))
_CENSUS = Direct(select(term_census.c.articles, term_census.c.last_article_id, term_census.c.counted_at))
_CLUE_COLUMNS = (
    story_clues.c.clue, story_clues.c.story_id, story_clues.c.text, story_clues.c.article_id,
    story_clues.c.at, story_clues.c.feed_id, story_clues.c.other_id, story_clues.c.other_at,
    story_clues.c.other_feed_id, story_clues.c.first_at, story_clues.c.fetched_at,
)  # fmt: skip
_CLUE_ROWS = Direct(select(*_CLUE_COLUMNS).where(one_of(story_clues.c.clue, "clues")))
_NO_TERMS = Direct(  # the "" rows of these stories: their articles without index terms
    select(*_CLUE_COLUMNS).where(story_clues.c.clue == "", one_of(story_clues.c.story_id, "stories"))
)
_member = articles.alias("member")
_FACES = Direct(  # each story's face, and its first article from the poll's feed
    select(
        articles.c.id,
        articles.c.face_id,
        select(func.min(_member.c.id))
        .where(_member.c.story_id == articles.c.id, _member.c.feed_id == bindparam("feed"))
        .scalar_subquery(),
    ).where(one_of(articles.c.id, "stories"))
)
_AS_DECIDED = (  # an article as the decider sees it (_article), with its vector of the poll's model
    articles.c.id, articles.c.story_id, articles.c.feed_id, articles.c.published_at,
    articles.c.fetched_at, func.length(articles.c.body).label("chars"), articles.c.story_url,
    articles.c.title_key, articles.c.story_terms, articles.c.index_terms, article_vectors.c.vector,
)  # fmt: skip
_WITH_VECTORS = articles.outerjoin(
    article_vectors,
    and_(article_vectors.c.article_id == articles.c.id, article_vectors.c.model == bindparam("model")),
)
_ARTICLES = Direct(
    select(*_AS_DECIDED)
    .select_from(_WITH_VECTORS)
    .where(
        articles.c.id < bindparam("first"),
        or_(one_of(articles.c.id, "ids"), one_of(articles.c.story_id, "whole")),
    )
    .order_by(articles.c.id)
)
_EVERY_ARTICLE = Direct(
    select(*_AS_DECIDED)
    .select_from(_WITH_VECTORS)
    .where(articles.c.id < bindparam("first"))
    .order_by(articles.c.id)
)
_INSERT_VECTORS = Direct(insert(article_vectors))
_CACHED = Direct(
    select(article_vectors.c.text_hash, article_vectors.c.vector).where(
        one_of(article_vectors.c.text_hash, "hashes")
    )
)
_STORED = select(
    articles.c.id,
    articles.c.story_id,
    articles.c.feed_id,
    articles.c.published_at,
    articles.c.fetched_at,
    articles.c.story_url,
    articles.c.title_key,
    articles.c.story_terms,
    articles.c.index_terms,
).where(articles.c.story_id.is_not(None))
_SET_STORY = Direct(
    update(articles)
    .where(articles.c.id == bindparam("article"))
    .values(story_id=bindparam("story"), index_terms=bindparam("index"))
)
_SET_FACE = Direct(
    update(articles).where(articles.c.id == bindparam("story")).values(face_id=bindparam("face"))
)
_UPDATE_CLUE = Direct(
    update(story_clues)
    .where(
        story_clues.c.clue == bindparam("p_clue"),
        story_clues.c.story_id == bindparam("p_story"),
        story_clues.c.text == bindparam("p_text"),
    )
    .values(
        article_id=bindparam("p_article"), at=bindparam("p_at"), feed_id=bindparam("p_feed"),
        other_id=bindparam("p_other"), other_at=bindparam("p_other_at"),
        other_feed_id=bindparam("p_other_feed"), first_at=bindparam("p_first"),
        fetched_at=bindparam("p_fetched"),
    )
)  # fmt: skip
_INSERT_CLUE = Direct(
    insert(story_clues).values(
        clue=bindparam("p_clue"), story_id=bindparam("p_story"), text=bindparam("p_text"),
        article_id=bindparam("p_article"), at=bindparam("p_at"), feed_id=bindparam("p_feed"),
        other_id=bindparam("p_other"), other_at=bindparam("p_other_at"),
        other_feed_id=bindparam("p_other_feed"), first_at=bindparam("p_first"),
        fetched_at=bindparam("p_fetched"),
    )
)  # fmt: skip
_REFRESH_CLUES = Direct(  # the latest fetch of an article having them, for rows whose articles stay
    update(story_clues)
    .where(
        story_clues.c.story_id == bindparam("p_story"),
        story_clues.c.text == bindparam("p_text"),
        one_of(story_clues.c.clue, "p_clues"),
        story_clues.c.fetched_at < bindparam("p_fetched"),
    )
    .values(fetched_at=bindparam("p_fetched"))
)
_MERGE_ARTICLES = (
    update(articles).where(articles.c.story_id == bindparam("absorbed")).values(story_id=bindparam("into"))
)
_MOVE_CLUES = (
    update(story_clues)
    .where(story_clues.c.story_id == bindparam("absorbed"))
    .values(story_id=bindparam("into"))
)
_taken = outbox.alias("taken")
_MOVE_ALERTS = (  # to the absorbing story, for each chat that has no alert there
    update(outbox)
    .where(
        outbox.c.story_id == bindparam("absorbed"),
        outbox.c.subscription_id.not_in(
            select(_taken.c.subscription_id).where(_taken.c.story_id == bindparam("into"))
        ),
    )
    .values(story_id=bindparam("into"))
)
_DROP_ALERTS = (  # the chat has the event's alert already: the absorbed story's, if not yet sent, goes
    update(outbox)
    .where(outbox.c.story_id == bindparam("absorbed"), outbox.c.status == "pending")
    .values(status="merged", claimed_until=None)
)
_SHOW_FACE = Direct(
    update(outbox)
    .where(outbox.c.story_id == bindparam("story"), outbox.c.article_id != bindparam("face"))
    .values(article_id=bindparam("face"))
)
_EDIT_AGAIN = Direct(  # an outlet, a better face or another story joined: edit the alerts already sent
    update(outbox)
    .where(one_of(outbox.c.story_id, "stories"), outbox.c.status == "sent", outbox.c.message_id.is_not(None))
    .values(status="pending", next_attempt_at=bindparam("now"), attempts=0)
)
