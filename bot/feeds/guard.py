"""SSRF guard for feed URLs typed in a chat: public http(s) hosts only, checked after DNS and on every hop.

- `check_url` (pure) refuses bad schemes, credentials and ports, and non-public IP literals in any inet_aton
  spelling (2130706433, 0177.0.0.1, 0x7f.1, 127.1): aiohttp connects to IP literals without asking the
  resolver. It parses with yarl, as aiohttp does, so both see the same host.
- `GuardedResolver` refuses a name if ANY address it resolves to is not allowed, and hands aiohttp exactly
  the addresses it checked: no DNS rebinding between check and connect.
- Redirects are followed by hand (allow_redirects=False) in `Fetcher`, which calls `check_url` on every
  hop; each hop's name goes through the resolver again.
A guarded session must not use a proxy (no trust_env, no proxy=): the proxy would resolve names itself.
Feeds from the config file are trusted and do not go through this guard.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from bot.errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Allowed = Callable[[IPAddress], bool]

# Specs: RFC 6890 and the IANA special-purpose registries (iana.org/assignments/iana-ipv4-special-registry,
# .../iana-ipv6-special-registry), RFC 1918 private, RFC 6598 CGNAT, RFC 4193 ULA, RFC 4291 IPv4-mapped,
# RFC 6052 NAT64, RFC 7526 6to4, RFC 4380 Teredo, RFC 5737/3849/9637 documentation.
# Checked in order; the first match names the reason.
BLOCKED = {
    "a cloud metadata address": "169.254.169.254 fd00:ec2::254 100.100.100.200 168.63.129.16",  # last: Azure
    "an unspecified ('this host') address": "0.0.0.0/8 ::/128",
    "a loopback address": "127.0.0.0/8 ::1/128",
    "a private address": "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16",
    "a unique-local (private) address": "fc00::/7",
    "a carrier-grade NAT address": "100.64.0.0/10",
    "a link-local address": "169.254.0.0/16 fe80::/10",
    "a site-local address": "fec0::/10",
    "a multicast address": "224.0.0.0/4 ff00::/8",
    "a documentation address": "192.0.2.0/24 198.51.100.0/24 203.0.113.0/24 2001:db8::/32 3fff::/20",
    "a benchmarking address": "198.18.0.0/15 2001:2::/48",
    "a reserved address": "240.0.0.0/4",
    "a 6to4 address, which can embed any IPv4 address": "2002::/16 192.88.99.0/24",
    "a Teredo address, which can embed any IPv4 address": "2001::/32",
    "an IETF protocol address": "192.0.0.0/24 2001::/23",
}
BLOCKED_NETWORKS = [
    (ipaddress.ip_network(n), reason) for reason, nets in BLOCKED.items() for n in nets.split()
]
GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NUMBER = re.compile(r"0x[0-9a-f]*|[0-9]+", re.IGNORECASE)


def refusal_reason(address: IPAddress) -> str | None:
    """Why a chat-supplied feed must not reach this address ("a loopback address"...), None if public."""
    if address.version == 6 and address.ipv4_mapped is not None:  # refused even when public: no feed needs it
        return f"{refusal_reason(address.ipv4_mapped) or 'an IPv4 address'} written as IPv4-mapped IPv6"
    if address.version == 6 and address in NAT64:
        reason = refusal_reason(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        return f"{reason} inside a NAT64 address" if reason else None
    for network, reason in BLOCKED_NETWORKS:
        if network.version == address.version and address in network:
            return reason
    if address.version == 6 and address not in GLOBAL_UNICAST_V6:
        return "not a global unicast address"
    return None if address.is_global else "a special-purpose address"


def is_public(address: IPAddress) -> bool:
    return refusal_reason(address) is None


def host_address(host: str) -> IPAddress | None:
    """The IP address a URL host spells literally, read as inet_aton would; None for a name. Pure.

    Specs: WHATWG URL Standard, IPv4 parser (parts in decimal, 0octal or 0xhex; the last fills the rest).
    """
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    parts = host.removesuffix(".").split(".")
    if not NUMBER.fullmatch(parts[-1]):
        return None  # a name: only hosts ending in a number are IPv4 (WHATWG "ends in a number")
    try:
        numbers = [_number(part) for part in parts]
        if len(parts) > 4 or any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(parts)):
            raise ValueError(host)
    except ValueError:
        raise FetchError("refused", f"{host} is neither a host name nor a valid IP address.") from None
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _number(part: str) -> int:
    if not NUMBER.fullmatch(part):
        raise ValueError(part)
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    return int(part, 8) if len(part) > 1 and part.startswith("0") else int(part)


def check_url(url: str | URL) -> None:
    """Raise FetchError("refused") unless url is http(s) to a public host with no credentials. Pure."""
    try:
        parsed = URL(url)
        port = parsed.explicit_port
    except ValueError as error:
        raise FetchError("refused", f"This is not a valid URL: {error}.") from None
    if parsed.scheme not in ("http", "https"):
        what = f"{parsed.scheme}: URLs are" if parsed.scheme else "A URL without http:// or https:// is"
        raise FetchError("refused", f"{what} not allowed; feeds added from a chat must use http or https.")
    if parsed.user is not None or parsed.password is not None:
        raise FetchError("refused", "URLs with a user name or password cannot be added from a chat.")
    if not parsed.raw_host:
        raise FetchError("refused", "This URL has no host.")
    if port == 0:
        raise FetchError("refused", "Port 0 is not a valid port.")
    host = parsed.raw_host
    address = host_address(host)
    if address is not None and (reason := refusal_reason(address)):
        name = host if host == str(address) else f"{host} (that is {address})"
        raise FetchError(
            "refused", f"{name} is {reason}; feeds added from a chat must be on the public internet."
        )


class GuardedResolver(AbstractResolver):
    """Resolves with `inner`, then refuses the host if any address is not `allowed`."""

    def __init__(self, inner: AbstractResolver | None = None, allowed: Allowed = is_public):
        self._inner = inner or ThreadedResolver()  # the system resolver; its close() is a no-op
        self._allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            address = ipaddress.ip_address(result["host"])
            if not self._allowed(address):
                reason = refusal_reason(address) or "not allowed"
                raise FetchError(
                    "refused",
                    f"{host} resolves to a private address ({address} is {reason}), so it is refused.",
                )
        return results  # exactly what was checked: the connector connects to these

    async def close(self) -> None:
        await self._inner.close()


def guarded_connector(
    *,
    allowed: Allowed = is_public,
    inner: AbstractResolver | None = None,
    limit: int = 50,
    limit_per_host: int = 4,
) -> aiohttp.TCPConnector:
    """A connector whose every name lookup goes through GuardedResolver. Needs a running event loop."""
    resolver = GuardedResolver(inner, allowed)
    return aiohttp.TCPConnector(resolver=resolver, limit=limit, limit_per_host=limit_per_host)


def refusal(error: BaseException) -> FetchError | None:
    """The guard's FetchError inside an aiohttp exception chain (e.g. ClientConnectorDNSError), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, FetchError) and current.kind == "refused":
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
