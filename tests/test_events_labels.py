"""The hand-labelled events (tests/data/events.json) are well-formed and name real corpus articles."""

from collections import Counter

import pytest

from tests.data.events import CORPUS, feed_order, load_labels, parse_corpus_feed, read_events, ref_id

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no feed corpus at {CORPUS}")
EVENTS = read_events()
CLUSTERED = [ref_id(ref) for cluster in EVENTS["clusters"] for ref in cluster["articles"]]


def test_there_are_enough_labels_to_measure_story_decisions():
    assert len(EVENTS["clusters"]) >= 15
    assert len(CLUSTERED) >= 40
    assert len(EVENTS["hard_negatives"]) >= 30


def test_each_cluster_is_one_named_event_from_several_outlets_with_its_reason():
    names = Counter(cluster["event"] for cluster in EVENTS["clusters"])
    assert [name for name, n in names.items() if n > 1] == []
    for cluster in EVENTS["clusters"]:
        assert len(cluster["articles"]) >= 2, cluster["event"]
        assert len({ref["feed"] for ref in cluster["articles"]}) >= 2, f"{cluster['event']}: one outlet"
        assert len(cluster["notes"]) > 40, f"{cluster['event']}: say why these are one event"


def test_no_article_is_in_two_clusters():
    assert [key for key, n in Counter(CLUSTERED).items() if n > 1] == []


def test_each_hard_negative_is_two_articles_of_different_events_with_its_reason():
    event_of = {ref_id(ref): c["event"] for c in EVENTS["clusters"] for ref in c["articles"]}
    pairs = [tuple(sorted(map(ref_id, negative["pair"]))) for negative in EVENTS["hard_negatives"]]
    assert [pair for pair, n in Counter(pairs).items() if n > 1] == []
    for negative in EVENTS["hard_negatives"]:
        a, b = map(ref_id, negative["pair"])
        assert a != b
        assert a not in event_of or event_of.get(a) != event_of.get(b), negative["notes"]
        assert len(negative["notes"]) > 20, f"{a} / {b}: say why these are different events"


@needs_corpus
def test_every_reference_names_an_article_of_its_feed_with_the_title_given():
    labels = load_labels()  # raises, naming each reference not found
    refs = [ref for c in EVENTS["clusters"] for ref in c["articles"]]
    refs += [ref for negative in EVENTS["hard_negatives"] for ref in negative["pair"]]
    titles = {(lab.feed, lab.article.guid or lab.article.link): lab.article.title for lab in labels.articles}
    wrong = [ref for ref in refs if titles[ref["feed"], ref.get("guid") or ref["link"]] != ref["title"]]
    assert wrong == []
    assert len(labels.articles) == len(set(CLUSTERED) | {ref_id(r) for r in refs})


@needs_corpus
def test_labelled_articles_come_out_in_the_order_the_feeds_list_them():
    labels = load_labels()
    feeds = [lab.feed for lab in labels.articles]
    first = {feed: feeds.index(feed) for feed in feeds}
    assert feeds == sorted(feeds, key=first.__getitem__)  # each feed's articles together
    assert list(first) == [feed for feed in feed_order() if feed in first]
    for feed in first:
        articles = parse_corpus_feed(feed)
        places = [articles.index(lab.article) for lab in labels.articles if lab.feed == feed]
        assert places == sorted(places), feed
