"""Values of the rewriter: what the caller passes in and what it gets back.

The rewriter knows nothing about tokens. The caller hands it a :class:`LinkSealer`, a callable
that turns one destination into our sealed link (or declines), and gets back the new message
bytes with a :class:`RewriteReport` saying what was done and what was left alone, and why.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class LinkSealer(Protocol):
    """Turns one http(s) destination into the link that replaces it.

    Returns the replacement (our sealed link) or ``None`` to leave the link as it is: already
    ours, on the do-not-rewrite list, too long to seal … A replacement must be one token of
    printable ASCII without spaces (a URL as RFC 3986 writes it); anything else is refused and the
    link counted as skipped, so no sealer can break a part's syntax.
    """

    def __call__(self, url: str, *, display_text: str | None, index: int) -> str | None: ...


class Reason(enum.StrEnum):
    """Why a message or a part was left as it was. Stable codes: they appear in the header."""

    TOO_LARGE = "mime.too_large"  # message over RewriteContext.max_bytes
    TOO_DEEP = "mime.too_deep"  # multipart/message nesting past RewriteContext.max_depth
    MALFORMED = "mime.malformed"  # no header fields, multipart without usable boundary
    UNKNOWN_CHARSET = "mime.unknown_charset"  # charset name no codec knows
    BAD_CHARSET = "mime.bad_charset"  # bytes that the declared charset cannot round-trip
    UNKNOWN_ENCODING = "mime.unknown_encoding"  # Content-Transfer-Encoding we do not know
    BAD_ENCODING = "mime.bad_encoding"  # base64 that does not decode strictly
    SIGNED = "mime.signed"  # multipart/signed, S/MIME signed-data
    ENCRYPTED = "mime.encrypted"  # multipart/encrypted, S/MIME enveloped-data, PGP
    PGP_INLINE = "mime.pgp_inline"  # an inline PGP armor block inside a text part
    INTERNAL = "internal.error"  # a bug or a sealer that raised: caller should tempfail


class LinkPlace(enum.StrEnum):
    """Where in the message a link was found."""

    HTML_A = "html.a"  # a[href] (and SVG a[xlink:href])
    HTML_AREA = "html.area"  # area[href] of an image map
    HTML_FORM = "html.form"  # form[action], button/input[formaction]
    TEXT = "text"  # a URL a mail client would linkify in plain text
    CALENDAR = "calendar"  # DESCRIPTION, LOCATION, URL … of a text/calendar part


class LinkOutcome(enum.StrEnum):
    REWRITTEN = "rewritten"
    ALREADY_SEALED = "already_sealed"  # RewriteContext.is_sealed recognised it
    DECLINED = "declined"  # the sealer returned None
    BAD_REPLACEMENT = "bad_replacement"  # the sealer returned something that is not a URL token
    UNENCODABLE = "unencodable"  # the part's charset cannot carry the replacement


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """One clickable http(s) link the rewriter saw."""

    part: str  # IMAP section (RFC 3501 §6.4.5) of the part: "1", "2.1" …
    place: LinkPlace
    url: str  # what the sealer was asked about (entities decoded, base resolved)
    source: str  # the text it replaced, as it stood in the decoded part
    replacement: str | None  # what is in the message now; None when the link was left
    outcome: LinkOutcome
    display_text: str | None = None


@dataclass(frozen=True, slots=True)
class PartNote:
    """A part (or a region of one) left byte-identical on purpose, and why."""

    part: str  # IMAP section; "" for the message as a whole
    content_type: str
    reason: Reason


def _never(url: str) -> bool:  # noqa: ARG001 - the default of RewriteContext.is_sealed
    return False


# RFC 5322 §3.6.8: a field name is printable US-ASCII except the colon.
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")


@dataclass(frozen=True, slots=True)
class RewriteContext:
    sealer: LinkSealer
    max_bytes: int = 50 * 1024 * 1024
    max_depth: int = 20
    header_name: str = "X-LinkGuard"
    rewrite_attachments: bool = False  # links in text/html, text/plain … attachments too
    # Recognises links that are already ours. They are left as they are (the sealer is not
    # asked) and counted with the rewritten ones in the header, so a second pass over a
    # rewritten message writes the very same bytes.
    is_sealed: Callable[[str], bool] = _never
    display_text_limit: int = 200  # characters of an <a>'s text passed to the sealer

    def __post_init__(self) -> None:
        if not _FIELD_NAME.fullmatch(self.header_name):
            raise ValueError(f"not a header field name (RFC 5322 §3.6.8): {self.header_name!r}")
        if self.max_bytes < 0 or self.max_depth < 0 or self.display_text_limit < 0:
            raise ValueError("max_bytes, max_depth and display_text_limit must be >= 0")


@dataclass(frozen=True, slots=True)
class RewriteReport:
    """What :func:`rewrite_message` did. ``header`` is the value of the header it added."""

    header: str
    passthrough: Reason | None = None  # set when the message went out as it came in
    links: tuple[LinkRecord, ...] = ()
    untouched: tuple[PartNote, ...] = ()  # parts left alone: signed, encrypted, bad charset …
    forms: int = 0  # <form> elements seen in the HTML parts
    # Parts now carried as quoted-printable: a sealed link pushed a 7bit/8bit line past the
    # 998 octets RFC 5322 §2.1.1 allows, so their Content-Transfer-Encoding field changed.
    reencoded: tuple[str, ...] = ()
    removed_headers: int = 0  # pre-existing fields of our header name, dropped as untrusted

    def _count(self, outcome: LinkOutcome) -> int:
        return sum(1 for link in self.links if link.outcome is outcome)

    @property
    def rewritten(self) -> int:
        return self._count(LinkOutcome.REWRITTEN)

    @property
    def already_sealed(self) -> int:
        return self._count(LinkOutcome.ALREADY_SEALED)

    @property
    def skipped(self) -> int:
        """http(s) links seen and left as they were (declined or not carried)."""
        return len(self.links) - self.rewritten - self.already_sealed

    @property
    def signed_or_encrypted(self) -> tuple[PartNote, ...]:
        protected = (Reason.SIGNED, Reason.ENCRYPTED, Reason.PGP_INLINE)
        return tuple(note for note in self.untouched if note.reason in protected)
