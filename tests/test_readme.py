"""The README and docs/ tell the truth a reader acts on: the sample alerts are what the code sends,
every command is documented, and every link leads somewhere."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import typer

from bot.channels.slack import render_blocks
from bot.channels.telegram import plain, render_alert
from bot.check import check, feeds_to_check
from bot.cli import cli
from bot.commands import COMMANDS
from bot.config import load_settings
from bot.domain import Alert
from tests.conftest import ROOT, SEED_TITLE

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))


def _blocks(path: Path) -> list[str]:
    """The fenced code blocks of a Markdown file."""
    return re.findall(r"^```[a-z]*\n(.*?)^```", path.read_text(encoding="utf-8"), re.M | re.S)


def _sample(marker: str) -> str:
    """The README's code block that holds this line."""
    return next(block for block in _blocks(README) if marker in block.splitlines())


def _words(text: str) -> str:
    return " ".join(text.split())


async def _seed_alert() -> Alert:
    """The demo's seed story, alerted by `Membership Action Plan`, as `check` builds it for a channel."""
    settings = load_settings(ROOT / "config" / "newsalert.yaml", os.environ)
    report = await check(settings, feeds_to_check(settings, [], ROOT), ["Membership Action Plan"])
    (found,) = [a for a in report.alerts if a.new.article.title == SEED_TITLE]
    return replace(found.alert(datetime.now(UTC)), article_id=1)  # stored, as every alert sent is


async def test_the_readme_shows_the_telegram_alert_that_telegram_is_sent():
    text, buttons = render_alert(await _seed_alert())
    rows = ["  ".join(f"[ {button.label} ]" for button in row) for row in buttons]
    sample = _sample(rows[0])
    assert "\n".join(rows) in sample, "the buttons, row by row"
    assert _words(sample.replace("\n".join(rows), "")) == _words(plain(text))


def _shown(blocks: list[dict]) -> list[str]:
    """The texts a Slack reader sees, in order (the date aside: each reader's clock shows it)."""
    seen: list[str] = []
    for block in blocks:
        if block["type"] == "rich_text":
            seen += ["".join(e.get("text", "") for e in part["elements"]) for part in block["elements"]]
        elif block["type"] == "context":
            seen += [e["text"] for e in block["elements"] if e["type"] == "plain_text"]
        elif block["type"] == "section":
            seen.append(block["text"]["text"])
        elif block["type"] == "actions":
            seen.append("  ".join(f"[ {e['text']['text']} ]" for e in block["elements"]))
    return seen


async def test_the_readme_shows_the_slack_alert_that_slack_is_sent():
    fallback, blocks = render_blocks(await _seed_alert())
    shown = _shown(blocks)
    slack_sample = [block for block in _blocks(README) if shown[-1] in block.splitlines()][
        -1
    ]  # Telegram's first
    sample, at = _words(slack_sample) + " ", 0
    for text in shown:
        found = sample.find(_words(text) + " ", at)  # whole: "Plan" is not "Plans"
        assert found >= 0, f"the README's Slack sample lacks, or misplaces: {text!r}"
        at = found + len(_words(text))
    assert f'"{fallback}"' in _words(README.read_text(encoding="utf-8")), "the notification text"


def test_every_command_of_the_command_line_is_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    group = typer.main.get_command(cli)  # the command line as click sees it: every command and group
    names = []
    for name, command in group.commands.items():
        subcommands = getattr(command, "commands", None)
        names += [f"{name} {sub}" for sub in subcommands] if subcommands else [name]
    rows = [line for line in readme.splitlines() if line.startswith("| `newsalert ")]
    missing = [name for name in names if not any(row.startswith(f"| `newsalert {name}") for row in rows)]
    assert not missing, f"not in the README's commands table: {missing}"


def test_every_chat_command_is_in_the_telegram_page():
    page = (ROOT / "docs" / "telegram.md").read_text(encoding="utf-8")
    missing = [c.name for c in COMMANDS if f"| `/{c.name}" not in page]
    assert not missing, f"not in docs/telegram.md's command table: {missing}"


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_link_between_the_readme_and_the_docs_leads_somewhere():
    broken = []
    for page in [README, *DOCS]:
        text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists() or (anchor and anchor not in _anchors(linked)):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken
