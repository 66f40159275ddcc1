"""rewrite_message: MIME bytes in, MIME bytes out, with every clickable link sealed.

The message is never re-serialised. We find the byte range of each part we may change, decode
only those, and splice re-encoded bodies back into the original bytes: headers, boundaries,
preambles and every part without a link keep their exact bytes, line breaks included.

Never losing mail comes first. A message over the size or depth limit, or one whose structure
we cannot read, goes out as it came in with ``passthrough=<reason>`` in our header. A part we
cannot decode exactly (unknown charset, broken base64) is left as it is and listed in the
report. Signed and encrypted content (RFC 1847 multipart/signed and multipart/encrypted,
RFC 8551 application/pkcs7-mime, RFC 3156 PGP/MIME, inline PGP armor) is never touched, since
one changed byte breaks the signature. ``rewrite_message`` does not raise: an unexpected error
passes the message through with ``internal.error``, which the caller should turn into a
temporary failure (the MTA retries) rather than deliver unprotected mail.

Our header (``X-LinkGuard`` by default) is added at the end of the top-level header block with
the message's own line break. Fields of that name already in the message came from outside and
cannot be trusted, so all of them are removed first (as SpamAssassin does with X-Spam-*); that
also keeps a second pass over our own output byte-identical (the same field at the same place).
Its value is one of::

    rewritten=N; skipped=M[; untouched=<reason>[,<reason>…]]
    passthrough=<reason>

``rewritten`` counts the links that now lead through the gateway (sealed now, or already ours by
``RewriteContext.is_sealed``), ``skipped`` the http(s) links left as they were (the sealer
declined, or the part could not carry the new link), ``untouched`` the reasons parts were left
alone (``mime.signed`` …). ``passthrough`` means nothing was read: too large, too deep,
unreadable structure, an internal error, or every text part left alone for the reason given.
"""

from __future__ import annotations

import binascii
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

from linkguard.rewriter.armor import armor_regions
from linkguard.rewriter.calendar import scan_calendar
from linkguard.rewriter.charset import ByteEdit, open_text, to_byte_edits
from linkguard.rewriter.html import scan_html
from linkguard.rewriter.links import Edit, LinkBook, Regions
from linkguard.rewriter.mime import (
    ContentInfo,
    Entity,
    HeaderError,
    content_info,
    parse_entity,
    split_multipart,
)
from linkguard.rewriter.model import (
    LinkOutcome,
    PartNote,
    Reason,
    RewriteContext,
    RewriteReport,
)
from linkguard.rewriter.plain import scan_plain
from linkguard.rewriter.transfer import (
    IDENTITY,
    MAX_LINE,
    Base64,
    QuotedPrintable,
    Splice,
    apply,
    eol_of,
    longest_line,
    normalize_cte,
    qp_encode,
)

_HTML_TYPES = frozenset(
    {"text/html", "text/x-amp-html", "text/watch-html", "application/xhtml+xml"}
)
_CALENDAR_TYPES = frozenset({"text/calendar", "application/ics"})
# text/* that a client does not show as text (RFC 2046 §4.1.4 shows unknown subtypes as plain).
_NOT_PLAIN = frozenset(
    {
        "text/css",
        "text/javascript",
        "text/xml",
        "text/csv",
        "text/tab-separated-values",
        "text/vcard",
        "text/x-vcard",
        "text/directory",
    }
)
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global", "message/news"})
_SIGNED_MULTIPART = "multipart/signed"  # RFC 1847 §2.1
_ENCRYPTED_MULTIPART = "multipart/encrypted"  # RFC 1847 §2.2
_SMIME = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})  # RFC 8551 §3.2
_PGP = frozenset({"application/pgp-encrypted"})  # RFC 3156 §4


class _PassThrough(Exception):  # noqa: N818 - a signal, not an error
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason = reason


Scanner = Callable[[str, LinkBook, Regions], list[Edit]]


@dataclass
class _Run:
    """One rewrite in progress: the splices so far and what to report."""

    raw: bytes
    context: RewriteContext
    eol: bytes
    book: LinkBook
    splices: list[Splice] = field(default_factory=list)
    notes: list[PartNote] = field(default_factory=list)
    scanned: int = 0  # text parts read (whether or not they had links)
    reencoded: list[str] = field(default_factory=list)
    separators: list[Splice] = field(default_factory=list)  # go after our header field

    def note(self, part: str, content_type: str, reason: Reason) -> None:
        self.notes.append(PartNote(part, content_type, reason))

    # -- structure ---------------------------------------------------------------------------

    def entity(self, ent: Entity, path: str, depth: int, *, message: bool, default: str) -> None:
        if depth > self.context.max_depth:
            raise _PassThrough(Reason.TOO_DEEP)
        try:
            info = content_info(ent, default)
        except HeaderError:
            self.note(path, "", Reason.MALFORMED)
            return
        ctype = info.content_type
        if ctype.startswith("multipart/"):
            self.multipart(ent, path, depth, ctype, info.boundary)
            return
        section = f"{path}.1" if message and path else ("1" if message else path)
        if ctype in _MESSAGE_TYPES:
            if normalize_cte(info.cte) in IDENTITY and self.wanted(info.attachment):
                inner = parse_entity(self.raw, ent.body_start, ent.end)
                self.entity(inner, section, depth + 1, message=True, default="text/plain")
        elif ctype in _SMIME:
            signed = info.smime_type in ("signed-data", "certs-only")
            self.note(section, ctype, Reason.SIGNED if signed else Reason.ENCRYPTED)
        elif ctype in _PGP:
            self.note(section, ctype, Reason.ENCRYPTED)
        else:
            scanner = self.scanner(ctype)
            if scanner is not None and self.wanted(info.attachment):
                self.text_part(ent, section, info, scanner)

    def multipart(
        self, ent: Entity, path: str, depth: int, ctype: str, boundary: str | None
    ) -> None:
        if ctype == _SIGNED_MULTIPART:
            self.note(path, ctype, Reason.SIGNED)
            return
        if ctype == _ENCRYPTED_MULTIPART:
            self.note(path, ctype, Reason.ENCRYPTED)
            return
        parts = split_multipart(self.raw, ent.body_start, ent.end, boundary) if boundary else []
        if not parts:
            self.note(path, ctype, Reason.MALFORMED)
            return
        # RFC 2046 §5.1.5: in a digest, a part without Content-Type is a message/rfc822.
        default = "message/rfc822" if ctype == "multipart/digest" else "text/plain"
        for number, (start, end) in enumerate(parts, 1):
            child = parse_entity(self.raw, start, end)
            section = f"{path}.{number}" if path else str(number)
            self.entity(child, section, depth + 1, message=False, default=default)

    def wanted(self, attachment: bool) -> bool:
        return self.context.rewrite_attachments or not attachment

    def scanner(self, ctype: str) -> Scanner | None:
        limit = self.context.display_text_limit
        if ctype in _HTML_TYPES:
            return lambda text, book, skip: scan_html(text, book, skip, display_limit=limit)
        if ctype in _CALENDAR_TYPES:
            return lambda text, book, skip: scan_calendar(text, book, skip, display_limit=limit)
        if ctype.startswith("text/") and ctype not in _NOT_PLAIN:
            return scan_plain
        return None

    # -- one text part -------------------------------------------------------------------------

    def text_part(self, ent: Entity, section: str, info: ContentInfo, scanner: Scanner) -> None:
        ctype = info.content_type
        body = self.raw[ent.body_start : ent.end]
        cte = normalize_cte(info.cte)
        codec: QuotedPrintable | Base64 | None = None
        if cte == "quoted-printable":
            codec = QuotedPrintable(body)
            decoded = codec.decoded
        elif cte == "base64":
            try:
                codec = Base64(body, self.eol)
            except (binascii.Error, ValueError):
                self.note(section, ctype, Reason.BAD_ENCODING)
                return
            decoded = codec.decoded
        elif cte in IDENTITY:
            decoded = body
        else:
            # RFC 2045 §6.4: an unknown encoding makes the part opaque (application/octet-stream).
            self.note(section, ctype, Reason.UNKNOWN_ENCODING)
            return
        view = open_text(decoded, info.charset)
        if isinstance(view, Reason):
            self.note(section, ctype, view)
            return
        self.scanned += 1
        skip = armor_regions(view.text)
        if skip:
            self.note(section, ctype, Reason.PGP_INLINE)
        self.book.part = section
        edits = scanner(view.text, self.book, skip)
        if not edits:
            return
        byte_edits = to_byte_edits(view, edits)
        if byte_edits is None:
            for edit in edits:
                edit.drop(LinkOutcome.UNENCODABLE)
            self.note(section, ctype, Reason.BAD_CHARSET)
            return
        if not byte_edits:
            return
        if codec is not None:
            self.splices += codec.splices(byte_edits, at=ent.body_start)
        else:
            self.splices += self.identity(ent, section, body, byte_edits, cte)
        if ent.header_end == ent.body_start:
            # No empty line ended the header block: the body began at the first line that did
            # not look like a field. A changed first line could start to look like one (a
            # "www." became "https:"), so the missing empty line is put in.
            self.separators.append(Splice(ent.body_start, ent.body_start, self.eol))

    def identity(
        self, ent: Entity, section: str, body: bytes, edits: list[ByteEdit], cte: str
    ) -> list[Splice]:
        """Splices for a 7bit/8bit/binary body; quoted-printable if a line grows too long."""
        at = ent.body_start
        new = apply(body, edits)
        if cte == "binary" or longest_line(new) <= MAX_LINE or longest_line(body) > MAX_LINE:
            return [Splice(at + e.start, at + e.end, e.data) for e in edits]
        # A sealed link pushed a line past RFC 5322's 998 octets: carry the part as
        # quoted-printable instead (what an MTA does for 8BITMIME downgrade, RFC 6152 §3).
        declared = next(
            (f for f in ent.fields if f.name.strip().lower() == "content-transfer-encoding"),
            None,
        )
        self.reencoded.append(section)
        name = declared.name if declared is not None else "Content-Transfer-Encoding"
        line = f"{name}: quoted-printable".encode("ascii", "surrogateescape") + self.eol
        if declared is not None:
            self.splices.append(Splice(declared.start, declared.end, line))
        else:
            self.splices.append(Splice(ent.header_end, ent.header_end, line))
        return [Splice(at, at + len(body), qp_encode(new, eol_of(body, self.eol)))]


def _header_line(context: RewriteContext, value: str, eol: bytes) -> bytes:
    return f"{context.header_name}: {value}".encode("ascii") + eol


_START_END = operator.itemgetter(0, 1)  # a Splice's (start, end)


def _assemble(raw: bytes, splices: list[Splice]) -> bytes:
    pieces: list[bytes] = []
    pos = 0
    for start, end, data in sorted(splices, key=_START_END):
        pieces += (raw[pos:start], data)
        pos = max(pos, end)
    pieces.append(raw[pos:])
    return b"".join(pieces)


def _header_splices(
    raw: bytes, top: Entity, context: RewriteContext, value: str, eol: bytes
) -> tuple[list[Splice], int]:
    """Remove untrusted fields of our name, add ours at the end of the header block."""
    ours = context.header_name.lower()
    removed = [Splice(f.start, f.end, b"") for f in top.fields if f.name.lower() == ours]
    at = top.header_end
    before = at  # what will precede our field once the removed ones are gone
    for splice in reversed(removed):
        if splice.end == before:
            before = splice.start
    line = _header_line(context, value, eol)
    if before > 0 and raw[before - 1 : before] not in (b"\n", b"\r"):
        line = eol + line  # the last field has no line break of its own (headers only)
    return [*removed, Splice(at, at, line)], len(removed)


def _passthrough(
    raw: bytes, context: RewriteContext, reason: Reason, notes: tuple[PartNote, ...] = ()
) -> tuple[bytes, RewriteReport]:
    value = f"passthrough={reason.value}"
    try:
        top = parse_entity(raw, 0, len(raw))
        eol = eol_of(raw, b"\r\n")
        splices, removed = _header_splices(raw, top, context, value, eol)
        out = _assemble(raw, splices)
    except Exception:  # never lose mail: send it exactly as it came
        out, removed = raw, 0
    return out, RewriteReport(
        header=value, passthrough=reason, untouched=notes, removed_headers=removed
    )


def _rewrite(raw: bytes, context: RewriteContext) -> tuple[bytes, RewriteReport]:
    if len(raw) > context.max_bytes:
        return _passthrough(raw, context, Reason.TOO_LARGE)
    top = parse_entity(raw, 0, len(raw))
    ours = context.header_name.lower()
    # Only our own (untrusted, removed) header is no header: keeps a second pass identical.
    if not any(f.name and f.name.lower() != ours for f in top.fields):
        return _passthrough(raw, context, Reason.MALFORMED)
    eol = eol_of(raw, b"\r\n")
    run = _Run(raw, context, eol, LinkBook(context))
    try:
        run.entity(top, "", 0, message=True, default="text/plain")
    except _PassThrough as stop:
        return _passthrough(raw, context, stop.reason)
    notes = tuple(run.notes)
    if run.scanned == 0 and notes:
        return _passthrough(raw, context, notes[0].reason, notes)
    links = tuple(run.book.links)
    # Counted here in C (list.count) rather than by the report's properties, a pass each.
    outcomes = [link.outcome for link in links]
    through = outcomes.count(LinkOutcome.REWRITTEN) + outcomes.count(LinkOutcome.ALREADY_SEALED)
    value = f"rewritten={through}; skipped={len(links) - through}"
    reasons = list(dict.fromkeys(note.reason.value for note in notes))
    if reasons:
        value += f"; untouched={','.join(reasons)}"
    splices, removed = _header_splices(raw, top, context, value, eol)
    out = _assemble(raw, [*run.splices, *splices, *run.separators])
    return out, RewriteReport(
        header=value,
        links=links,
        untouched=notes,
        forms=run.book.forms,
        removed_headers=removed,
        reencoded=tuple(run.reencoded),
    )


def rewrite_message(raw: bytes, context: RewriteContext) -> tuple[bytes, RewriteReport]:
    """Seal every clickable http(s) link of a message; see the module docstring."""
    try:
        return _rewrite(bytes(raw), context)
    except Exception:  # never lose mail; the caller tempfails on internal.error
        return _passthrough(bytes(raw), context, Reason.INTERNAL)
