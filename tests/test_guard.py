"""SSRF guard: URL and address tables (pure), then resolver and redirects against a real loopback server."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.errors import FetchError
from bot.feeds.fetch import Fetcher, FetchLimits
from bot.feeds.guard import check_url, guarded_connector, host_address, is_public, refusal

REFUSED_URLS = [
    ("ftp://example.org/feed.xml", "ftp: URLs are not allowed"),
    ("file:///etc/passwd", "file: URLs are not allowed"),
    ("javascript:alert(1)", "javascript: URLs are not allowed"),
    ("example.org/feed.xml", "without http:// or https://"),
    ("http://user:pw@example.org/", "user name or password"),
    ("http://user@example.org/", "user name or password"),
    ("http:///feed.xml", "has no host"),
    ("http://example.org:0/", "Port 0"),
    ("http://example.org:99999/", "not a valid URL"),
    ("http://example.org:abc/", "not a valid URL"),
    ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
    ("http://[::1]/", "::1 is a loopback address"),
    ("http://2130706433/", "2130706433 (that is 127.0.0.1) is a loopback address"),
    ("http://0177.0.0.1/", "(that is 127.0.0.1) is a loopback address"),
    ("http://0x7f.0.0.1/", "(that is 127.0.0.1) is a loopback address"),
    ("http://127.1/", "(that is 127.0.0.1) is a loopback address"),
    ("http://127.0.0.1./", "is a loopback address"),
    ("http://１２７.０.０.１/", "127.0.0.1 is a loopback address"),  # fullwidth digits, folded by IDNA
    ("http://10.0.0.1/", "a private address"),
    ("http://172.16.5.4/", "a private address"),
    ("http://192.168.1.1/", "a private address"),
    ("http://169.254.169.254/latest/meta-data", "a cloud metadata address"),
    ("http://100.100.100.200/", "a cloud metadata address"),
    ("http://100.64.0.1/", "a carrier-grade NAT address"),
    ("http://224.0.0.1/", "a multicast address"),
    ("http://0.0.0.0/", "an unspecified ('this host') address"),
    ("http://0/", "an unspecified ('this host') address"),
    ("http://[fc00::1]/", "a unique-local (private) address"),
    ("http://[fe80::1]/", "a link-local address"),
    ("http://[fe80::1%25eth0]/", "a link-local address"),
    ("http://[::ffff:127.0.0.1]/", "a loopback address written as IPv4-mapped IPv6"),
    ("http://[fd00:ec2::254]/", "a cloud metadata address"),
    ("http://1.2.3.256/", "neither a host name nor a valid IP address"),
    ("http://example.123/", "neither a host name nor a valid IP address"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED_URLS)
def test_check_url_refuses_with_a_sentence_naming_why(url: str, why: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_url(url)
    assert caught.value.kind == "refused"
    assert why in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/feed.xml",
        "http://93.184.216.34/",
        "HTTP://Example.ORG:8080/rss",
        "http://[2606:4700::1111]/",
    ],
)
def test_check_url_accepts_public_http(url: str) -> None:
    check_url(url)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0X7F.1", "127.0.0.1"),
        ("0127.0.0.1", "87.0.0.1"),  # a leading 0 is octal, as inet_aton reads it
        ("10.1.257", "10.1.1.1"),
        ("::1", "::1"),
        ("example.org", None),
        ("0x7f.example", None),
    ],
)
def test_host_address_reads_ip_literals_like_inet_aton(host: str, address: str | None) -> None:
    assert host_address(host) == (ipaddress.ip_address(address) if address else None)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("64:ff9b::5db8:d822", True),  # NAT64 of 93.184.216.34: IPv6-only hosts behind DNS64 see these
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.31.255.255", False),
        ("172.32.0.1", True),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("100.127.255.255", False),
        ("100.100.100.200", False),
        ("168.63.129.16", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("240.0.0.1", False),
        ("0.0.0.0", False),
        ("192.0.2.1", False),
        ("198.51.100.1", False),
        ("203.0.113.1", False),
        ("198.18.0.1", False),
        ("::", False),
        ("::1", False),
        ("fc00::1", False),
        ("fd00:ec2::254", False),
        ("fe80::1", False),
        ("ff02::1", False),
        ("2001:db8::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:93.184.216.34", False),  # mapped forms are refused even when the IPv4 is public
        ("::127.0.0.1", False),  # deprecated IPv4-compatible form
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("64:ff9b:1::a00:1", False),  # local-use NAT64 prefix
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:5db8:d822::", False),  # 6to4 of a public address: deprecated, refused anyway
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
    ],
)
def test_is_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_refusal_digs_the_guard_error_out_of_a_chain() -> None:
    guard_error = FetchError("refused", "localhost resolves to a private address")
    try:
        try:
            raise guard_error
        except FetchError as error:
            raise aiohttp.ClientConnectionError("cannot connect") from error
    except aiohttp.ClientError as wrapped:
        assert refusal(wrapped) is guard_error
    assert refusal(aiohttp.ClientConnectionError("cannot connect")) is None
    assert refusal(FetchError("http", "HTTP 500", 500)) is None


@dataclass
class FakeResolver(AbstractResolver):
    """Name -> addresses from a dict: a stand-in for DNS that never leaves the process."""

    names: dict[str, list[str]]
    asked: list[str] = field(default_factory=list)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"{host}: no such name")
        return [
            ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET, proto=0, flags=0)
            for a in self.names[host]
        ]

    async def close(self) -> None:
        pass


@dataclass
class Server:
    port: int
    requests: list[str]  # "Host path" of every request that reached the server


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    requests: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        requests.append(f"{request.host} {request.path}")
        port = request.url.port
        if request.path == "/feed.xml":
            return web.Response(body=b"<rss/>", content_type="application/rss+xml")
        if request.path == "/redirect":
            return web.Response(status=302, headers={"Location": f"http://127.0.0.1:{port}/feed.xml"})
        if request.path == "/relative":
            return web.Response(status=301, headers={"Location": "/feed.xml"})
        if request.path == "/loop":
            return web.Response(status=302, headers={"Location": "/loop"})
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{path:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield Server(runner.addresses[0][1], requests)
    await runner.cleanup()


LOOPBACK = ipaddress.ip_address("127.0.0.1")


def news_example_session() -> aiohttp.ClientSession:
    """news.example points at 127.0.0.1 and that one address is declared public for the test."""
    inner = FakeResolver({"news.example": ["127.0.0.1"]})
    return aiohttp.ClientSession(connector=guarded_connector(inner=inner, allowed=lambda a: a == LOOPBACK))


async def test_a_name_resolving_to_loopback_is_refused_before_connecting(server: Server) -> None:
    async with aiohttp.ClientSession(connector=guarded_connector()) as session:
        with pytest.raises(Exception) as caught:
            await session.get(f"http://localhost:{server.port}/feed.xml")
    refused = refusal(caught.value)
    assert refused is not None and refused.kind == "refused"
    assert "localhost resolves to a private address" in str(refused)
    assert "a loopback address" in str(refused)
    assert server.requests == []


async def test_any_private_answer_refuses_the_name(server: Server) -> None:
    inner = FakeResolver({"mixed.example": ["93.184.216.34", "127.0.0.1"]})
    async with aiohttp.ClientSession(connector=guarded_connector(inner=inner)) as session:
        with pytest.raises(Exception) as caught:
            await session.get(f"http://mixed.example:{server.port}/feed.xml")
    refused = refusal(caught.value)
    assert refused is not None and "mixed.example resolves to a private address (127.0.0.1" in str(refused)
    assert inner.asked == ["mixed.example"]
    assert server.requests == []


def guarded_fetcher(session: aiohttp.ClientSession, **limits: int) -> Fetcher:
    return Fetcher(session, FetchLimits(**limits), check_hop=check_url)


async def test_an_allowed_name_connects_to_the_checked_address(server: Server) -> None:
    async with news_example_session() as session:
        result = await guarded_fetcher(session).fetch(f"http://news.example:{server.port}/feed.xml")
    assert result.body == b"<rss/>"
    assert server.requests == [f"news.example:{server.port} /feed.xml"]


async def test_a_redirect_to_loopback_is_refused_before_following_it(server: Server) -> None:
    async with news_example_session() as session:
        with pytest.raises(FetchError) as caught:
            await guarded_fetcher(session).fetch(f"http://news.example:{server.port}/redirect")
    assert caught.value.kind == "refused"
    assert "127.0.0.1 is a loopback address" in str(caught.value)
    assert server.requests == [f"news.example:{server.port} /redirect"]


async def test_a_relative_redirect_is_followed(server: Server) -> None:
    async with news_example_session() as session:
        result = await guarded_fetcher(session).fetch(f"http://news.example:{server.port}/relative")
    assert result.url == result.moved_to == f"http://news.example:{server.port}/feed.xml"
    assert [r.split()[1] for r in server.requests] == ["/relative", "/feed.xml"]


async def test_redirects_are_capped(server: Server) -> None:
    async with news_example_session() as session:
        with pytest.raises(FetchError) as caught:
            await guarded_fetcher(session, max_redirects=2).fetch(f"http://news.example:{server.port}/loop")
    assert caught.value.kind == "redirect"
    assert len(server.requests) == 3


async def test_the_first_url_is_checked_too(server: Server) -> None:
    async with news_example_session() as session:
        with pytest.raises(FetchError, match="a loopback address"):
            await guarded_fetcher(session).fetch(f"http://127.0.0.1:{server.port}/feed.xml")
    assert server.requests == []


async def test_a_guarded_fetcher_reads_no_files() -> None:
    async with aiohttp.ClientSession(connector=guarded_connector()) as session:
        for url in ("file:///etc/hostname", "FILE:///etc/passwd", "file://localhost/etc/passwd"):
            with pytest.raises(FetchError) as caught:
                await guarded_fetcher(session).fetch(url)
            assert caught.value.kind == "refused" and "/etc" not in str(caught.value)
