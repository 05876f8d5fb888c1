"""Which characters do a feed's bytes mean: BOM, UTF-8, header, declaration, detection. Pure, no I/O.

And, after parsing, whether the text came out readable (no U+FFFD, no "Ã©" mojibake), so that
parse_feed can keep the better of feedparser's reading and ours.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from charset_normalizer import from_bytes as _charset_guesses
from feedparser import FeedParserDict

_XML_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_XML_DECLARATION_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?)\sencoding\s*=\s*["'][^"']*["']""")
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_BOMS = (  # longest first: a UTF-32LE BOM starts with the UTF-16LE one
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF16_LE, "utf-16"),
)
# Without a BOM, UTF-16/32 shows in where the NULs fall in the first four bytes of ASCII-range text
# (XML 1.0 appendix F does this for "<?"): True marks a NUL.
_NUL_PATTERNS = {
    (True, True, True, False): "utf-32-be",
    (False, True, True, True): "utf-32-le",
    (True, False, True, False): "utf-16-be",
    (False, True, False, True): "utf-16-le",
}
# Labels that decode but are not how anyone writes a feed, and can smuggle markup (UTF-7) or escapes.
_REFUSED_CODECS = frozenset(
    {"utf-7", "unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"}
)


def decode_feed(body: bytes, content_type: str | None = None) -> str:
    """The feed's text: certain signs first, then the labels in the order a server and an author give them.

    1. A byte order mark, or the NULs of UTF-16/32 around the first characters (XML 1.0 appendix F).
       A BOM is certain, so bad bytes after it just become U+FFFD.
    2. Valid UTF-8 is UTF-8: a legacy label on such bytes is a server default (ISO-8859-1 stamped on a
       UTF-8 file turns "é" into "Ã©") and a "utf-16" one is a typo. Pure ASCII reads the same anyway.
    3. The header's charset, then the XML declaration's, then detection (charset-normalizer): the first
       that decodes without error and has markup in it (a wrong multi-byte label decodes to soup).
    4. UTF-8 with U+FFFD for the bytes that are not.
    """
    bom, codec = _bom(body)
    if bom:
        return body.decode(codec, "replace")  # these codecs consume the BOM
    for codec in (_NUL_PATTERNS.get(tuple(byte == 0 for byte in body[:4])), "utf-8"):
        text = _decoded(body, codec)
        if text is not None:
            return text
    for label in _labels(body, content_type):
        text = _decoded(body, _codec(label))
        if text is not None:
            return text
    return body.decode("utf-8", "replace")


def utf8_beyond_ascii(body: bytes) -> str | None:
    """The text of valid UTF-8 with characters beyond ASCII, no BOM and no UTF-16/32 NULs (decode_feed
    reads it as UTF-8 whatever the labels say, and no label reads it better: a legacy one turns "é"
    into "Ã©"); None for any other bytes."""
    if body.isascii() or _bom(body)[0] or 0 in body[:4]:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _bom(body: bytes) -> tuple[bytes, str]:
    """The byte order mark body starts with and its codec, or (b"", "")."""
    return next(((bom, codec) for bom, codec in _BOMS if body.startswith(bom)), (b"", ""))


def _decoded(body: bytes, codec: str | None) -> str | None:
    """body in codec, if it decodes without error into something with markup in it."""
    if codec is None:
        return None
    try:
        text = body.decode(codec)
    except UnicodeDecodeError:
        return None
    return text if "<" in text[:4096] else None


def _labels(body: bytes, content_type: str | None) -> Iterator[str | None]:
    """Header charset, declared encoding, detected one; lazily, so detection runs only when reached."""
    declared = _XML_DECLARED.match(body[:1024])
    declared_charset = declared.group(1).decode("ascii") if declared else None
    yield _header_charset(body, content_type, declared_charset)
    yield declared_charset
    yield _detected_charset(body)


def _header_charset(body: bytes, content_type: str | None, declared: str | None) -> str | None:
    """The header's charset; a legacy one only if it reads no worse than the declared (else detected) one.

    Servers stamp a default charset (often ISO-8859-1) on every file, and a single-byte code page decodes
    any bytes without error, so a wrong one would win silently: GB2312 news read as "ÖÁ8ÔÂ£¬". When the
    body says otherwise, detection arbitrates between the two readings; a tie keeps the header.
    """
    found = _HEADER_CHARSET.search(content_type or "")
    claim = _codec(found.group(1)) if found else None
    if claim is None or claim.startswith("utf"):
        return claim
    rival = _codec(declared) or _codec(_detected_charset(body))
    if rival is None or rival == claim:
        return claim
    readings = {_codec(g.encoding): g.chaos for g in _charset_guesses(body, cp_isolation=[claim, rival])}
    return rival if readings.get(rival, 1.0) < readings.get(claim, 1.0) else claim


def _detected_charset(body: bytes) -> str | None:
    """charset-normalizer's guess; windows-1252 when it is among the least chaotic readings.

    On mostly-ASCII Western text the detector finds several code pages equally clean and may pick
    a Baltic or Central European one (Portuguese "ção" read as cp1257 "ēćo"); windows-1252 is what
    unlabelled Western text on the web nearly always is, so it wins those ties.
    """
    guesses = list(_charset_guesses(body))
    if not guesses:
        return None
    cleanest = min(g.chaos for g in guesses)
    tied = [g for g in guesses if g.chaos <= cleanest]
    if any("cp1252" in g.could_be_from_charset for g in tied):
        return "cp1252"
    return tied[0].encoding


def _codec(label: str | None) -> str | None:
    """Python's codec for an encoding label, None for unknown or refused ones; GB2312 read as GB18030."""
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    if name in _REFUSED_CODECS:
        return None
    return "gb18030" if name in ("gb2312", "gbk") else name


def reads_the_same(body: bytes, feedparser_encoding: str, text: str) -> bool:
    """Whether feedparser decoded body into the same text as decode_feed (then one parse is enough)."""
    codec = _codec(feedparser_encoding)
    if codec is None:
        return False
    bom, _ = _bom(body)  # feedparser drops it before decoding
    return body[len(bom) :].decode(codec, "replace") == text


def as_utf8_xml(text: str) -> bytes:
    """UTF-8 bytes of text with the declaration's encoding removed, so that nothing decodes them again."""
    return _XML_DECLARATION_ENCODING.sub(r"\1", text, count=1).encode("utf-8", "replace")


# --- Readability: did the decoding come out as real text? ---------------------------------------------

_CP1252_EXTRAS = bytes(range(0x80, 0xA0)).decode("cp1252", "ignore")
# A UTF-8 lead byte then continuation bytes, each read as one windows-1252/latin-1 character: "Ã©", "â€™".
_MOJIBAKE = re.compile(f"[\u00c2-\u00f4][\u0080-\u00bf{re.escape(_CP1252_EXTRAS)}]+")


def unreadable(parsed: FeedParserDict) -> tuple[int, int]:
    """(replacement characters + mojibake runs, minus entries): lower is the better decoding."""
    entries = parsed.get("entries", [])
    texts = [parsed.get("feed", {}).get("title", "")]
    texts += [e.get(key, "") for e in entries for key in ("title", "summary")]
    return sum(t.count("\ufffd") + _mojibake_runs(t) for t in texts), -len(entries)


def _mojibake_runs(text: str) -> int:
    return sum(1 for run in _MOJIBAKE.findall(text) if _is_misread_utf8(run))


def _is_misread_utf8(run: str) -> bool:
    """Whether these characters are the bytes of UTF-8 text shown as windows-1252 (or latin-1)."""
    for legacy in ("cp1252", "latin-1"):
        try:
            run.encode(legacy).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        return True
    return False
