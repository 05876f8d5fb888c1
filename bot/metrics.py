"""What the bot has done, as Prometheus metrics, served at /metrics by prometheus-client.

Per process and in memory, like Prometheus expects: each replica is scraped on its own. Each Metrics
has a registry of its own, not the library's global one, so two Apps in one process (tests, benches)
count apart. What the database holds (the outbox, its size, the last backup) is read at each scrape.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.store.backup import database_size, last_backup, sqlite_file

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger(__name__)

# No *_created series beside each counter and histogram: the names served are the ones below.
disable_created_metrics()

LATENCY_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 21600, 86400)  # seconds
READ_TIMEOUT = 5.0  # seconds the database has to answer a scrape; past that its gauges are left out

COUNTERS = {  # name -> what it counts, its labels
    "newsalert_alerts_delivered_total": ("Alert messages the chat app accepted, per channel.", ("channel",)),
    "newsalert_alerts_retried_total": ("Alert sends that will be tried again, per channel.", ("channel",)),
    "newsalert_alerts_failed_total": ("Alert sends refused for good (chat gone), per channel.", ("channel",)),
    "newsalert_feeds_polled_total": ("Feed polls, per outcome (ok, failed).", ("outcome",)),
    "newsalert_articles_seen_total": ("New articles stored.", ()),
    "newsalert_matches_total": ("Alerts queued (a story matching a chat's rules).", ()),
    "newsalert_rows_pruned_total": ("Rows deleted by retention, per table.", ("table",)),
}
HISTOGRAMS = {
    "newsalert_delivery_latency_seconds": (
        "From a story's publication to its alert's delivery.",
        ("channel",),
    ),
    "newsalert_poll_duration_seconds": ("How long one feed's poll took, end to end.", ()),
}
GAUGES = {  # read from the database and its files at each scrape
    "newsalert_outbox_depth": "Alerts waiting to be sent.",
    "newsalert_database_size_bytes": (
        "Bytes the database takes: the SQLite file and its -wal, or PostgreSQL's pg_database_size."
    ),
    "newsalert_last_backup_timestamp_seconds": (
        "When the last `newsalert db backup` was taken (Unix time); absent before the first one, "
        "and on PostgreSQL (pg_dump tells the bot nothing)."
    ),
}


class Metrics:
    """This process's counters and histograms, in a registry of its own, and the gauges read at each
    scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        into = self.registry
        self._metrics: dict[str, Counter | Histogram] = {
            name: Counter(name, text, labels, registry=into) for name, (text, labels) in COUNTERS.items()
        }
        for name, (text, labels) in HISTOGRAMS.items():
            self._metrics[name] = Histogram(name, text, labels, buckets=LATENCY_BUCKETS, registry=into)
        self._gauges = _Gauges()
        self.registry.register(self._gauges)

    def add(self, name: str, amount: float = 1, **labels: str) -> None:
        """Count amount more of a counter (COUNTERS), with its labels."""
        counter = self._metrics[name]
        assert isinstance(counter, Counter), name
        (counter.labels(**labels) if labels else counter).inc(amount)

    def observe(self, name: str, value: float, **labels: str) -> None:
        """One more value of a histogram (HISTOGRAMS), with its labels."""
        histogram = self._metrics[name]
        assert isinstance(histogram, Histogram), name
        (histogram.labels(**labels) if labels else histogram).observe(value)

    def pruned(self, table: str, rows: int) -> None:
        """Retention deleted this many rows of a table: newsalert_rows_pruned_total{table=...}."""
        self.add("newsalert_rows_pruned_total", rows, table=table)

    async def scrape(self, store: Store) -> str:
        """The text /metrics serves: what this process counted, and the database as it is now. A
        database that does not answer leaves its gauges out; the counters are served all the same."""
        values: dict[str, float] = {}
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                values["newsalert_outbox_depth"] = (await store.count_outbox()).get("pending", 0)
                size = await database_size(store)
            if size is not None:
                values["newsalert_database_size_bytes"] = size
        except Exception as error:  # /healthz says what is wrong with the database
            log.debug("/metrics without the database's gauges: %s", error)
        path = sqlite_file(store.engine.url)
        taken = last_backup(path) if path else None
        if taken:
            values["newsalert_last_backup_timestamp_seconds"] = taken.timestamp()
        self._gauges.values = values
        return generate_latest(self.registry).decode()


class _Gauges(Collector):
    """GAUGES as last read: one without a value is served without a sample (never a made-up 0)."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return (GaugeMetricFamily(name, text) for name, text in GAUGES.items())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        values = self.values
        for name, text in GAUGES.items():
            family = GaugeMetricFamily(name, text)
            if name in values:
                family.add_metric([], values[name])
            yield family
