"""Settings: file then environment, one validated value, errors that name the key."""

from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import config_subscriptions
from bot.config import load_settings
from bot.errors import ConfigError
from tests.conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newsalert.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_config_loads_with_every_documented_key():
    settings = load_settings(ROOT / "config" / "newsalert.yaml", {})
    assert settings.database_url == "sqlite:///data/newsalert.db"
    assert settings.poll_interval == timedelta(minutes=5)
    assert settings.http.port == 8080
    assert settings.telegram.token is None and settings.slack.bot_token is None
    assert settings.telegram.api_url == "https://api.telegram.org/bot"
    assert settings.slack.api_url == "https://slack.com/api/"
    assert [f.url for f in settings.feeds] == [
        (ROOT / "config" / "samples" / "world-news.xml").as_uri(),
        (ROOT / "config" / "samples" / "science-tech.xml").as_uri(),
    ]
    assert settings.subscriptions[0].rules == ["NATO-Russia Council", "Membership Action Plan"]


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("telegram:\n  tokn: abc\n", "telegram.tokn", "unknown key"),
        ("pol_interval: 5m\n", "pol_interval", "unknown key"),
        ("poll_interval: soon\n", "poll_interval", "'soon' is not a duration like 90s, 5m, 2h or 1d"),
        ("feeds:\n  - url: a.xml\n    interval: soon\n", "feeds[0].interval", "'soon' is not a duration"),
        ("telegram:\n  tokn: abc\n", "telegram.tokn", "unknown key; did you mean token?"),
        ("feeds:\n  - url: a.xml\n    nmae: A\n", "feeds[0].nmae", "unknown key; did you mean name?"),
        ("summary:\n  llm:\n    modle: x\n", "summary.llm.modle", "unknown key; did you mean model?"),
        ("shiny: true\n", "shiny", "unknown key"),
        ("http:\n  port: 70000\n", "http.port", "less than or equal to 65535"),
        ("feeds:\n  - url: a.xml\n    backfill: -2\n", "feeds[0].backfill", "backfill must be 0 or more"),
        (
            "subscriptions:\n  - channel: fax\n    rules: [x]\n",
            "subscriptions[0].channel",
            "'console', 'telegram' or 'slack'",
        ),
        ("slack:\n  bot_token: xoxb-1\n", "slack", "signing_secret is required"),
        ("limits:\n  rules_per_chat: 0\n", "limits.rules_per_chat", "greater than or equal to 1"),
    ],
)
def test_a_bad_key_or_value_is_refused_naming_the_key(tmp_path, text, key, problem):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {})
    assert caught.value.key == key
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"{key}: ")


@pytest.mark.parametrize(
    ("environ", "variable", "problem"),
    [
        ({"NEWSALERT_HTTP_PORT": "eighty"}, "NEWSALERT_HTTP_PORT", "as an integer (got 'eighty')"),
        ({"NEWSALERT_POLL_INTERVAL": "soon"}, "NEWSALERT_POLL_INTERVAL", "is not a duration"),
        ({"NEWSALERT_TELEGRAM_ADMINS": "ann"}, "NEWSALERT_TELEGRAM_ADMINS", "valid integer"),
        ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN", "not a bot token"),
    ],
)
def test_a_bad_value_from_the_environment_is_named_by_its_variable(tmp_path, environ, variable, problem):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "http:\n  port: 8080\n"), environ)
    assert str(caught.value).startswith(f"{variable}: ") and problem in str(caught.value)
    assert "not-a-token" not in str(caught.value), "a secret is never echoed"


def test_a_bad_value_from_a_secret_file_is_named_by_that_variable(tmp_path):
    secret = tmp_path / "token"
    secret.write_text("xapp-1-A-secret\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"SLACK_BOT_TOKEN_FILE": str(secret), "SLACK_SIGNING_SECRET": "s"})
    assert str(caught.value).startswith("SLACK_BOT_TOKEN_FILE: an app-level token (xapp-...)")
    assert "secret" not in str(caught.value).replace("SLACK", "")


def test_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, "poll_interval: 5m\nhttp:\n  port: 8080\n")
    settings = load_settings(
        path,
        {
            "NEWSALERT_POLL_INTERVAL": "90s",
            "NEWSALERT_HTTP_PORT": "9000",
            "NEWSALERT_DATABASE_URL": "sqlite:////tmp/x.db",
            "TELEGRAM_BOT_TOKEN": "123:secret",
            "NEWSALERT_TELEGRAM_API_URL": "http://127.0.0.1:1/bot",
            "NEWSALERT_LIMITS_REGEX_RULES_PER_CHAT": "0",
        },
    )
    assert settings.poll_interval == timedelta(seconds=90)
    assert settings.http.port == 9000
    assert settings.database_url == "sqlite:////tmp/x.db"
    assert settings.telegram.token.get_secret_value() == "123:secret"
    assert settings.telegram.api_url == "http://127.0.0.1:1/bot"
    assert (settings.limits.rules_per_chat, settings.limits.regex_rules_per_chat) == (200, 0)


def test_secrets_come_from_files_and_never_show_in_dumps_or_errors(tmp_path):
    secret_file = tmp_path / "token"
    secret_file.write_text("xoxb-very-secret\n")
    settings = load_settings(
        write(tmp_path, ""),
        {"SLACK_BOT_TOKEN_FILE": str(secret_file), "SLACK_SIGNING_SECRET": "shh-signing"},
    )
    assert settings.slack.bot_token.get_secret_value() == "xoxb-very-secret"
    dump = str(settings.redacted()) + repr(settings)
    assert "very-secret" not in dump and "shh-signing" not in dump
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "slack:\n  app_token: [xapp-leaky]\n"), {})
    assert "leaky" not in str(caught.value)


def test_missing_file_and_bad_yaml_say_so(tmp_path):
    with pytest.raises(ConfigError, match="no configuration file at"):
        load_settings(tmp_path / "absent.yaml", {})
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_settings(write(tmp_path, "feeds: [\n"), {})


def test_two_config_subscriptions_for_one_address_are_refused(tmp_path):
    text = "subscriptions:\n  - {channel: console, rules: [a]}\n  - {channel: console, rules: [b]}\n"
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {})
    assert str(caught.value) == (
        "subscriptions: [1] repeats the channel and address of [0]; put all their rules in one"
    )


def test_a_token_written_where_a_section_belongs_is_not_echoed(tmp_path):
    for text, environ in [
        ("telegram: '123456:AAF-secret'\n", {}),
        ("slack: xoxb-1-secret\n", {"SLACK_APP_TOKEN": "x"}),
    ]:
        with pytest.raises(ConfigError) as caught:
            load_settings(write(tmp_path, text), environ)
        assert "secret" not in str(caught.value)
        assert caught.value.key in ("telegram", "slack")


TOKEN = "123456:AAF-very-secret-token"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (f'telegram:\n\ttoken: "{TOKEN}"\n', "line 2, column 1: a tab; YAML indents with spaces"),
        (f'telegram:\n  token: "{TOKEN}\n', "line 3, column 1"),  # a quote never closed
        (f"telegram:\n  token: {TOKEN}\n bad: 1\n", "line 3, column 2"),  # an indent out of line
        (f'telegram:\n  token: "{TOKEN}" garbage\n', "line 2, column 41"),  # after the closing quote
        ("telegram:\n  token: *AAF-very-secret-token\n", "line 2, column 10: found undefined alias ..."),
    ],
)
def test_a_yaml_error_says_where_and_never_echoes_the_line(tmp_path, text, where):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {})
    assert where in str(caught.value)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("poll_interval: 99999999999999999999d\n", "poll_interval", "longer than the most allowed, 365d"),
        ("poll_interval: 999999999d\n", "poll_interval", "longer than the most allowed, 365d"),
        ("poll_interval: .inf\n", "poll_interval", "longer than the most allowed, 365d"),
        ("delivery:\n  lease: 999999999d\n", "delivery.lease", "longer than the most allowed, 1d"),
        ("polling:\n  max_interval: 400d\n", "polling.max_interval", "longer than the most allowed, 365d"),
    ],
)
def test_durations_are_bounded_where_they_are_read(tmp_path, text, key, problem):
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), {})
    assert caught.value.key == key and problem in caught.value.problem


def test_a_number_of_thousands_of_digits_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="is not valid YAML: Exceeds the limit"):
        load_settings(write(tmp_path, "poll_interval: " + "9" * 5000 + "\n"), {})


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"\xff\xfe\x00binary", "is not UTF-8 text"), (b"x" * (64 * 1024 + 1), "is larger than 64 KB")],
)
def test_a_secret_file_that_is_not_a_small_text_is_refused(tmp_path, content, problem):
    secret = tmp_path / "token"
    secret.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"TELEGRAM_BOT_TOKEN_FILE": str(secret)})
    assert caught.value.key == "TELEGRAM_BOT_TOKEN_FILE" and problem in str(caught.value)


def test_endless_and_directory_files_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="is larger than 64 KB"):
        load_settings(None, {"TELEGRAM_BOT_TOKEN_FILE": "/dev/zero"})
    with pytest.raises(ConfigError, match="Is a directory"):
        load_settings(None, {"TELEGRAM_BOT_TOKEN_FILE": str(tmp_path)})
    with pytest.raises(ConfigError, match="Is a directory"):
        load_settings(tmp_path, {})


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("nato NEAR/\u00b2 russia", "NEAR needs a number of words from 1 to 50, like NEAR/5 at character 6"),
        ("(" * 40 + "NATO" + ")" * 40, "parentheses nest at most 32 deep at character 33"),
        ("NATO OR /./", "this regex matches nearly every story; make it more specific at character 9"),
    ],
)
def test_a_hostile_config_rule_stops_start_up_naming_it(tmp_path, rule, problem):
    text = f"subscriptions:\n  - channel: console\n    rules: [NATO, '{rule}']\n"
    settings = load_settings(write(tmp_path, text), {})
    with pytest.raises(ConfigError) as caught:
        config_subscriptions(settings)
    assert str(caught.value).startswith(f"subscriptions[0].rules[1]: {problem}: ")
    assert str(caught.value).replace("\u25b6", "").endswith(rule), "the rule, marked where it goes wrong"


def test_retention_reads_days_or_off_and_names_what_else_it_takes(tmp_path):
    kept = load_settings(
        write(tmp_path, "retention:\n  articles: off\n"), {"NEWSALERT_RETENTION_OUTBOX": "7d"}
    )
    assert (kept.retention.articles, kept.retention.outbox) == (None, timedelta(days=7))
    assert load_settings(None, {}).retention.articles == timedelta(days=90)
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"NEWSALERT_RETENTION_ARTICLES": "forever"})
    assert caught.value.key == "NEWSALERT_RETENTION_ARTICLES"
    assert "not a duration like 90s, 5m, 2h or 1d, or off (kept forever)" in caught.value.problem
