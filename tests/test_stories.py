"""The story decider: one story per event whatever order the outlets come in, different events apart,
and the best article as the story's face. Table tests on articles written here, then the hand-labelled
events of the real feeds (tests/data/events.json) in every order of each cluster."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.dedupe import story_key
from bot.domain import StoryArticle, StoryKey, TermCounts
from bot.stories import EMBEDDED_INDEX_TERMS, INDEX_TERMS, Stories, face
from bot.summary import clean_body
from tests.data.events import CORPUS, feed_order, load_labels, parse_corpus_feed
from tests.data.wire_story import OUTLETS, SAME_TOPIC, WIRE

NOON = datetime(2026, 2, 17, 12, tzinfo=UTC)
STORIES = Stories()
# Ordinary news of the day: what makes "said" or "Tuesday" common, and a name rare.
BACKGROUND = [
    "Markets fell on Tuesday as investors weighed the central bank's next move, traders said.",
    "The storm made landfall on Tuesday, officials said, and thousands were left without power.",
    "The minister said on Tuesday that the government would present its budget next week.",
    "Police said on Tuesday they had arrested a man after a crash on the motorway.",
    "The company said its profits rose in the last quarter, beating analysts' forecasts.",
    "Voters in the region go to the polls on Sunday in an election seen as a test for the president.",
    "The court said on Monday it would hear the case next month, lawyers for both sides said.",
    "Farmers protested in the capital on Monday against new rules on water, the union said.",
    "The team won the final on Sunday after extra time, its coach said it was a fair result.",
    "Doctors warned on Monday that the flu season had started earlier than usual this year.",
    "The airline said on Tuesday that it would cut flights over the winter to save fuel.",
    "Scientists said on Monday they had found a new species of frog in the rainforest.",
] * 2


def keyed(title: str, body: str, link: str = "", feed_name: str = "") -> StoryKey:
    return story_key(link, title, body, feed_name)


def counts_of(keys: Sequence[StoryKey]) -> TermCounts:
    """What the store would count: in how many articles each term is."""
    return TermCounts(len(keys), Counter(t for k in keys for t in {*k.title_terms, *k.lead_terms}))


def article(
    i: int,
    key: StoryKey,
    feed: int | None = None,
    hours: float = 0,
    chars: int = 100,
    vector: tuple[float, ...] | None = None,
) -> StoryArticle:
    at = NOON + timedelta(hours=hours)
    return StoryArticle(i, i, i if feed is None else feed, at, chars, key, vector=vector)


def arrive(
    articles: Sequence[StoryArticle], counts: TermCounts, decider: Stories = STORIES
) -> dict[int, int]:
    """Each article's story when they come one by one in this order, ids given in arrival order (as the
    store gives them): the known articles are all those stored before."""
    stored: list[StoryArticle] = []
    for n, a in enumerate(articles, 1):
        mine = replace(a, id=n, story=n)
        plan = decider.decide([mine], stored, counts)
        stored = [replace(s, story=plan.merged.get(s.story, s.story)) for s in stored]
        stored.append(replace(mine, story=plan.stories[n]))
    original = [a.id for a in articles]
    return {original[s.id - 1]: s.story for s in stored}


def groups(stories: dict[int, int]) -> set[frozenset[int]]:
    found: dict[int, set[int]] = {}
    for article_id, story in stories.items():
        found.setdefault(story, set()).add(article_id)
    return {frozenset(g) for g in found.values()}


WIRE_KEYS = [keyed(title, body, link, name) for name, link, title, body in OUTLETS + SAME_TOPIC]
BACKGROUND_KEYS = [keyed("News", text) for text in BACKGROUND]
WIRE_COUNTS = counts_of(WIRE_KEYS + BACKGROUND_KEYS)


def test_five_outlets_of_one_wire_story_are_one_story_in_every_order_and_the_others_stay_apart():
    wire = [article(i, key) for i, key in enumerate(WIRE_KEYS, 1)]
    *outlets, nato, georgia = wire
    for order in itertools.permutations(outlets):
        order = (nato, *order, georgia) if order[0].id % 2 else (georgia, *order, nato)
        assert groups(arrive(order, WIRE_COUNTS)) == {
            frozenset({1, 2, 3, 4, 5}),
            frozenset({6}),
            frozenset({7}),
        }


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("Talks resume in Geneva", "a.test/x"), ("Another headline", "a.test/x"), True),  # the same page
        (
            ("Iran and US agree on principles at talks", ""),
            ("Iran and US agree on principles at talks", ""),
            True,
        ),
        (("Live updates", ""), ("Live updates", ""), False),  # a short, common headline says too little
    ],
)
def test_the_same_page_or_the_same_long_headline_is_one_story(a, b, same):
    first = article(1, keyed(a[0], BACKGROUND[0], a[1] and f"https://{a[1]}"))
    second = article(2, keyed(b[0], BACKGROUND[1], b[1] and f"https://{b[1]}"))
    generic = [keyed("Live updates", text) for text in BACKGROUND[:12]]  # a headline many articles have
    plan = STORIES.decide([second], [first], counts_of(WIRE_KEYS + generic + BACKGROUND_KEYS))
    assert (plan.stories[2] == 1) is same


def test_one_outlets_two_articles_with_alike_text_are_two_stories():
    """An outlet reports an event once; two of its articles alike (related links, a series) are not one."""
    text = "Peru's Congress voted to remove interim President José Jerí over a corruption probe."
    one = article(1, keyed("Peru's Congress ousts Jerí", text), feed=7)
    same_feed = article(2, keyed("Jerí removed by Congress in Peru", text), feed=7)
    other_feed = article(3, keyed("Jerí removed by Congress in Peru", text), feed=8)
    counts = counts_of([a.key for a in (one, same_feed, other_feed)] + BACKGROUND_KEYS)
    assert STORIES.decide([same_feed], [one], counts).stories[2] == 2
    assert STORIES.decide([other_feed], [one], counts).stories[3] == 1


def test_articles_further_apart_than_the_window_are_two_stories():
    text = "Peru's Congress voted to remove interim President José Jerí over a corruption probe."
    key = keyed("Peru's Congress ousts Jerí", text)
    assert STORIES.decide([article(2, key, hours=47)], [article(1, key)], WIRE_COUNTS).stories[2] == 1
    assert STORIES.decide([article(2, key, hours=49)], [article(1, key)], WIRE_COUNTS).stories[2] == 2
    longer = Stories(window=timedelta(hours=72))
    assert longer.decide([article(2, key, hours=49)], [article(1, key)], WIRE_COUNTS).stories[2] == 1


# A one-line item: its own headline and the wire text's first sentence (the Herald rewrites the rest).
ONE_LINE = keyed("NATO ministers back renewed Russia contacts", WIRE.split(". ")[0] + ".")
HERALD = WIRE_KEYS[4]


def test_a_one_line_item_joins_the_full_text_that_opens_with_the_same_news():
    """A feed's headline and first sentence meet as many words of the full text (its opening), not
    all the paragraphs the item never had."""
    thin, full = ONE_LINE, HERALD
    assert STORIES.decide([article(2, full)], [article(1, thin)], WIRE_COUNTS).stories == {2: 1}
    assert STORIES.decide([article(2, thin)], [article(1, full)], WIRE_COUNTS).stories == {2: 1}


def test_texts_alike_a_day_apart_are_two_stories_but_copies_still_join():
    """The same names a day later are mostly the next development: the further apart two articles
    were published, the more alike their texts must be to be one event."""
    thin = article(1, ONE_LINE)
    assert STORIES.decide([article(2, HERALD, hours=2)], [thin], WIRE_COUNTS).stories == {2: 1}
    assert STORIES.decide([article(2, HERALD, hours=24)], [thin], WIRE_COUNTS).stories == {2: 2}
    copy = article(2, WIRE_KEYS[1], hours=24)
    assert STORIES.decide([copy], [article(1, WIRE_KEYS[0])], WIRE_COUNTS).stories == {2: 1}


def test_an_article_that_links_two_stories_merges_them_into_the_older():
    page, copy = keyed("NATO agrees to resume contacts", "Short.", "https://a.test/x"), WIRE_KEYS[0]
    older = article(1, page)  # the page before it carried the wire text
    wire = article(2, copy)  # the wire text, elsewhere
    updated = article(3, keyed("NATO agrees to resume contacts", OUTLETS[0][3], "https://a.test/x"))
    plan = STORIES.decide([updated], [older, wire], WIRE_COUNTS)
    assert plan.stories == {3: 1} and plan.merged == {2: 1}
    assert plan.edited == {1}, "the older story's alerts are edited: another outlet joined"


def test_a_story_shows_a_full_text_over_a_thin_item_then_the_earliest():
    thin = article(1, WIRE_KEYS[0], chars=80, hours=0)
    full = article(2, WIRE_KEYS[1], chars=3000, hours=2)
    fuller_later = article(3, WIRE_KEYS[2], chars=5000, hours=3)
    assert face([thin, full, fuller_later]) == full
    assert face([thin, article(4, WIRE_KEYS[3], chars=90, hours=-1)]).id == 4, "both thin: the earliest"
    plan = STORIES.decide([full], [thin], WIRE_COUNTS)
    assert plan.faces == {1: 2} and plan.edited == {1}, "a better face: the alert is edited to show it"
    again = STORIES.decide(
        [fuller_later], [thin, StoryArticle(2, 1, 2, full.at, full.chars, full.key)], WIRE_COUNTS
    )
    assert again.faces == {1: 2}


def test_a_new_database_joins_copies_but_not_articles_that_share_only_common_words():
    """A new database has counted only its first poll's articles (the store counts a poll's own before
    it decides): every word weighs about alike, and texts sharing only "the", "on Tuesday" and "said"
    stay apart while copies join."""
    copies = [article(i, key) for i, key in enumerate(WIRE_KEYS[:2], 1)]
    storm = article(3, keyed("The storm made landfall on Tuesday", BACKGROUND[1]))
    markets = article(4, keyed("Markets fell on Tuesday", BACKGROUND[0]))
    first_poll = counts_of([a.key for a in (*copies, storm, markets)])
    assert STORIES.decide(copies[1:], copies[:1], first_poll).stories == {2: 1}
    assert STORIES.decide(copies[1:], copies[:1], TermCounts(0, {})).stories == {2: 1}, "none counted yet"
    assert STORIES.decide([markets], [storm], first_poll).stories == {4: 4}


# ---- embeddings (summary.llm.embeddings_model) ------------------------------------------------------------

EMBEDDED = Stories(embeddings_bar=0.77)
# Two outlets' own words for one event: a cosine of their words of 0.29, where one story takes 0.40.
ENVOY = keyed(
    "Zorvian envoy quits after a row with Quelland",
    "The envoy of Zorvia to Quelland quit on Tuesday after a row over the border, and the government in "
    "the capital said it would name a new one within the week.",
)
AMBASSADOR = keyed(
    "Mandrake steps down as Quelland ambassador",
    "Mandrake stepped down on Tuesday from the embassy in Quelland after a dispute about the frontier, and "
    "the ministry in the capital said it would pick a successor within the week.",
)
ENVOY_COUNTS = counts_of([ENVOY, AMBASSADOR, *BACKGROUND_KEYS])
# Made-up embeddings: two alike (a cosine of 0.99), and another event's (0.04 with the first).
ALIKE, ALSO_ALIKE, UNLIKE = (1.0, 0.2, 0.0), (0.9, 0.3, 0.1), (0.0, 0.2, 1.0)


@pytest.mark.parametrize(
    ("decider", "second", "same"),
    [
        (EMBEDDED, {"vector": ALSO_ALIKE}, True),  # alike embeddings: one story, however worded
        (STORIES, {"vector": ALSO_ALIKE}, False),  # embeddings off: the words alone decide
        (EMBEDDED, {"vector": UNLIKE}, False),
        (EMBEDDED, {}, False),  # one has no embedding (the endpoint failed): the words alone decide
        (EMBEDDED, {"vector": ALSO_ALIKE, "feed": 1}, False),  # one outlet's two articles
        (EMBEDDED, {"vector": ALSO_ALIKE, "hours": 49}, False),  # further apart than the window
        (EMBEDDED, {"vector": ALSO_ALIKE, "hours": 47}, True),  # within it: the bar does not rise
    ],
)
def test_alike_embeddings_join_two_reports_of_two_outlets_within_the_window(decider, second, same):
    envoy = article(1, ENVOY, feed=1, vector=ALIKE)
    ambassador = article(2, AMBASSADOR, **{"feed": 2, **second})
    for stored, new in [(envoy, ambassador), (ambassador, envoy)]:  # either one first
        plan = decider.decide([replace(new, id=2, story=2)], [replace(stored, id=1, story=1)], ENVOY_COUNTS)
        assert plan.stories[2] == (1 if same else 2)


def test_stories_joined_by_embeddings_are_the_same_in_every_arrival_order():
    copy = keyed("Zorvian envoy quits after a row with Quelland", "The envoy of Zorvia quit on Tuesday.")
    reports = [
        article(1, ENVOY, vector=ALIKE),
        article(2, AMBASSADOR, vector=ALSO_ALIKE, hours=3),
        article(3, copy, hours=5),  # no embedding: joins the first by its headline
        article(4, keyed("Quelland elects a new parliament", BACKGROUND[5]), vector=UNLIKE),
    ]
    counts = counts_of([a.key for a in reports] + BACKGROUND_KEYS)
    for order in itertools.permutations(reports):
        assert groups(arrive(order, counts, EMBEDDED)) == {frozenset({1, 2, 3}), frozenset({4})}


def test_an_embedded_article_is_found_through_more_of_its_words():
    """Reports worded apart share few of their heaviest words: with an embedding, an article's
    EMBEDDED_INDEX_TERMS terms are looked up, and a report sharing only a lesser word is compared."""
    envoy = keyed(
        "Zorvian envoy Mandrake quits Tarsk mission over vetoed frontier treaty",
        "Officials in Quelland confirmed the departure on Tuesday.",
    )
    counts = counts_of([envoy, AMBASSADOR, *BACKGROUND_KEYS])
    assert "quelland" not in EMBEDDED.index_terms(envoy, counts), f"not of its {INDEX_TERMS} heaviest"
    assert "quelland" in EMBEDDED.index_terms(envoy, counts, embedded=True), f"of {EMBEDDED_INDEX_TERMS}"
    first, new = article(1, envoy, vector=ALIKE), article(2, AMBASSADOR, vector=ALSO_ALIKE)
    assert EMBEDDED.decide([new], [first], counts).stories == {2: 1}
    assert STORIES.decide([new], [first], counts).stories == {2: 2}


# ---- the labelled events of the real feeds -----------------------------------------------------------------


@pytest.fixture(scope="module")
def labelled() -> tuple[list[StoryArticle], list[str], list[tuple[int, int]], TermCounts]:
    """The labelled articles as the pipeline keys them, their events, the hard negative pairs, and the
    corpus's term counts (what the store would count after a day of these feeds)."""
    if not CORPUS.is_dir():
        pytest.skip(f"no feed corpus at {CORPUS}")
    names = {}
    counted: list[StoryKey] = []
    for feed in feed_order():
        for a in parse_corpus_feed(feed):
            counted.append(story_key(a.link, a.title, clean_body(a.title, a.text), feed))
        names[feed] = feed
    labels = load_labels()
    feeds = {feed: i for i, feed in enumerate(names)}
    now = datetime(2026, 2, 18, 12, tzinfo=UTC)
    pieces = []
    for i, lab in enumerate(labels.articles, 1):
        a = lab.article
        body = clean_body(a.title, a.text)
        at = min(a.published_at, now) if a.published_at else now
        key = story_key(a.link, a.title, body, lab.feed)
        pieces.append(StoryArticle(i, i, feeds[lab.feed], at, len(body), key))
    events = [lab.event for lab in labels.articles]
    return pieces, events, labels.hard_negatives, counts_of(counted)


def orders(members: list[int], rng: random.Random) -> list[tuple[int, ...]]:
    """Every order of a cluster of up to six articles; for a larger one, every article first and last
    and 300 seeded shuffles (ten articles have 3.6 million orders)."""
    if len(members) <= 6:
        return list(itertools.permutations(members))
    found = [tuple(members), tuple(reversed(members))]
    for m in members:
        rest = [x for x in members if x != m]
        found += [(m, *rest), (*rest, m)]
    return found + [tuple(rng.sample(members, len(members))) for _ in range(300)]


def test_each_labelled_event_makes_the_same_stories_in_every_arrival_order(labelled):
    pieces, events, _, counts = labelled
    rng = random.Random(19)
    by_event: dict[str, list[int]] = {}
    for i, event in enumerate(events):
        by_event.setdefault(event, []).append(i)
    for event, members in by_event.items():
        if len(members) < 2:
            continue
        results = {
            frozenset(groups(arrive([pieces[i] for i in order], counts))) for order in orders(members, rng)
        }
        assert len(results) == 1, f"{event}: the stories depend on the order"


def test_the_issues_events_are_one_story_each_and_hard_negatives_stay_apart(labelled):
    pieces, events, negatives, counts = labelled
    stories = arrive(pieces, counts)
    for event in ("peru-congress-removes-jeri", "jesse-jackson-dies", "taylor-swift-plot-charges"):
        members = [pieces[i].id for i, e in enumerate(events) if e == event]
        assert len({stories[m] for m in members}) == 1, f"{event}: one alert, not one per outlet"
    merged = [(i, j) for i, j in negatives if stories[pieces[i].id] == stories[pieces[j].id]]
    assert len(merged) <= 1, "same names, different events: different alerts"
