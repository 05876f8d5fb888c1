"""The command line answers at once: it loads only what the command in hand uses (timings are for
bench/cli_bench.py; here, which modules load), and its help and version read plainly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, timedelta
from importlib.metadata import version

import pytest

from bot.cli import per_period
from tests.conftest import SAMPLES
from tests.test_cli import clean_env, newsalert, write_config

# the bot, the database, the chat apps' libraries, the page extractor, the scheduler, the web server.
# The channel modules themselves load with the settings (their settings models): only their
# libraries must not.
HEAVY = (
    "bot.app", "bot.commands", "bot.chat", "bot.store", "sqlalchemy", "alembic", "telegram", "slack_bolt",
    "slack_sdk", "trafilatura", "apscheduler", "structlog", "aiohttp.web",
)  # fmt: skip


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running code (as `python -c`)."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)), file=sys.__stderr__)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=clean_env(), timeout=60
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stderr.splitlines()[-1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY)


def test_importing_the_command_line_loads_none_of_the_big_parts():
    modules = loaded_after("import bot.cli")
    assert heavy(modules) == []
    assert not {"pydantic", "aiohttp", "rich", "feedparser", "asyncio"} & modules


def test_check_of_a_local_feed_loads_no_database_chat_app_or_page_extractor(tmp_path):
    feed = SAMPLES / "world-news.xml"
    modules = loaded_after(
        "import sys, bot.cli\n"
        f"sys.argv = ['newsalert', 'check', '--feed', {str(feed)!r}, '--rule', 'Membership Action Plan']\n"
        "try:\n    bot.cli.main()\nexcept SystemExit as done:\n    assert done.code in (0, None), done.code"
    )
    assert "bot.check" in modules, "the check ran"
    assert heavy(modules) == []


def test_version_is_the_installed_package_version(tmp_path):
    result = newsalert("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == f"newsalert {version('newsalert')}\n"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["check"],
        ["rules", "test"],
        ["opml", "export"],
        ["db", "copy"],
        ["db", "backup"],
        ["db", "restore"],
    ],
)
def test_help_reads_plainly(tmp_path, command):
    """No type labels (<list[str]>, <bool>), and the environment variable of --config shown, not
    swallowed as markup."""
    result = newsalert(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not re.search(r"<[a-z]", result.stdout), result.stdout
    assert "\u2502" not in result.stdout, "plain text, no boxes"
    if command and command != ["db", "copy"]:
        assert "--config PATH" in result.stdout
        assert "[env var: NEWSALERT_CONFIG]" in result.stdout


def test_per_period_sums_days_by_week_then_by_month():
    today = date(2026, 3, 1)  # a Sunday
    days = [(today - timedelta(days=n), 1) for n in reversed(range(365))]
    months = per_period(days)
    assert [label for label, _ in months][:2] == ["Mar 2025", "Apr 2025"] and months[-1] == ("Mar 2026", 1)
    assert sum(count for _, count in months) == 365 and len(months) == 13
    weeks = per_period(days[-15:])
    assert weeks == [("week of Mon 09 Feb", 1), ("week of Mon 16 Feb", 7), ("week of Mon 23 Feb", 7)]


def test_rules_test_over_a_year_fits_a_screen(tmp_path):
    config = str(write_config(tmp_path))
    assert newsalert("run", "--once", "--config", config, cwd=tmp_path).returncode == 0
    result = newsalert(
        "rules", "test", "Membership Action Plan", "--days", "365", "--config", config, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert out[1] == "Over the last 365 days it matched 1 of 13 stories."
    assert out[2].startswith("Stories are stored since "), "the first poll's: none older"
    months = out[3 : out.index("For example:")]
    assert 12 <= len(months) <= 13, "a line a month, not a line a day"
    assert [re.fullmatch(r"  [A-Z][a-z]{2} \d{4} +\d+( +#+)?", line) is not None for line in months] == [
        True
    ] * len(months)
    assert sum(int(line.split()[2]) for line in months) == 1
    fortnight = newsalert(
        "rules", "test", "Membership Action Plan", "--days", "14", "--config", config, cwd=tmp_path
    ).stdout.splitlines()
    assert len(fortnight[3 : fortnight.index("For example:")]) == 14, "two weeks are still listed day by day"
