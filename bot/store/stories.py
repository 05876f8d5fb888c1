"""Story rows: what the story decider is given (the stories a poll's articles may join, recent term
counts), and its plan written down. Which story an article joins is decided by the decider, not here.

Merged stories: the absorbing story's alerts stay; an alert of the absorbed story moves to it, unless the
chat already has one there: then it is dropped if not yet sent (status "merged": the chat hears of the
event through the alert it has, edited), and left as it is if sent (a message cannot be unsent).
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from bot.domain import NewStory, StoryArticle, StoryDecider, StoryKey, StoryPlan, TermCounts
from bot.store.rows import Direct, one_of
from bot.store.tables import articles, outbox, story_marks, term_census, term_counts

# Term counts are counted again (from the articles of the window) once they are a day old, or once more
# articles came since than they counted: often while a new database fills, then daily.
COUNTED_FOR = timedelta(days=1)


def plan_stories(
    conn: Connection, feed_id: int, new: Sequence[tuple[int, NewStory]], now: datetime, decider: StoryDecider
) -> StoryPlan:
    """The decider's plan for a poll's articles (stored, with these ids), written down."""
    since = now - decider.window
    terms = {term for _, story in new for term in (*story.key.title_terms, *story.key.lead_terms)}
    counts = _term_counts(conn, max(i for i, _ in new), since, now, terms)
    fresh = [
        StoryArticle(
            i, i, feed_id, _at(story.article.published_at, now), len(story.body), story.key,
            decider.index_terms(story.key, counts),
        )
        for i, story in new
    ]  # fmt: skip
    index = {a.id: a.index for a in fresh}
    known = _known(conn, fresh, index, since)
    plan = decider.decide(fresh, known, counts)
    _write(conn, plan, index, first=min(index), now=now)
    return plan


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


def _known(
    conn: Connection, new: Sequence[StoryArticle], index: dict[int, tuple[str, ...]], since: datetime
) -> list[StoryArticle]:
    """Every article of every story (but the new articles) that has, in the window, an article with one
    of their links, headlines or index terms."""
    params = {
        "first": min(a.id for a in new),
        "since": since,
        "urls": sorted({a.key.url for a in new if a.key.url}),
        "titles": sorted({a.key.title for a in new if a.key.title}),
        "marks": sorted({_mark(term) for terms in index.values() for term in terms}),
    }
    return [
        StoryArticle(
            i,
            story,
            feed,
            _at(published and _utc(published), _utc(fetched)),
            chars,
            _key(url, title, terms),
            tuple((index or "").split()),
        )
        for i, story, feed, published, fetched, chars, url, title, terms, index in _MEMBERS.rows(conn, params)
    ]


def _key(url: str | None, title: str | None, terms: str | None) -> StoryKey:
    title_terms, _, lead_terms = (terms or "").partition(" | ")
    return StoryKey(url or "", title or "", tuple(title_terms.split()), tuple(lead_terms.split()))


def _mark(term: str) -> int:
    return zlib.crc32(term.encode())


def _write(
    conn: Connection, plan: StoryPlan, index: dict[int, tuple[str, ...]], first: int, now: datetime
) -> None:
    _SET_STORY.run_many(
        conn, [{"article": a, "story": s, "index": " ".join(index[a])} for a, s in plan.stories.items()]
    )
    _INSERT_MARKS.run_many(
        conn, [{"mark": _mark(term), "article_id": a} for a, terms in index.items() for term in terms]
    )
    merges = [{"absorbed": absorbed, "into": into} for absorbed, into in plan.merged.items()]
    if merges:
        conn.execute(_MERGE_ARTICLES, merges)
        conn.execute(_MOVE_ALERTS, merges)
        conn.execute(_DROP_ALERTS, merges)
    # a story born in this poll has no alert yet
    _SHOW_FACE.run_many(conn, [{"story": s, "face": f} for s, f in plan.faces.items() if s < first])
    if plan.edited:
        _EDIT_AGAIN.run_many(conn, [{"stories": sorted(plan.edited), "now": now}])


_COUNTS = Direct(
    select(term_counts.c.term, term_counts.c.articles).where(one_of(term_counts.c.term, "terms"))
)
_INSERT_COUNT = Direct(insert(term_counts))
_near = articles.alias("near")
_MARKED = select(story_marks.c.article_id).where(one_of(story_marks.c.mark, "marks"))
_CENSUS = Direct(select(term_census.c.articles, term_census.c.last_article_id, term_census.c.counted_at))
_MEMBERS = Direct(
    select(
        articles.c.id, articles.c.story_id, articles.c.feed_id, articles.c.published_at,
        articles.c.fetched_at, func.length(articles.c.body).label("chars"), articles.c.story_url,
        articles.c.title_key, articles.c.story_terms, articles.c.index_terms,
    )
    .where(
        articles.c.id < bindparam("first"),
        articles.c.story_id.in_(
            select(_near.c.story_id).where(
                _near.c.id < bindparam("first"),
                _near.c.fetched_at >= bindparam("since"),
                or_(
                    one_of(_near.c.story_url, "urls"),
                    one_of(_near.c.title_key, "titles"),
                    _near.c.id.in_(_MARKED),
                ),
            )
        ),
    )
    .order_by(articles.c.id)
)  # fmt: skip
_SET_STORY = Direct(
    update(articles)
    .where(articles.c.id == bindparam("article"))
    .values(story_id=bindparam("story"), index_terms=bindparam("index"))
)
_INSERT_MARKS = Direct(insert(story_marks))
_MERGE_ARTICLES = (
    update(articles).where(articles.c.story_id == bindparam("absorbed")).values(story_id=bindparam("into"))
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
