"""/metrics as Prometheus scrapes it, through prometheus-client: the database's size, the rows
retention pruned and the last backup beside what the bot counted; each App on a registry of its own;
and the Grafana dashboard in docs/ asks only for metrics /metrics serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aiohttp import ClientSession
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from bot.store.backup import back_up
from bot.web import build_web_app, start_web
from tests.conftest import ROOT

DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"
SHOWN = {  # what an operator must see on the dashboard
    "newsalert_feeds_polled_total", "newsalert_alerts_delivered_total", "newsalert_alerts_failed_total",
    "newsalert_outbox_depth", "newsalert_delivery_latency_seconds", "newsalert_database_size_bytes",
    "newsalert_rows_pruned_total", "newsalert_last_backup_timestamp_seconds",
}  # fmt: skip


async def scrape(app) -> tuple[str, str]:
    """GET /metrics of the App's web server: the content type and the text."""
    runner, port = await start_web(build_web_app(app.health, metrics=app.metrics_text), "127.0.0.1", 0)
    try:
        async with ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
            assert response.status == 200
            return response.headers["Content-Type"], await response.text()
    finally:
        await runner.cleanup()


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, labels) -> value, read back by prometheus-client's own parser."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def served(exposition: str) -> set[str]:
    """Every name a query may use: each family's, and a histogram's _bucket, _sum and _count."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.M):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


async def test_metrics_serve_the_database_size_rows_pruned_and_last_backup(
    make_settings, start_app, database_url, clock, tmp_path
):
    app, _ = await start_app(make_settings(environ={"NEWSALERT_DATABASE_URL": database_url}))
    content_type, before = await scrape(app)
    assert content_type.startswith("text/plain; version=")
    assert "newsalert_last_backup_timestamp_seconds" in served(before)
    assert not [key for key in samples(before) if key[0] == "newsalert_last_backup_timestamp_seconds"]

    app.dispatcher.metrics.pruned("articles", 120)
    app.dispatcher.metrics.pruned("outbox", 3)
    app.dispatcher.metrics.pruned("articles", 5)
    database = Path(database_url.removeprefix("sqlite:///"))
    if database_url.startswith("sqlite"):
        back_up(database, tmp_path / "backup.db", clock.now())
    _, after = await scrape(app)
    values = samples(after)
    assert values[("newsalert_rows_pruned_total", (("table", "articles"),))] == 125
    assert values[("newsalert_rows_pruned_total", (("table", "outbox"),))] == 3
    assert values[("newsalert_outbox_depth", ())] == 0
    size = values[("newsalert_database_size_bytes", ())]
    if database_url.startswith("sqlite"):
        on_disk = [p for p in database.parent.iterdir() if p.name.startswith(f"{database.name}-")]
        assert size == database.stat().st_size + sum(p.stat().st_size for p in on_disk)
        assert values[("newsalert_last_backup_timestamp_seconds", ())] == clock.now().timestamp()
    else:
        async with app.store.engine.connect() as conn:
            assert size == (await conn.execute(text("SELECT pg_database_size(current_database())"))).scalar()
        assert ("newsalert_last_backup_timestamp_seconds", ()) not in values, "pg_dump tells us nothing"


async def test_each_app_counts_on_a_registry_of_its_own(make_settings, start_app, tmp_path):
    one, _ = await start_app(make_settings())
    other, _ = await start_app(
        make_settings(environ={"NEWSALERT_DATABASE_URL": f"sqlite:///{tmp_path}/b.db"})
    )
    one.dispatcher.metrics.pruned("articles", 7)
    one.dispatcher.metrics.add("newsalert_feeds_polled_total", outcome="ok")
    assert samples(await one.metrics_text())[("newsalert_rows_pruned_total", (("table", "articles"),))] == 7
    theirs = samples(await other.metrics_text())
    assert not [
        key for key in theirs if key[0] in ("newsalert_rows_pruned_total", "newsalert_feeds_polled_total")
    ]
    assert REGISTRY.get_sample_value("newsalert_rows_pruned_total", {"table": "articles"}) is None


def _queries(dashboard: dict) -> list[str]:
    """Every PromQL expression of every panel, in rows too."""
    panels = [*dashboard["panels"]]
    found = []
    while panels:
        panel = panels.pop()
        panels += panel.get("panels", [])
        found += [target["expr"] for target in panel.get("targets", [])]
    return found


async def test_the_grafana_dashboard_asks_only_for_metrics_that_metrics_serves(make_settings, start_app):
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = _queries(dashboard)
    assert len(queries) >= len(SHOWN)
    app, _ = await start_app(make_settings())
    names = served((await scrape(app))[1])
    asked = {name for query in queries for name in re.findall(r"\bnewsalert_\w+", query)}
    assert asked <= names, f"the dashboard asks for metrics /metrics does not serve: {asked - names}"
    covered = asked | {re.sub(r"_(bucket|sum|count)$", "", name) for name in asked}
    assert not SHOWN - covered, f"not on the dashboard: {SHOWN - covered}"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "each panel its own id"
    assert all(panel.get("title") for panel in dashboard["panels"])
