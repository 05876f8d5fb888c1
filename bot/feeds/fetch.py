"""Fetch a feed's bytes: one shared aiohttp session, conditional GET, timeouts, a size cap.

`file://` URLs are read from disk; only the config file may name them (it is trusted).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import aiohttp

from bot import __version__
from bot.errors import FetchError

USER_AGENT = f"newsalert/{__version__} (self-hosted news alert bot)"


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 10 * 1024 * 1024  # counted after decompression: a gzip bomb is cut off
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # between two reads: a server dripping bytes is dropped
    total_timeout: float = 60.0
    max_redirects: int = 5


@dataclass(frozen=True)
class FetchResult:
    body: bytes | None  # None: not modified since the validators we sent
    etag: str | None
    last_modified: str | None
    url: str  # after redirects


def open_session() -> aiohttp.ClientSession:
    """The one client session every feed fetch shares (connection pool, DNS cache)."""
    connector = aiohttp.TCPConnector(limit=50, limit_per_host=4)
    return aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT})


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    # Specs: RFC 9110 section 13.1.2 (If-None-Match) and 13.1.3 (If-Modified-Since).
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


class Fetcher:
    def __init__(self, session: aiohttp.ClientSession, limits: FetchLimits | None = None):
        self.session = session
        self.limits = limits or FetchLimits()

    async def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        if urlsplit(url).scheme == "file":
            body = await asyncio.to_thread(read_file, url, self.limits.max_bytes)
            return FetchResult(body, None, None, url)
        try:
            return await self._get(url, conditional_headers(etag, last_modified))
        except TimeoutError as error:
            raise FetchError("timeout", f"{_host(url)} did not answer in time") from error
        except aiohttp.TooManyRedirects as error:
            raise FetchError("redirect", f"{_host(url)} redirected too many times") from error
        except aiohttp.ClientError as error:
            raise FetchError("network", f"cannot reach {_host(url)}: {type(error).__name__}") from error

    async def _get(self, url: str, headers: dict[str, str]) -> FetchResult:
        limits = self.limits
        timeout = aiohttp.ClientTimeout(
            total=limits.total_timeout, sock_connect=limits.connect_timeout, sock_read=limits.read_timeout
        )
        # Specs: RFC 9110 section 15.4.5 (304 Not Modified).
        async with self.session.get(
            url, headers=headers, timeout=timeout, max_redirects=limits.max_redirects
        ) as response:
            if response.status == 304:
                return FetchResult(None, headers.get("If-None-Match"), headers.get("If-Modified-Since"), url)
            if response.status >= 400:
                raise FetchError("http", f"{_host(url)} answered HTTP {response.status}", response.status)
            body = await _read_capped(response, limits.max_bytes)
            return FetchResult(
                body, response.headers.get("ETag"), response.headers.get("Last-Modified"), str(response.url)
            )


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    if (response.content_length or 0) > max_bytes:
        raise FetchError("too_large", f"feed is larger than {max_bytes} bytes")
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError("too_large", f"feed is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def read_file(url: str, max_bytes: int) -> bytes:
    path = Path(url2pathname(urlsplit(url).path))
    try:
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)
    except OSError as error:
        raise FetchError("file", f"cannot read {path}: {error.strerror}") from error
    if len(body) > max_bytes:
        raise FetchError("too_large", f"feed is larger than {max_bytes} bytes")
    return body


def _host(url: str) -> str:
    return urlsplit(url).hostname or url
