"""The command line as a user types it: real processes, real files, a real HTTP port."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

import aiohttp

from tests.conftest import ROOT, SAMPLES, SEED_TITLE

WORLD = str(SAMPLES / "world-news.xml")


def newsalert(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


async def started(*args: str, cwd: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    """`newsalert ARGS` started in another process, its output piped (read it, or it may block)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSALERT_", "TELEGRAM_", "SLACK_"))}
    return {**env, "NO_COLOR": "1"}


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "newsalert.yaml"
    path.write_text(
        f"database_url: sqlite:///{tmp_path}/db/newsalert.db\n"
        f"http:\n  host: 127.0.0.1\n  port: 0\n"
        f"feeds:\n  - url: {WORLD}\n    name: World Desk\n    backfill: all\n"
        f"  - url: {SAMPLES / 'science-tech.xml'}\n    backfill: all\n"
        "subscriptions:\n  - channel: console\n    rules: [NATO-Russia Council, Membership Action Plan]\n"
        + extra,
        encoding="utf-8",
    )
    return path


def test_check_prints_the_alert_and_counts_and_stores_nothing(tmp_path):
    result = newsalert("check", "--feed", WORLD, "--rule", "Membership Action Plan", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"== {SEED_TITLE}" in result.stdout
    assert "**Membership Action Plans**" in result.stdout
    assert result.stdout.count("== ") == 1
    assert result.stdout.splitlines()[-1] == (
        "checked 7 items from 1 feed(s) against 1 rule(s): "
        "1 alert(s) would be sent; nothing was stored or sent"
    )
    assert list(tmp_path.iterdir()) == [], "check writes no database and no file"


def test_check_uses_the_config_feeds_and_rules_by_default(tmp_path):
    result = newsalert("check", "--config", str(write_config(tmp_path)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith(
        "checked 13 items from 2 feed(s) against 2 rule(s): 1 alert(s)"
    )
    assert not (tmp_path / "db").exists()


def test_check_json_is_one_object_a_line_per_alert_for_scripts(tmp_path):
    result = newsalert("check", "--json", "--feed", WORLD, "--rule", "Membership Action Plan", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [alert] = [json.loads(line) for line in result.stdout.splitlines()]
    assert alert["title"] == SEED_TITLE
    assert alert["link"].startswith("https://") and alert["feed"] == "World Desk (sample)"
    assert alert["published"].startswith("2008-12-02T") and alert["summary"]
    [match] = alert["matches"]
    assert match["rule"] == "Membership Action Plan"
    assert [match["quote"][a:b] for a, b in match["spans"]] == ["Membership Action Plans"]
    assert isinstance(alert["story"], int) and alert["also_in"] == []
    assert "1 alert(s) would be sent" in result.stderr, "the count goes beside the JSON, not into it"


def wire(name: str, items: list[tuple[str, str, str, str]]) -> str:
    """An RSS feed: (guid, title, link, hour of 2 Dec 2008) each, one sentence of text."""
    entries = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title><link>{escape(link)}</link>"
        f"<pubDate>Tue, 02 Dec 2008 {hour}:00:00 GMT</pubDate>"
        f"<description>{title}, officials said on Tuesday in a statement.</description></item>"
        for guid, title, link, hour in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>{entries}</channel></rss>'


def console_alerts(stdout: str) -> list[tuple[str, str, set[str]]]:
    """(title, link, its outlets) of each alert the console printed."""
    alerts = []
    for block in ("\n" + stdout).split("\n== ")[1:]:
        lines = block.splitlines()
        feed = lines[1].split(" \u00b7 ")[0]
        also = next((line.removeprefix("Also in: ") for line in lines if line.startswith("Also in: ")), "")
        link = next(line for line in lines if line.startswith("https://"))
        alerts.append((lines[0], link, {feed, *filter(None, also.split(", "))}))
    return sorted(alerts)


def test_check_shows_the_alerts_run_sends_for_the_same_feeds(tmp_path):
    talks = "NATO ministers agree to resume formal talks with Russia"
    (tmp_path / "a.xml").write_text(
        wire(
            "Wire A",
            [
                ("a1", talks, "https://a.test/world/1?maca=a-rss&utm_source=rss", "10"),
                ("a2", "Markets rally as inflation cools", "https://a.test/biz/2?maca=a-rss", "11"),
                (
                    "a3",
                    "NATO summit opens with Ukraine on the agenda",
                    "https://a.test/world/3?maca=a-rss",
                    "12",
                ),
                (
                    "a1",
                    talks,
                    "https://a.test/world/1?maca=a-rss&utm_source=rss",
                    "10",
                ),  # the feed repeats it
            ],
        )  # fmt: skip
    )
    (tmp_path / "b.xml").write_text(
        wire(
            "Wire B",
            [
                (
                    "b1",
                    talks,
                    "https://a.test/world/1?utm_medium=feed",
                    "13",
                ),  # the same story, another outlet
                ("b2", "Rain expected across the weekend", "https://b.test/2", "14"),
            ],
        )  # fmt: skip
    )
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        f"database_url: sqlite:///{tmp_path}/db/newsalert.db\nhttp:\n  host: 127.0.0.1\n  port: 0\n"
        f"feeds:\n  - url: {tmp_path / 'a.xml'}\n    backfill: all\n"
        f"  - url: {tmp_path / 'b.xml'}\n    backfill: all\n"
        "subscriptions:\n  - channel: console\n    rules: [NATO]\n"
    )
    checked = newsalert("check", "--json", "--config", str(config), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    ran = newsalert("run", "--once", "--config", str(config), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr

    records = [json.loads(line) for line in checked.stdout.splitlines()]
    from_check = sorted((r["title"], r["link"], {r["feed"], *r["also_in"]}) for r in records)
    assert from_check == console_alerts(ran.stdout)
    assert from_check == [
        (
            "NATO ministers agree to resume formal talks with Russia",
            "https://a.test/world/1",
            {"Wire A", "Wire B"},
        ),
        ("NATO summit opens with Ukraine on the agenda", "https://a.test/world/3", {"Wire A"}),
    ]
    assert len({r["story"] for r in records}) == 2


def test_check_names_a_feed_as_the_config_file_does_so_feed_rules_match_as_in_run(tmp_path):
    (tmp_path / "world.xml").write_bytes(Path(WORLD).read_bytes())
    rule = 'feed:Reuters "Membership Action Plan"'
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        f"database_url: sqlite:///{tmp_path}/db/newsalert.db\n"
        "feeds:\n  - url: world.xml\n    name: Reuters\n    backfill: all\n"
        f"subscriptions:\n  - channel: console\n    rules: ['{rule}']\n"
    )
    ran = newsalert("run", "--once", "--config", str(config), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert console_alerts(ran.stdout) == [
        (SEED_TITLE, "https://world.example.org/news/nato-agrees-to-re-engage-russia", {"Reuters"})
    ]
    for given in ([], ["--feed", "world.xml"], ["--feed", str(tmp_path / "world.xml"), "--rule", rule]):
        checked = newsalert("check", "--config", str(config), *given, cwd=tmp_path)
        assert checked.returncode == 0, checked.stderr
        assert console_alerts(checked.stdout) == console_alerts(ran.stdout), given


def test_check_refuses_an_unusable_rule_with_the_reason_not_a_traceback(tmp_path):
    result = newsalert("check", "--feed", WORLD, "--rule", "NATO", "--rule", "NATO AND !!", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "newsalert: cannot use that rule: '!!' has no letters or digits to look for "
        "at character 10: NATO AND \u25b6!!"
    ), "which rule, and where in it, as a person counts"
    assert result.stdout == ""


def test_check_reports_a_missing_feed_plainly(tmp_path):
    result = newsalert("check", "--feed", "nowhere.xml", "--rule", "NATO", cwd=tmp_path)
    assert result.returncode == 1
    assert "newsalert: cannot fetch the feed: cannot read" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_config_key_stops_start_up_naming_the_key(tmp_path):
    config = write_config(tmp_path, "telegram:\n  tokn: 123\n")
    result = newsalert("run", "--once", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "newsalert: configuration error: telegram.tokn: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_stemmer_language_stops_start_up(tmp_path):
    config = write_config(tmp_path, "rules_language: klingon\n")
    result = newsalert("run", "--once", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "rules_language: no stemmer for 'klingon'" in result.stderr


def test_a_bad_config_rule_stops_start_up_naming_it(tmp_path):
    config = write_config(tmp_path).read_text().replace("Membership Action Plan]", '"--"]')
    (tmp_path / "newsalert.yaml").write_text(config)
    result = newsalert("run", "--once", "--config", str(tmp_path / "newsalert.yaml"), cwd=tmp_path)
    assert result.returncode == 2
    assert "subscriptions[0].rules[1]: a rule needs at least one word or number" in result.stderr


def test_run_once_alerts_once_and_a_second_run_alerts_nothing(tmp_path):
    config = str(write_config(tmp_path))
    first = newsalert("run", "--once", "--config", config, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("== ") == 1 and f"== {SEED_TITLE}" in first.stdout
    assert "polled 2 feeds: 13 new stories, 1 alerts queued, 1 sent" in first.stderr
    second = newsalert("run", "--once", "--config", config, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout == ""


def test_config_path_comes_from_the_environment_and_db_upgrade_works(tmp_path):
    env = {**clean_env(), "NEWSALERT_CONFIG": str(write_config(tmp_path))}
    result = newsalert("db", "upgrade", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "database is up to date"
    with sqlite3.connect(tmp_path / "db" / "newsalert.db") as db:
        latest = max((ROOT / "bot" / "store" / "migrations" / "versions").glob("0*.py")).read_text()
        head = re.search(r'^revision = "(.+)"$', latest, re.MULTILINE).group(1)
        assert db.execute("select version_num from alembic_version").fetchone() == (head,)


async def test_run_serves_healthz_and_stops_cleanly_on_sigterm(tmp_path):
    config = str(write_config(tmp_path))
    process = await started("run", "--config", config, cwd=tmp_path, env=clean_env())
    try:
        port = await asyncio.wait_for(_listening_port(process), timeout=30)
        alert = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert alert.decode().strip() == f"== {SEED_TITLE}"
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            assert response.status == 200
            assert (await response.json())["status"] == "ok"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stderr = (await process.stderr.read()).decode()
    assert "Traceback" not in stderr, stderr
    with sqlite3.connect(tmp_path / "db" / "newsalert.db") as db:
        assert db.execute("select status, count(*) from outbox group by status").fetchall() == [("sent", 1)]


async def _listening_port(process: asyncio.subprocess.Process) -> int:
    while True:
        line = (await process.stderr.readline()).decode()
        assert line, "the bot exited before listening"
        if "listening on http://" in line:
            return int(line.split("listening on http://")[1].split()[0].rsplit(":", 1)[1])


async def test_db_copy_moves_everything_to_a_new_database(tmp_path, database_url):
    """SQLite to PostgreSQL (or to another SQLite file without one): the copy runs as the original."""
    config = write_config(tmp_path)
    first = await asyncio.to_thread(newsalert, "run", "--once", "--config", str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    source = f"sqlite:///{tmp_path}/db/newsalert.db"
    target = database_url if database_url.startswith("postgresql") else f"sqlite:///{tmp_path}/copy.db"
    copied = await asyncio.to_thread(newsalert, "db", "copy", "--from", source, "--to", target, cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    assert "articles: 13 rows" in copied.stdout and "outbox: 1 rows" in copied.stdout
    again = await asyncio.to_thread(newsalert, "db", "copy", "--from", source, "--to", target, cwd=tmp_path)
    assert again.returncode == 2 and "the target database is not empty" in again.stderr
    env = {**clean_env(), "NEWSALERT_DATABASE_URL": target}
    rerun = await asyncio.to_thread(
        newsalert, "run", "--once", "--config", str(config), cwd=tmp_path, env=env
    )
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout == "", "the copy knows what was already seen and sent"


def test_json_logs_are_one_object_a_line(tmp_path):
    env = {**clean_env(), "NEWSALERT_LOG_FORMAT": "json"}
    result = newsalert("run", "--once", "--config", str(write_config(tmp_path)), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines()]
    polled = next(e for e in events if e["event"].startswith("polled 2 feeds"))
    assert polled["level"] == "info" and polled["logger"] == "bot.app" and polled["timestamp"].endswith("Z")


def test_check_leaves_out_an_entry_that_breaks_the_parser_and_shows_the_rest(tmp_path):
    feed = tmp_path / "wire.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        "<item><title>Broken</title></width></item>"
        "<item><title>Ukraine asks for a Membership Action Plan</title><link>https://x.test/1</link></item>"
        "</channel></rss>"
    )
    result = newsalert("check", "--feed", str(feed), "--rule", "Membership Action Plan", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "== Ukraine asks for a Membership Action Plan" in result.stdout
    assert "an entry could not be read and was left out (TypeError" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_yaml_error_is_one_line_without_the_secret(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text('telegram:\n\ttoken: "123456:AAF-very-secret-token"\n')
    result = newsalert("config", "show", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"newsalert: configuration error: {config} is not valid YAML: "
        "line 2, column 1: a tab; YAML indents with spaces\n"
    )


def test_db_copy_refuses_a_source_that_does_not_exist(tmp_path):
    missing, target = tmp_path / "missing" / "x.db", tmp_path / "copy.db"
    result = newsalert(
        "db", "copy", "--from", f"sqlite:///{missing}", "--to", f"sqlite:///{target}", cwd=tmp_path
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == f"newsalert: copy failed, nothing was committed to the target: no SQLite database at {missing}\n"
    )
    assert not missing.parent.exists() and not target.exists()
