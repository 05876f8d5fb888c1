"""The store's story step gives the decider only the articles that decide (store/stories._known): its plan
is the plan from every article of the stories found (_every_member, the plain path), on seeded random
arrivals (with and without embeddings) and on every article of the real feeds; and a story carried by many
outlets costs its next copy a few articles, not one per outlet."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import delete, insert, select, update

from bot.dedupe import story_key
from bot.domain import Article, Embedding, Feed, FeedUpdate, NewStory, StoryDecider, StoryPlan
from bot.store import MIGRATIONS, Store
from bot.store import stories as store_stories
from bot.store.tables import articles
from bot.stories import Stories
from bot.summary import clean_body
from bot.summary.embeddings import text_hash
from tests.data.events import CORPUS, feed_order, parse_corpus_feed

START = datetime(2026, 3, 1, 12, tzinfo=UTC)
DECIDER = Stories()
EMBEDDED = Stories(embeddings_bar=0.77)


async def feeds(store: Store, count: int) -> None:
    every = [Feed(0, f"file:///feed{n}.xml", f"Feed {n}", timedelta(minutes=5), None) for n in range(count)]
    await store.sync_config_feeds(every, START)


async def poll(
    store: Store, feed_id: int, new: Sequence[NewStory], now: datetime, decider: StoryDecider = DECIDER
) -> tuple[StoryPlan, int]:
    """One poll's articles stored and their stories planned both ways; the fast plan written down (as
    plan_stories does). Returns the plan and how many stored articles the fast path gave the decider."""

    def work(conn) -> tuple[StoryPlan, int]:
        rows = [
            {
                "feed_id": feed_id, "identity": s.article.identity, "guid": s.article.guid,
                "link": s.article.link, "content_hash": s.article.content_hash, "title": s.article.title,
                "body": s.body, "summary": s.summary, "published_at": s.article.published_at,
                "fetched_at": now, "story_url": s.key.url, "title_key": s.key.title,
                "story_terms": store_stories._story_terms(s.key),
            }
            for s in new
        ]  # fmt: skip
        stored = insert(articles).returning(articles.c.id, sort_by_parameter_order=True)
        ids = conn.execute(stored, rows).scalars().all()
        arrived = [*zip(ids, new, strict=True)]
        fresh, counts, since = store_stories._arrivals(conn, feed_id, arrived, now, decider)
        model = store_stories._model(arrived)
        every = decider.decide(fresh, store_stories._every_member(conn, fresh, since, model), counts)
        known, clues, faces = store_stories._known(conn, fresh, since, model)
        plan = decider.decide(fresh, known, counts)
        assert plan == every, f"poll at {now}: the fast path's plan differs from every article's"
        store_stories._write(conn, plan, fresh, clues, faces, now)
        store_stories._keep_vectors(conn, arrived)
        return plan, len(known)

    return await store._run(work, write=True)  # the transaction a poll's save runs in


def new_story(
    n: int,
    title: str,
    body: str,
    link: str,
    published: datetime | None,
    feed: str,
    embedding: Embedding | None = None,
) -> NewStory:
    article = Article(title, link, f"g{n}", body, published, f"h{n}")
    return NewStory(article, body, body[:80], (), story_key(link, title, body, feed), link, embedding)


# Made-up names (rare words) for each event, and ordinary words every text has.
STEMS = ("zorv", "quel", "mandr", "tesk", "vobl", "grin")
EVENT_WORDS = [[f"{stem}{k}" for k in "abcdefgh"] for stem in STEMS]
COMMON = "said the on a in of to and officials tuesday government week report police city year".split()


def random_text(rng: random.Random, event: list[str], words: int) -> str:
    picked = rng.sample(event, rng.randint(2, 6)) + rng.choices(COMMON, k=words)
    rng.shuffle(picked)
    return " ".join(picked).capitalize() + "."


@pytest.mark.parametrize("embedded", [False, True], ids=["words", "embeddings"])
@pytest.mark.parametrize("seed", range(20))
async def test_the_fast_path_plans_as_every_article_would_on_random_arrivals(store, seed, embedded):
    """Outlets report six events in turns over days, with wire copies (one text, one headline, many
    feeds), rewrites of them, shared pages, thin items and full texts, some published days before they
    are fetched. Every poll's plan is compared (in `poll`). With embeddings: a copy has its wire text's
    vector, any other article its event's give or take (about as many above the bar as below), some none
    (the endpoint failed), and some polls another model's."""
    rng = random.Random(seed)
    await feeds(store, 6)
    decider = EMBEDDED if embedded else DECIDER
    events = [[rng.gauss(0, 1) for _ in range(8)] for _ in EVENT_WORDS]

    def embedding(event: int, model: str) -> Embedding | None:
        if not embedded or rng.random() < 0.1:
            return None
        vector = tuple(x + rng.gauss(0, 0.9) for x in events[event])
        return Embedding(model, text_hash(model, str(vector)), vector)

    wires: list[tuple[str, str, int, Embedding | None]] = []  # (headline, text, event, embedding) copied
    now, n, plans = START, 0, []
    for _ in range(40):
        now += timedelta(hours=rng.choice([0.1, 1, 3, 8, 20]))
        feed = rng.randint(1, 6)
        model = "mini" if rng.random() < 0.85 else "other"
        batch = []
        for _ in range(rng.randint(1, 4)):
            n += 1
            if wires and rng.random() < 0.4:
                title, body, event, vector = rng.choice(wires)
                vector = vector if vector and vector.model == model else embedding(event, model)
            elif wires and rng.random() < 0.4:  # a rewrite: its own headline, a third of the words changed
                _, body, event, _ = rng.choice(wires)
                title = random_text(rng, EVENT_WORDS[event], rng.randint(1, 5)).rstrip(".")
                body = " ".join(w if rng.random() < 0.67 else rng.choice(COMMON) for w in body.split())
                vector = embedding(event, model)
            else:
                event = rng.randrange(len(EVENT_WORDS))
                title = random_text(rng, EVENT_WORDS[event], rng.randint(1, 5)).rstrip(".")
                body = " ".join(random_text(rng, EVENT_WORDS[event], 10) for _ in range(rng.randint(1, 12)))
                vector = embedding(event, model)
                if rng.random() < 0.5:
                    wires.append((title, body, event, vector))
            link = f"https://site{feed}.test/{n}" if rng.random() < 0.8 else f"https://wire.test/{event}"
            published = now - timedelta(hours=rng.choice([1, 1, 10, 100]) * rng.random())
            published = published if rng.random() < 0.9 else None
            batch.append(new_story(n, title, body, link, published, f"Feed {feed}", vector))
        plans.append((await poll(store, feed, batch, now, decider))[0])
    assert any(plan.merged for plan in plans) or seed, "some arrivals merge stories (seed 0 does)"
    assert sum(len(set(plan.stories.values()) - set(plan.stories)) for plan in plans) > 10, "joins happen"


async def test_a_wire_story_in_many_outlets_costs_its_next_copy_a_few_articles(store):
    body = " ".join(random_text(random.Random(1), EVENT_WORDS[0], 12) for _ in range(8))
    title = "Zorva and quelb agree on the terms of a ceasefire"
    await feeds(store, 120)
    given = []
    for n in range(1, 121):
        copy = new_story(n, title, body, f"https://outlet{n}.test/ceasefire", START, f"Feed {n}")
        plan, known = await poll(store, n, [copy], START + timedelta(minutes=n))
        assert plan.stories[n] == 1, "every copy joins the first outlet's story"
        given.append(known)
    assert max(given) <= 3, "the story's face, its latest copy, and the latest from another outlet at most"


async def test_an_outlets_rewrite_joins_through_another_outlets_copy_of_the_wire_text(store):
    """The story's face and latest copy of the wire text are the outlet's own, which its own rewrite may
    not join by text alone: the latest copy from another outlet decides."""
    body = " ".join(random_text(random.Random(3), EVENT_WORDS[2], 12) for _ in range(8))
    title = "Mandra and teskb close the border crossing for the winter"
    await feeds(store, 2)
    for n, (feed, minutes) in enumerate([(1, 0), (2, 5), (1, 10)], 1):
        at = START + timedelta(minutes=minutes)
        copy = new_story(n, title, body, f"https://outlet{feed}.test/border/{n}", at, f"Feed {feed}")
        await poll(store, feed, [copy], at)
    shut = "Mandra and teskb shut the border crossing"
    later = START + timedelta(minutes=20)
    rewrite = new_story(4, shut, body, "https://outlet1.test/shut", later, "Feed 1")
    plan, _ = await poll(store, 1, [rewrite], later)
    assert plan.stories == {4: 1}, "the rewrite joins the wire story through the other outlet's copy"


async def test_copies_of_one_text_with_different_embeddings_are_each_compared(store):
    """Copies of one headline and lead may have different embeddings (their texts differ further on): a
    report alike only a middle copy joins through it, though the story's face is the first copy and its
    latest copy another."""
    await feeds(store, 4)
    title = "Zorvian envoy quits after a row with Quelland"
    body = "The envoy of Zorvia to Quelland quit on Tuesday after a row over the border, officials said."
    unlike, alike = (0.0, 0.2, 1.0), (1.0, 0.2, 0.0)
    for n, vector in enumerate([unlike, alike, unlike], 1):
        at = START + timedelta(hours=n)
        copy = new_story(
            n, title, body, f"https://outlet{n}.test/envoy", at, f"Feed {n}", Embedding("m", f"{n}", vector)
        )
        await poll(store, n, [copy], at, EMBEDDED)
    at = START + timedelta(hours=4)
    ambassador = Embedding("m", "4", (0.9, 0.3, 0.1))
    report = new_story(
        4, "Mandrake steps down as Quelland ambassador", "Mandrake stepped down from the embassy in "
        "Quelland on Tuesday after a dispute about the frontier, the ministry said.",
        "https://outlet4.test/envoy", at, "Feed 4", ambassador,
    )  # fmt: skip
    plan, _ = await poll(store, 4, [report], at, EMBEDDED)
    assert plan.stories == {4: 1}, "one story, through the second copy's embedding"


async def test_an_articles_embedding_goes_with_it(store):
    """Pruning deletes article rows (retention): their vectors go with them (the foreign key cascades), and
    the cache no longer finds them."""
    await feeds(store, 2)
    kept = [Embedding("m", text_hash("m", str(n)), (1.0, float(n))) for n in (1, 2)]
    for n, embedding in enumerate(kept, 1):
        story = new_story(
            n, f"Zorvan report {n}", "Quelb said.", f"https://a.test/{n}", START, "Feed 1", embedding
        )
        await poll(store, 1, [story], START, EMBEDDED)
    hashes = [e.text_hash for e in kept]
    assert set(await store.cached_embeddings(hashes)) == set(hashes)
    await store._run(lambda conn: conn.execute(delete(articles).where(articles.c.id == 1)), write=True)
    assert list(await store.cached_embeddings(hashes)) == [kept[1].text_hash]


async def test_stories_stored_before_0010_are_found_and_joined_after_the_upgrade(database_url):
    """Migration 0010 fills story_clues from the stored articles: a copy arriving after the upgrade joins
    the story its outlets made before it (that story has no face kept yet: it is given whole)."""
    store = Store.open(database_url)
    try:
        await store._run(partial(_upgrade_to, "0009"), write=True)
        await feeds(store, 3)
        body = " ".join(random_text(random.Random(2), EVENT_WORDS[1], 12) for _ in range(8))
        title = "Quela and mandrb sign the river treaty in the capital"
        copies = [
            new_story(n, title, body, f"https://outlet{n}.test/treaty", START, f"Feed {n}") for n in (1, 2)
        ]

        def before_0010(conn) -> int:
            ids = [
                conn.execute(
                    insert(articles).returning(articles.c.id).values(
                        feed_id=n, identity=copy.article.identity, link=copy.link,
                        content_hash=copy.article.content_hash, title=title, body=body, summary="",
                        published_at=START, fetched_at=START, story_url=copy.key.url,
                        title_key=copy.key.title, story_terms=store_stories._story_terms(copy.key),
                        index_terms="quelab treati",
                    )
                ).scalar_one()
                for n, copy in enumerate(copies, 1)
            ]  # fmt: skip
            conn.execute(update(articles).values(story_id=ids[0]))
            return ids[0]

        story = await store._run(before_0010, write=True)
        await store.upgrade()
        third = new_story(3, title, body, "https://outlet3.test/treaty", START, "Feed 3")
        plan, _ = await poll(store, 3, [third], START + timedelta(hours=1))
        assert set(plan.stories.values()) == {story}, "the third outlet joins the stored story"
        assert plan.edited == {story}, "its alerts would be edited: an outlet joined"
    finally:
        await store.close()


def _upgrade_to(revision: str, conn) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no feed corpus at {CORPUS}")
async def test_the_fast_path_plans_as_every_article_would_on_the_real_feeds(store):
    """Every article of the saved feeds (the labelled events among them), a poll a feed, as the quality
    bench has them arrive."""
    names = feed_order()
    await feeds(store, len(names))
    now = datetime(2026, 2, 18, 12, tzinfo=UTC)
    n = 0
    for feed_id, name in enumerate(names, 1):
        batch = []
        for a in parse_corpus_feed(name):
            n += 1
            body = clean_body(a.title, a.text)
            article = Article(a.title, a.link, f"g{n}", a.text, a.published_at, f"h{n}")
            key = story_key(a.link, a.title, body, name)
            batch.append(NewStory(article, body, body[:80], (), key, a.link))
        if batch:
            await poll(store, feed_id, batch, now)


ENVOY = (  # two outlets' own words for one event; the first has many words every article has
    "Zorvian envoy quits after Quelland row",
    "Zorvian envoy Mandrake quit on Tuesday after a row with Quelland, officials said, the government "
    "said in a report, police in the city said this week",
    "Mandrake resigns as Zorvian envoy to Quelland",
    "Mandrake, the Zorvian envoy to Quelland, resigned after a row",
)


@pytest.mark.parametrize("first", [1, 2])
async def test_two_reports_join_in_either_order_with_every_word_weighed_as_common_as_it_is(store, first):
    """A stored article's words weigh by the store's counts whichever article came first: its common
    words (in every filler article here) must not weigh as if in no article when the other arrives.
    Published 35 hours apart, they need a cosine of 0.575: they have 0.58 and 0.61 (by the counts when
    each arrives), and had 0.52 and 0.57 while the stored one's own words weighed as the rarest."""
    await feeds(store, 3)
    fill = "Officials said on Tuesday the government report in the city, police said this week with a note"
    at = START
    for n in range(60):
        filler = new_story(n, f"Filler story number {n}", fill, f"https://filler.test/{n}", at, "Feed 3")
        await store.save_poll(_feed(3), [filler], _state(at), at, DECIDER)
    reports = {
        1: new_story(101, ENVOY[0], ENVOY[1], "https://one.test/envoy", START, "Feed 1"),
        2: new_story(
            102, ENVOY[2], ENVOY[3], "https://two.test/envoy", START + timedelta(hours=35), "Feed 2"
        ),
    }
    for feed_id in (first, 3 - first):
        now = START + timedelta(hours=40, minutes=feed_id)
        await store.save_poll(_feed(feed_id), [reports[feed_id]], _state(now), now, DECIDER)
    stories = await store._run(lambda conn: conn.execute(select(articles.c.story_id).where(
        articles.c.feed_id.in_([1, 2]))).scalars().all())  # fmt: skip
    assert len(set(stories)) == 1, "one story, whichever outlet came first"


def _feed(feed_id: int) -> Feed:
    return Feed(feed_id, f"file:///feed{feed_id - 1}.xml", f"Feed {feed_id - 1}", timedelta(minutes=5), None)


def _state(now: datetime) -> FeedUpdate:
    return FeedUpdate(None, None, None, now, "")
