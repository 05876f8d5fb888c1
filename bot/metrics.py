"""What the bot has done, as counters and histograms, served at /metrics in Prometheus' text format.

Per process and in memory, like Prometheus expects: each replica is scraped on its own.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

LATENCY_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 21600, 86400)  # seconds

HELP = {
    "newsalert_alerts_delivered_total": ("counter", "Alert messages the chat app accepted, per channel."),
    "newsalert_alerts_retried_total": ("counter", "Alert sends that will be tried again, per channel."),
    "newsalert_alerts_failed_total": ("counter", "Alert sends refused for good (chat gone), per channel."),
    "newsalert_delivery_latency_seconds": (
        "histogram",
        "From a story's publication to its alert's delivery.",
    ),
    "newsalert_feeds_polled_total": ("counter", "Feed polls, per outcome (ok, failed)."),
    "newsalert_poll_duration_seconds": ("histogram", "How long one feed's poll took, end to end."),
    "newsalert_articles_seen_total": ("counter", "New articles stored."),
    "newsalert_matches_total": ("counter", "Alerts queued (a story matching a chat's rules)."),
    "newsalert_outbox_depth": ("gauge", "Alerts waiting to be sent."),
}

Labels = tuple[tuple[str, str], ...]


@dataclass
class Histogram:
    counts: list[int] = field(
        default_factory=lambda: [0] * len(LATENCY_BUCKETS)
    )  # per bucket, not cumulative
    total: int = 0
    sum: float = 0.0


@dataclass
class Metrics:
    values: dict[tuple[str, Labels], float] = field(default_factory=lambda: defaultdict(float))
    histograms: dict[tuple[str, Labels], Histogram] = field(default_factory=dict)

    def add(self, name: str, amount: float = 1, **labels: str) -> None:
        self.values[(name, tuple(sorted(labels.items())))] += amount

    def set(self, name: str, value: float, **labels: str) -> None:
        self.values[(name, tuple(sorted(labels.items())))] = value

    def observe(self, name: str, value: float, **labels: str) -> None:
        histogram = self.histograms.setdefault((name, tuple(sorted(labels.items()))), Histogram())
        for i, bound in enumerate(LATENCY_BUCKETS):
            if value <= bound:
                histogram.counts[i] += 1
                break
        histogram.total += 1
        histogram.sum += value


def _labels(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = [*labels, *extra]
    inner = ",".join(f'{k}="{v}"'.replace("\n", " ") for k, v in pairs)
    return "{" + inner + "}" if pairs else ""


def render(metrics: Metrics) -> str:
    """The Prometheus text exposition format."""
    lines = []
    for name, (kind, text) in HELP.items():
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
        for (metric, labels), value in sorted(metrics.values.items()):
            if metric == name:
                lines.append(f"{name}{_labels(labels)} {value:g}")
        for (metric, labels), histogram in sorted(metrics.histograms.items()):
            if metric == name:
                cumulative = 0
                for bound, count in zip(LATENCY_BUCKETS, histogram.counts, strict=True):
                    cumulative += count
                    lines.append(f"{name}_bucket{_labels(labels, (('le', str(bound)),))} {cumulative}")
                lines.append(f"{name}_bucket{_labels(labels, (('le', '+Inf'),))} {histogram.total}")
                lines.append(f"{name}_sum{_labels(labels)} {histogram.sum:g}")
                lines.append(f"{name}_count{_labels(labels)} {histogram.total}")
    return "\n".join(lines) + "\n"
