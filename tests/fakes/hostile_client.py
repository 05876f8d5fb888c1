"""A hostile client: requests written byte by byte on a socket (headers no HTTP library sends, such
as a byte 0xFF), and odd bytes, text and JSON from a seeded generator, so a failure can be replayed."""

from __future__ import annotations

import asyncio
import copy
import random
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

Headers = Sequence[tuple[bytes, bytes]]

ODD_TEXT = [
    "", " ", "\u00b2", "\u0663", "1" * 5000, "-1", "1e3", "0x1f", "\x00", "null", "[]", "{}", "%", "%FF",
    "\u202e", "\U0001f600", "a" * 10_000, "v0=", "=&=&", "\ud800",
]  # fmt: skip
ODD_BYTES = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80abc", b"\x00", b"v0=\xff", b"\xef\xbb\xbf"]
DEEP = b"[" * 100_000  # JSON nested past any parser's recursion limit


async def post_raw(url: str, headers: Headers, body: bytes) -> tuple[int, bytes]:
    """POST `body` with exactly these header bytes; the status and body of the answer."""
    where = urlsplit(url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    head = [
        b"POST " + where.path.encode() + b" HTTP/1.1",
        b"Host: " + where.netloc.encode(),
        b"Content-Length: %d" % len(body),
        b"Connection: close",
        *(name + b": " + value for name, value in headers),
    ]
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def odd_text(rng: random.Random) -> str:
    """A string that breaks careless code: from ODD_TEXT, or random code points of every plane."""
    if rng.random() < 0.5:
        return rng.choice(ODD_TEXT)
    return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x110000)])) for _ in range(8))


def odd_bytes(rng: random.Random, size: int = 40) -> bytes:
    """Bytes that are not UTF-8, or not text at all; never CR or LF (they would end a header)."""
    if rng.random() < 0.5:
        return rng.choice(ODD_BYTES)
    return bytes(rng.choice([b for b in range(256) if b not in b"\r\n"]) for _ in range(rng.randrange(size)))


def odd_json(rng: random.Random, names: Sequence[str], depth: int = 3) -> Any:
    """Any JSON value, objects keyed mostly by `names` (the fields code reads)."""
    kind = rng.randrange(8 if depth > 0 else 6)
    if kind < 6:
        return [None, True, rng.randrange(-(2**70), 2**70), rng.uniform(-1e300, 1e300), odd_text(rng),
                rng.choice(names)][kind]  # fmt: skip
    if kind == 6:
        return [odd_json(rng, names, depth - 1) for _ in range(rng.randrange(3))]
    keys = [rng.choice(names) if rng.random() < 0.8 else odd_text(rng) for _ in range(rng.randrange(5))]
    return {key: odd_json(rng, names, depth - 1) for key in keys}


def replace_somewhere(rng: random.Random, data: Any, names: Sequence[str]) -> Any:
    """A copy of `data` (JSON) with the value at one random place in it replaced by odd JSON."""
    data = copy.deepcopy(data)
    parent: Any = None
    key: Any = None
    value = data
    while isinstance(value, dict | list) and value and rng.random() < 0.7:
        parent, key = value, rng.choice(list(value) if isinstance(value, dict) else range(len(value)))
        value = value[key]
    if parent is None:
        return odd_json(rng, names)
    parent[key] = odd_json(rng, names)
    return data


def damaged(rng: random.Random, body: bytes) -> bytes:
    """`body` cut short, or with a few bytes changed."""
    if rng.random() < 0.3:
        return body[: rng.randrange(len(body) + 1)]
    out = bytearray(body)
    for _ in range(rng.randrange(1, 4)):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)
