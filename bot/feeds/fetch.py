"""Fetch a feed's bytes: one shared aiohttp session, conditional GET, timeouts, a size cap,
redirects followed by hand (each hop checked), and what the server says about caching.

`file://` URLs are read from disk; only the config file may name them (it is trusted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import aiohttp

from bot import PROJECT_URL, __version__
from bot.errors import FetchError
from bot.feeds.guard import refusal
from bot.feeds.schedule import hint_number

USER_AGENT = f"newsalert/{__version__} (+{PROJECT_URL})"
_REDIRECTS = {301, 302, 303, 307, 308}
_PERMANENT = {301, 308}
_LONGEST = 366 * 86400  # seconds: a hint beyond a year is read as a year


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
    moved_to: str | None = None  # set when every redirect was permanent (301/308): the new address
    content_type: str | None = None
    fresh_for: timedelta | None = None  # Cache-Control max-age or Expires: no news before then
    links: str | None = None  # the Link header (RFC 8288): where WebSub finds a hub


def open_session(connector: aiohttp.BaseConnector | None = None) -> aiohttp.ClientSession:
    """The one client session every feed fetch shares (connection pool, DNS cache)."""
    connector = connector or aiohttp.TCPConnector(limit=50, limit_per_host=4)
    return aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT})


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    # Specs: RFC 9110 section 13.1.2 (If-None-Match) and 13.1.3 (If-Modified-Since).
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def fresh_for(headers: dict[str, str] | aiohttp.typedefs.LooseHeaders, now: datetime) -> timedelta | None:
    """How long the response says it stays fresh. Specs: RFC 9111 sections 5.2.2.1 and 5.3."""
    control = str(headers.get("Cache-Control", "")).lower()  # type: ignore[union-attr]
    for directive in control.split(","):
        name, _, value = directive.strip().partition("=")
        seconds = hint_number(value.strip('"'), _LONGEST) if name == "max-age" else None
        if seconds is not None:
            return timedelta(seconds=seconds)
    expires = _http_date(headers.get("Expires"))  # type: ignore[union-attr]
    return max(expires - now, timedelta(0)) if expires else None


def retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date. Specs: RFC 9110 section 10.2.3."""
    if not value:
        return None
    seconds = hint_number(value, _LONGEST)
    if seconds is not None:
        return float(seconds)
    when = _http_date(value)
    return max((when - now).total_seconds(), 0.0) if when else None


def _http_date(value: str | None) -> datetime | None:
    try:
        when = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    return when if when is None or when.tzinfo else when.replace(tzinfo=UTC)


class Fetcher:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        limits: FetchLimits | None = None,
        check_hop: Callable[[str], None] | None = None,
    ):
        self.session = session
        self.limits = limits or FetchLimits()
        self.check_hop = check_hop  # called on every URL before it is requested (SSRF guard)
        limits = self.limits
        self.timeout = aiohttp.ClientTimeout(
            total=limits.total_timeout, sock_connect=limits.connect_timeout, sock_read=limits.read_timeout
        )

    async def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        if self.check_hop:  # before anything else: a guarded fetcher never reads files either
            self.check_hop(url)
        if urlsplit(url).scheme == "file":
            body = await asyncio.to_thread(read_file, url, self.limits.max_bytes)
            return FetchResult(body, None, None, url)
        try:
            return await self._follow(url, conditional_headers(etag, last_modified))
        except TimeoutError as error:
            raise FetchError("timeout", f"{_host(url)} did not answer in time") from error
        except aiohttp.ClientError as error:  # the SSRF guard's refusal may arrive wrapped in one
            raise refusal(error) or FetchError(
                "network", f"cannot reach {_host(url)}: {type(error).__name__}"
            ) from error

    async def _follow(self, url: str, headers: dict[str, str]) -> FetchResult:
        """GET, following redirects by hand so that every hop is checked and permanence is known."""
        all_permanent, moved = True, None
        for hop in range(self.limits.max_redirects + 1):
            if self.check_hop and hop:  # the first URL was checked by fetch()
                self.check_hop(url)
            async with self.session.get(
                url, headers=headers, timeout=self.timeout, allow_redirects=False
            ) as response:
                if response.status not in _REDIRECTS:
                    return await self._result(response, url, headers, moved)
                location = response.headers.get("Location")
                if not location:
                    raise FetchError("redirect", f"{_host(url)} redirected nowhere", response.status)
                # Specs: RFC 9110 sections 15.4.2 (301) and 15.4.9 (308): update stored links.
                all_permanent = all_permanent and response.status in _PERMANENT
                url = urljoin(url, location)
                moved = url if all_permanent else None
        raise FetchError("redirect", f"{_host(url)} redirected more than {self.limits.max_redirects} times")

    async def _result(
        self, response: aiohttp.ClientResponse, url: str, headers: dict[str, str], moved: str | None
    ) -> FetchResult:
        now = datetime.now(UTC)
        fresh = fresh_for(response.headers, now)
        links = ", ".join(response.headers.getall("Link", ())) or None
        # Specs: RFC 9110 section 15.4.5 (304 Not Modified).
        if response.status == 304:
            etag, modified = headers.get("If-None-Match"), headers.get("If-Modified-Since")
            return FetchResult(None, etag, modified, url, moved, None, fresh, links)
        if response.status == 410:
            raise FetchError("gone", f"{_host(url)} says the feed is gone for good (HTTP 410)", 410)
        if response.status >= 400:
            wait = retry_after(response.headers.get("Retry-After"), now)
            raise FetchError("http", f"{_host(url)} answered HTTP {response.status}", response.status, wait)
        body = await _read_capped(response, self.limits.max_bytes)
        return FetchResult(
            body,
            response.headers.get("ETag"),
            response.headers.get("Last-Modified"),
            url,
            moved,
            response.headers.get("Content-Type"),
            fresh,
            links,
        )


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    if (response.content_length or 0) > max_bytes and "Content-Encoding" not in response.headers:
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
