"""Shared by the rewriter tests: a fake sealer and the checks every rewritten message must pass.

The fake sealer's token is the URL itself in base64url behind ``https://lg.test/r/``, so a test
can open any token and get the destination back. The checks read the output with the stdlib
email parser and an HTML parser of their own, not with the rewriter's code.
"""

from __future__ import annotations

import base64
import email
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path

from linkguard.rewriter import LinkOutcome, RewriteContext, RewriteReport, rewrite_message

PREFIX = "https://lg.test/r/"
TOKEN = re.compile(re.escape(PREFIX) + r"[A-Za-z0-9_-]*")
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "emails"
MESSAGES = Path(__file__).resolve().parent / "messages"
_MESSAGE_TYPES = ("message/rfc822", "message/global", "message/news")
_PLAIN_URL = re.compile(r"https?://[^\s<>\"`]+", re.IGNORECASE)


def seal_url(url: str) -> str:
    return PREFIX + base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")


def open_token(token: str) -> str:
    assert token.startswith(PREFIX)
    data = token[len(PREFIX) :]
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8")


@dataclass
class FakeSealer:
    """Seals every http(s) URL but its own and those ``decline`` picks."""

    decline_every: int = 0  # decline URLs whose CRC-32 is divisible by this (0: none)
    declined: set[str] = field(default_factory=set)
    calls: list[tuple[str, str | None, int]] = field(default_factory=list)

    def __call__(self, url: str, *, display_text: str | None, index: int) -> str | None:
        self.calls.append((url, display_text, index))
        if (
            url.startswith(PREFIX)
            or "decline.example" in url
            or (self.decline_every and zlib.crc32(url.encode("utf-8")) % self.decline_every == 0)
        ):
            self.declined.add(url)
            return None
        return seal_url(url)


def context(sealer: FakeSealer | None = None, **overrides: object) -> RewriteContext:
    return RewriteContext(
        sealer=sealer or FakeSealer(),
        is_sealed=lambda url: url.startswith(PREFIX),
        **overrides,  # type: ignore[arg-type]
    )


def eml_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.eml"))


# --- reading messages the stdlib way ------------------------------------------------------


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw)


def leaves(
    msg: Message, path: str = "", *, message: bool = True, attached: bool = False
) -> Iterator[tuple[str, Message, bool]]:
    """(IMAP section, part, inside an attachment) of every leaf, numbered like RFC 3501 §6.4.5."""
    ctype = msg.get_content_type()
    payload = raw_payload(msg)
    attached = attached or msg.get_content_disposition() == "attachment"
    if ctype.startswith("multipart/") and isinstance(payload, list):
        for number, child in enumerate(payload, 1):
            section = f"{path}.{number}" if path else str(number)
            yield from leaves(child, section, message=False, attached=attached)
        return
    section = f"{path}.1" if message and path else ("1" if message else path)
    if ctype in _MESSAGE_TYPES and isinstance(payload, list) and payload:
        yield from leaves(payload[0], section, message=True, attached=attached)
        return
    yield section, msg, attached


def raw_payload(part: Message) -> object:
    """The payload as parsed: a list of parts, or the body undecoded.

    ``get_payload()`` would decode 8-bit bodies with the charset parameter, and raises on an
    RFC 2231 charset in damaged mail; the parsed value itself is what we compare.
    """
    return part._payload  # type: ignore[attr-defined]


def sections(raw: bytes) -> dict[str, tuple[Message, bool]]:
    return {section: (part, attached) for section, part, attached in leaves(parse(raw))}


def decoded_text(part: Message) -> str:
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    charset = part.get_content_charset()
    if charset in (None, "us-ascii") and not data.isascii():
        # Undeclared 8-bit text: UTF-8 if it is, else windows-1252 (what browsers assume).
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", "surrogateescape")
    try:
        return data.decode(charset or "ascii", "surrogateescape")
    except LookupError:
        return data.decode("latin-1")


def unfold_ics(text: str) -> str:
    return re.sub(r"\r?\n[ \t]", "", text)


class _HtmlLinks(HTMLParser):
    # HTMLParser reads only script and style as raw text; browsers also these (WHATWG §13.2.2).
    _RAW = ("title", "textarea", "xmp", "iframe", "noembed", "noframes")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._RAW:
            self.set_cdata_mode(tag)
        wanted = {"a": "href", "area": "href", "form": "action"}.get(tag)
        for name, value in attrs:
            if name == wanted and value is not None:
                self.links.append(value.strip(" \t\r\n\f").replace("\n", "").replace("\t", ""))


def html_links(text: str) -> list[str]:
    parser = _HtmlLinks()
    parser.feed(text)
    parser.close()
    return parser.links


# --- the checks ----------------------------------------------------------------------------


def header_line(report: RewriteReport, raw: bytes) -> bytes:
    nl = raw.find(b"\n")
    eol = b"\r\n" if nl < 0 or raw[nl - 1 : nl] == b"\r" else b"\n"
    return f"X-LinkGuard: {report.header}".encode("ascii") + eol


# A field of our name with its continuation lines; lines end at CRLF, LF or a lone CR (as in
# mime.py and the stdlib's feed parser), so a field may start after a lone CR, where re's "^"
# (multiline) would not see a line start. White space before the colon is RFC 5322's obsolete
# syntax (§4.5.3), which the rewriter reads as the field it names.
_FORGED = re.compile(
    rb"(?i)(?:\A|(?<=\n)|(?<=\r))x-linkguard[ \t]*:[^\r\n]*(?:\r\n?|\n|\Z)"
    rb"(?:[ \t][^\r\n]*(?:\r\n?|\n|\Z))*"
)
_CTE = re.compile(rb"(?i)(?:\A|(?<=\n)|(?<=\r))content-transfer-encoding:[^\r\n]*(?:\r\n?|\n)")


def check_headers(raw: bytes, out: bytes, report: RewriteReport) -> tuple[bytes, bytes]:
    """Our header is in, nothing else in the top header block changed.

    Returns the input without the untrusted fields we remove, and the output without our
    field: the two messages the rest of the checks compare part by part.
    """
    ours = header_line(report, raw)
    at = out.find(ours)
    assert at >= 0, "our header is missing"
    stripped = out[:at] + out[at + len(ours) :]
    original = _FORGED.sub(b"", raw, report.removed_headers) if report.removed_headers else raw
    if original and not original.endswith((b"\n", b"\r")) and at == len(stripped):
        original += ours[len(ours.rstrip(b"\r\n")) :]  # headers only: the last field got a break
    if "1" in report.reencoded:  # the top-level part became quoted-printable
        after = _CTE.sub(b"", stripped[:at])
        assert _CTE.sub(b"", original).startswith(after), "a header before ours changed"
    else:
        assert stripped[:at] == original[:at], "a header before ours changed"
    if report.passthrough is not None:
        assert stripped == original, "a pass-through changed the message"
    return original, stripped


def check_message(raw: bytes, out: bytes, report: RewriteReport, sealer: FakeSealer) -> None:
    """Every property the rewriter promises, checked on one (input, output) pair."""
    before, after = (sections(message) for message in check_headers(raw, out, report))
    assert before.keys() == after.keys(), "the part structure changed"
    rewritten: dict[str, list[tuple[str, str]]] = {}
    for link in report.links:
        if link.outcome is LinkOutcome.REWRITTEN:
            assert link.replacement is not None
            assert open_token(link.replacement) == link.url
            rewritten.setdefault(link.part, []).append((link.replacement, link.source))
    for section, (part, _) in after.items():
        old = before[section][0]
        if section not in rewritten:
            assert _content(part) == _content(old), f"part {section} changed"
            continue
        _check_put_back(section, old, part, rewritten[section], report.reencoded)
        for token in TOKEN.findall(unfold_ics(decoded_text(part))):
            assert any(open_token(token) == link.url for link in report.links), token
    if report.passthrough is not None:
        return  # nothing was promised but the bytes, checked above
    skipped = {n.part for n in report.untouched}
    for section, (part, attached) in after.items():
        if not attached and section not in skipped and not _under(section, skipped):
            _check_all_sealed(section, part, sealer)


def _content(part: Message) -> object:
    """Headers and payload, recursively for message/delivery-status & co."""
    items = part.items()
    payload = raw_payload(part)
    if isinstance(payload, list):
        return items, [_content(child) for child in payload]
    return items, payload


def _under(section: str, sections: set[str]) -> bool:
    return any(s == "" or section.startswith(s + ".") for s in sections)


def _check_put_back(
    section: str,
    old: Message,
    new: Message,
    links: list[tuple[str, str]],
    reencoded: tuple[str, ...],
) -> None:
    calendar = new.get_content_type() in ("text/calendar", "application/ics")
    text = decoded_text(new)
    expected = decoded_text(old)
    if calendar:
        text, expected = unfold_ics(text), unfold_ics(expected)
    pos = 0
    for replacement, source in links:
        at = text.find(replacement, pos)
        assert at >= 0, f"part {section}: {replacement} not found in order"
        text = text[:at] + source + text[at + len(replacement) :]
        pos = at + len(source)
    assert text == expected, f"part {section} differs beyond its links"
    old_cte = (old.get("content-transfer-encoding") or "").strip().lower()
    cte = (new.get("content-transfer-encoding") or "").strip().lower()
    assert cte == old_cte or (section in reencoded and cte == "quoted-printable")
    if cte == "quoted-printable":
        raw_body = raw_payload(new)
        assert isinstance(raw_body, str)
        assert max(map(len, raw_body.splitlines()), default=0) <= 76 or (
            raw_body != raw_payload(old) and _long_lines_kept(old, new)
        )


def _long_lines_kept(old: Message, new: Message) -> bool:
    """Over-long encoded lines in the output must be ones the input had already."""
    old_lines = set(str(raw_payload(old)).splitlines())
    return all(len(line) <= 76 or line in old_lines for line in str(raw_payload(new)).splitlines())


def _ours_or_declined(url: str, sealer: FakeSealer) -> bool:
    return url.startswith(PREFIX) or any(url.startswith(d) for d in sealer.declined)


def _check_all_sealed(section: str, part: Message, sealer: FakeSealer) -> None:
    ctype = part.get_content_type()
    if ctype not in ("text/html", "text/plain", "text/calendar"):
        return
    text = decoded_text(part)
    if "-----BEGIN PGP" in text:
        return
    if ctype == "text/html":
        found = [u for u in html_links(text) if re.match(r"(?i)https?:", u)]
    elif ctype == "text/calendar":  # unfolded, up to an escaped "," ";" or "\n" (RFC 5545)
        found = re.findall(r"https?://[^\s\\\"<>]+", unfold_ics(text), re.IGNORECASE)
    else:
        found = _PLAIN_URL.findall(text)
    for url in found:
        assert _ours_or_declined(url, sealer), f"part {section}: {url[:80]} was not sealed"


def rewrite_and_check(raw: bytes, **overrides: object) -> tuple[bytes, RewriteReport]:
    """Rewrite, check every promise, and check that a second pass changes nothing."""
    sealer = FakeSealer(decline_every=int(str(overrides.pop("decline_every", 0))))
    ctx = context(sealer, **overrides)
    out, report = rewrite_message(raw, ctx)
    check_message(raw, out, report, sealer)
    again, report2 = rewrite_message(out, ctx)
    assert again == out, "a second pass changed the message"
    assert report2.header == report.header
    return out, report
