"""Shared fixtures: a socket guard, a fake clock, a loopback feed server, settings on a temp DB."""

from __future__ import annotations

import io
import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import App
from bot.config import Settings, load_settings
from bot.store import Store, async_url
from tests.fakes.clock import FakeClock
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "config" / "samples"
SEED_TITLE = "NATO Agrees to Re-engage Russia"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_address(sock: socket.socket, address: Any) -> None:
    if sock.family == socket.AF_UNIX:
        return
    host = address[0]
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise RuntimeError(f"test tried to reach {host}: only loopback is allowed in tests")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(self, address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def socket_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any test reaching past loopback fails (real network is never a test dependency)."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    server = await FeedServer().start()
    yield server
    await server.stop()


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    server = await FakeTelegram().start()
    yield server
    await server.stop()


@pytest.fixture
async def start_app(
    clock: FakeClock,
) -> AsyncIterator[Callable[[Settings], Awaitable[tuple[App, io.StringIO]]]]:
    """Start apps the way `newsalert run` does, on the fake clock; each prints to its own console."""
    apps: list[App] = []

    async def start(settings: Settings) -> tuple[App, io.StringIO]:
        out = io.StringIO()
        app = App(settings, clock=clock, console=out)
        await app.start()
        apps.append(app)
        return app, out

    yield start
    for app in apps:
        await app.close()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings as a user writes them in YAML, with the database in this test's temp dir."""

    def make(yaml_text: str = "", environ: dict[str, str] | None = None) -> Settings:
        path = tmp_path / "newsalert.yaml"
        path.write_text(f"database_url: sqlite:///{tmp_path}/newsalert.db\n{yaml_text}", encoding="utf-8")
        return load_settings(path, environ or {})

    return make


POSTGRES = os.environ.get("NEWSALERT_TEST_POSTGRES_URL")


async def empty_postgres(url: str) -> None:
    """The test database with nothing in it: each test starts from migrations."""
    engine = create_async_engine(async_url(url))
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: a SQLite file always; PostgreSQL when NEWSALERT_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/data/store.db"
    if not POSTGRES:
        pytest.skip("NEWSALERT_TEST_POSTGRES_URL is not set (.ci/run sets it when PostgreSQL answers)")
    await empty_postgres(POSTGRES)
    return POSTGRES


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A migrated store on each database (database_url), closed afterwards."""
    store = Store.open(database_url)
    await store.upgrade()
    yield store
    await store.close()
