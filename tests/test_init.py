"""`newsalert init` as a new user meets it: answers in, a config file out that `run` and `check` take,
and never a file overwritten."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from pathlib import Path

import pytest
import yaml

from bot.config import load_settings
from bot.init import Answers, config_text, problems, read_feeds
from tests.conftest import ROOT, SAMPLES
from tests.fakes.telegram_api import TOKEN

WORLD = SAMPLES / "world-news.xml"
OPML = ROOT / "tests" / "data" / "miniflux-export.opml"


async def newsalert(
    *args: str, cwd: Path, env: dict[str, str] | None = None, given: str = ""
) -> tuple[int, str, str]:
    """`newsalert ARGS` in its own session (no terminal: a hidden prompt reads standard input), with
    `given` typed on standard input; its exit code, standard output and standard error."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSALERT_", "TELEGRAM_", "SLACK_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=cwd, env={**clean, "NO_COLOR": "1", **(env or {})},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(given.encode()), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def test_the_answers_become_a_commented_config_that_reads_back_as_given():
    answers = Answers(
        telegram_token=TOKEN,
        telegram_chat="1001",
        feeds=(
            ("https://www.nato.int/cps/rss/en/natohq/rssFeed.xsl/rssFeed.xml", "NATO"),
            ("file:///x.xml", ""),
        ),
        rules=('feed:NATO "Membership Action Plan"', "Ukraine NEAR/5 membership"),
    )
    text = config_text(answers)
    assert "# send it /claim CODE in a private chat to become its admin." in text
    data = yaml.safe_load(text)
    assert data["telegram"] == {"token": TOKEN}
    assert data["feeds"] == [
        {"url": "https://www.nato.int/cps/rss/en/natohq/rssFeed.xsl/rssFeed.xml", "name": "NATO"},
        {"url": "file:///x.xml"},
    ]
    assert [(s["channel"], s["address"], s["rules"]) for s in data["subscriptions"]] == [
        ("console", "stdout", list(answers.rules)),
        ("telegram", "1001", list(answers.rules)),
    ]


def test_awkward_text_survives_the_yaml():
    rules = ('"quoted: yes" OR Zürich', 'NATO -"Swiss franc"', "case:MAP 'single' {braces}")
    text = config_text(Answers(feeds=(("https://a.example/rss?x=1&y=#z", 'A: the "best"'),), rules=rules))
    data = yaml.safe_load(text)
    assert data["subscriptions"][0]["rules"] == list(rules)
    assert data["feeds"] == [{"url": "https://a.example/rss?x=1&y=#z", "name": 'A: the "best"'}]


@pytest.mark.parametrize(
    "answers, problem",
    [
        (Answers(telegram_token="not a token"), "the Telegram token is not one from @BotFather"),
        (Answers(telegram_chat="1001"), "a Telegram chat needs the Telegram token"),
        (Answers(telegram_token=TOKEN, telegram_chat="@ann"), "the Telegram chat is a number"),
        (Answers(slack_bot_token="xoxb-1"), "Slack needs an app token (Socket Mode) or its signing secret"),
        (
            Answers(slack_bot_token="xoxp-1", slack_app_token="xapp-1"),
            "the Slack bot token starts with xoxb-",
        ),
        (Answers(rules=("NATO", '"unclosed')), "cannot use the rule '\"unclosed': unclosed quote"),
    ],
)
def test_wrong_answers_are_said_and_nothing_is_written(answers, problem):
    assert any(found.startswith(problem) for found in problems(answers)), problems(answers)
    with pytest.raises(ValueError, match="^" + problem.replace("(", r"\(").replace(")", r"\)")):
        config_text(answers)


def test_a_feed_is_an_address_a_feed_file_or_an_opml_file(tmp_path):
    assert read_feeds("https://www.nato.int/rss", tmp_path) == [("https://www.nato.int/rss", "")]
    assert read_feeds(str(WORLD), tmp_path) == [(WORLD.as_uri(), "")]
    assert ("https://alliance.example.net/news.atom", "Alliance News") in read_feeds(str(OPML), tmp_path)
    for nothing in ("www.nato.int", "ftp://x.example/feed", "missing.xml"):
        with pytest.raises(ValueError, match="is neither an http\\(s\\) address nor a file"):
            read_feeds(nothing, tmp_path)


async def test_init_with_flags_writes_a_private_config_that_run_once_and_check_accept(tmp_path, telegram):
    code, out, err = await newsalert(
        "init", "--telegram-token", TOKEN, "--feed", str(WORLD), "--rule", "Membership Action Plan",
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    path = tmp_path / "newsalert.yaml"
    assert out.startswith("Wrote newsalert.yaml, readable by you only. Next:")
    assert "newsalert run --config newsalert.yaml" in out and "/claim CODE" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = path.read_text()

    api = {"NEWSALERT_TELEGRAM_API_URL": telegram.api_url}
    code, out, err = await newsalert("run", "--once", "--config", str(path), cwd=tmp_path, env=api)
    assert code == 0, err
    assert "polled 1 feeds: 7 new stories" in err and TOKEN not in err
    assert telegram.commands, "it reached Telegram with the token from the file"
    code, out, err = await newsalert("check", "--config", str(path), cwd=tmp_path)
    assert code == 0, err
    assert "1 alert(s) would be sent" in out

    code, out, err = await newsalert("init", "--rule", "NATO", cwd=tmp_path)
    assert code == 2
    assert err.startswith("newsalert: newsalert.yaml exists already, and init never overwrites a file")
    assert path.read_text() == written


async def test_init_with_a_bad_answer_in_flags_says_why_and_writes_nothing(tmp_path):
    code, _out, err = await newsalert("init", "--feed", "www.nato.int", "--rule", "NATO", cwd=tmp_path)
    assert code == 2
    assert err == "newsalert: 'www.nato.int' is neither an http(s) address nor a file; nothing was written\n"
    code, _out, err = await newsalert("init", "--telegram-token", "12345", cwd=tmp_path)
    assert err.startswith("newsalert: the Telegram token is not one from @BotFather")
    assert list(tmp_path.iterdir()) == []


async def test_init_asks_for_each_answer_and_asks_again_after_a_wrong_one(tmp_path):
    typed = [
        "12345",  # not a token: asked again
        TOKEN,
        "",  # no chat id
        "nowhere.xml",  # no such file: asked again
        str(OPML),
        "",
        '"unclosed',  # refused with the reason
        "NATO-Russia Council",
        "",
    ]
    code, out, err = await newsalert(
        "init", "--config", "mine.yaml", cwd=tmp_path, given="\n".join(typed) + "\n"
    )
    assert code == 0, err
    assert "a token looks like 123456789:AAE..." in out
    assert "'nowhere.xml' is neither an http(s) address nor a file" in out
    assert "cannot use the rule '\"unclosed': unclosed quote" in out
    assert TOKEN not in out, "the token is typed unseen"
    settings = load_settings(tmp_path / "mine.yaml", {})
    assert settings.telegram.token and settings.telegram.token.get_secret_value() == TOKEN
    assert [(f.url, f.name) for f in settings.feeds][0] == ("https://world.example.org/rss.xml", "World Desk")
    assert [s.rules for s in settings.subscriptions] == [["NATO-Russia Council"]]
