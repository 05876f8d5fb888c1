"""`newsalert config show`: the effective settings as YAML, with no secret in them, ever."""

from __future__ import annotations

import yaml

from bot.config import load_settings
from tests.test_cli import clean_env, newsalert, write_config

SECRETS = {
    "TELEGRAM_BOT_TOKEN": "123456:AAF-telegram-secret",
    "SLACK_BOT_TOKEN": "xoxb-slack-bot-secret",
    "SLACK_SIGNING_SECRET": "slack-signing-secret",
    "SLACK_APP_TOKEN": "xapp-slack-app-secret",
    "NEWSALERT_LLM_API_KEY": "sk-llm-secret",
    "NEWSALERT_DATABASE_PASSWORD": "pg-p@ss/secret",
}


def test_config_show_prints_file_and_environment_with_every_secret_blanked(tmp_path):
    config = write_config(
        tmp_path, "summary:\n  llm:\n    base_url: http://127.0.0.1:1/v1\n    model: gpt-4o-mini\n"
    )
    env = {**clean_env(), "NEWSALERT_POLL_INTERVAL": "90s", "NEWSALERT_TELEGRAM_ADMINS": "7, 8"}
    env["NEWSALERT_DATABASE_URL"] = "postgresql+asyncpg://newsalert@postgres:5432/newsalert"
    for name, value in SECRETS.items():  # half from the environment, half from *_FILE
        if len(name) % 2:
            env[name] = value
        else:
            (tmp_path / name).write_text(value + "\n")
            env[f"{name}_FILE"] = str(tmp_path / name)
    result = newsalert("config", "show", "--config", str(config), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert shown["poll_interval"] == "90s"
    assert shown["telegram"]["admins"] == [7, 8]
    assert shown["telegram"]["token"] == "**********"
    assert shown["slack"]["signing_secret"] == "**********"
    assert shown["database_url"] == "postgresql+asyncpg://newsalert:**********@postgres:5432/newsalert"
    assert shown["feeds"][0]["name"] == "World Desk"
    # nor the webhook secret derived from the token, nor the password as it is quoted in a URL
    derived = load_settings(None, {"TELEGRAM_BOT_TOKEN": SECRETS["TELEGRAM_BOT_TOKEN"]}).telegram
    out = result.stdout + result.stderr
    for secret in [*SECRETS.values(), derived.webhook_secret_value(), "p%40ss%2Fsecret", "-secret"]:
        assert secret not in out


def test_config_show_names_a_bad_key_instead(tmp_path):
    result = newsalert("config", "show", "--config", str(write_config(tmp_path, "htp: {}\n")), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "newsalert: configuration error: htp: unknown key; did you mean http?"
