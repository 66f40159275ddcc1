"""Damaged mail: byte flips, cuts, broken boundaries. Never an error, never a part lost."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkguard.rewriter import Reason, RewriteReport, rewrite_message
from tests.rewriter.rewriter_testkit import (
    MESSAGES,
    FakeSealer,
    check_headers,
    context,
    eml_files,
    sections,
)

_SEEDS = [p.read_bytes() for p in eml_files(MESSAGES)]


@dataclass(frozen=True)
class Mutation:
    """One kind of damage at a relative position (repr-able, so a failure reads well)."""

    kind: str
    at: float
    width: int
    junk: bytes

    def __call__(self, raw: bytes) -> bytes:
        i = int(self.at * len(raw))
        if self.kind == "flip" and raw:
            i = min(i, len(raw) - 1)
            return raw[:i] + bytes([raw[i] ^ (1 << (self.width % 8))]) + raw[i + 1 :]
        if self.kind == "cut":
            return raw[:i]
        if self.kind == "drop":
            return raw[:i] + raw[i + self.width :]
        if self.kind == "insert":
            return raw[:i] + self.junk + raw[i:]
        if self.kind == "dup":
            return raw[:i] + raw[i : i + self.width] * 2 + raw[i + self.width :]
        # damage a boundary line: the delimiter at or after i loses a character
        j = raw.find(b"\n--", i)
        return raw if j < 0 else raw[: j + 3] + raw[j + 4 :]


mutations = st.builds(
    Mutation,
    kind=st.sampled_from(["flip", "cut", "drop", "insert", "boundary", "dup"]),
    at=st.floats(0, 1),
    width=st.integers(1, 40),
    junk=st.sampled_from([b"\r", b"\n", b"\r\n", b"--", b"=", b"<", b'"', b"\xff", b" "]),
)


def _links_put_back(payload: object, report: RewriteReport) -> object:
    """``payload`` with every rewritten link of the message put back as it was.

    Where damage leaves a header line in RFC 5322's obsolete syntax ("Subject : x", white space
    before the colon, §4.5.3), the rewriter reads the header as the RFC says parsers must, but
    the stdlib's parser ends the header block there and calls the rest one text part, so
    links the rewriter found in the MIME parts behind it sit inside what the stdlib calls an
    untouched part. Nothing else may differ."""
    if not isinstance(payload, bytes):
        return payload
    for link in report.links:
        if link.replacement is not None:
            # A link in damaged 8-bit text carries its stray bytes as lone surrogates (the
            # rewriter decodes such text with "surrogateescape"): encoded back the same way.
            payload = payload.replace(link.replacement.encode("utf-8", "surrogateescape"),
                                      link.source.encode("utf-8", "surrogateescape"), 1)
    return payload


def test_obsolete_header_syntax_is_read_as_the_rfc_says() -> None:
    # The case the fuzzer found: one space before a colon. The parts behind it are still
    # MIME parts to the rewriter (their links are rewritten), one text part to the stdlib.
    seed = next(s for s in _SEEDS if b"multipart/digest" in s)
    raw = seed.replace(b"Subject: digest", b"Subject : digest", 1)
    assert raw != seed
    out, report = rewrite_message(raw, context(FakeSealer()))
    assert report.passthrough is None
    assert [link.part for link in report.links] == ["1.1", "2.1"]
    before, after = (sections(message) for message in check_headers(raw, out, report))
    (section, (part, _)), = before.items()
    assert section == "1"
    assert part.get_content_type() == "text/plain"
    new = after["1"][0]
    assert new.get_payload(decode=True) != part.get_payload(decode=True)
    assert _links_put_back(new.get_payload(decode=True), report) == part.get_payload(decode=True)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_SEEDS), st.lists(mutations, min_size=1, max_size=4))
def test_damaged_messages_lose_nothing(seed: bytes, mutations: list[Mutation]) -> None:
    raw = seed
    for change in mutations:
        raw = change(raw)
    out, report = rewrite_message(raw, context(FakeSealer()))
    assert report.passthrough is not Reason.INTERNAL  # every case handled, not caught
    before, after = (sections(message) for message in check_headers(raw, out, report))
    assert before.keys() == after.keys()  # the same parts, in the same places
    rewritten = {link.part for link in report.links if link.replacement is not None}
    for section, (part, _) in before.items():
        new = after[section][0]
        assert new.get_content_type() == part.get_content_type()
        if section not in rewritten:
            assert _links_put_back(new.get_payload(decode=True), report) == part.get_payload(
                decode=True)


def test_forged_header_in_obsolete_syntax_is_removed() -> None:
    # "X-LinkGuard :" names our field too (RFC 5322 §4.5.3): a forgery must not survive by a
    # space before the colon.
    raw = (b"X-LinkGuard : passthrough=mime.signed\nFrom: m@phish.example\nTo: b@rcpt.example\n"
           b"Subject: x\n\nhttp://phish.example/login\n")
    out, report = rewrite_message(raw, context(FakeSealer()))
    assert report.removed_headers == 1
    assert b"passthrough=mime.signed" not in out
    assert out.count(b"X-LinkGuard") == 1
    check_headers(raw, out, report)
