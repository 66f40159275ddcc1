"""rewrite_message as a caller sees it: API, header, pass-through reasons, never raising."""

from __future__ import annotations

import pytest

from linkguard import rewriter
from linkguard.rewriter import (
    LinkOutcome,
    Reason,
    RewriteContext,
    rewrite_message,
)
from tests.rewriter.rewriter_testkit import (
    PREFIX,
    FakeSealer,
    context,
    open_token,
    rewrite_and_check,
)

SIMPLE = (
    b"From: a@sender.example\r\nSubject: hi\r\nContent-Type: text/plain\r\n\r\n"
    b"Visit http://x.example/ now.\r\n"
)


def nested(depth: int) -> bytes:
    """A message with ``depth`` levels of multipart/mixed around one text part."""
    body = b"Content-Type: text/plain\r\n\r\nhttp://deep.example/\r\n"
    for level in range(depth):
        b = f"b{level}".encode()
        body = (
            b"Content-Type: multipart/mixed; boundary="
            + b
            + b"\r\n\r\n--"
            + b
            + b"\r\n"
            + body
            + b"\r\n--"
            + b
            + b"--\r\n"
        )
    return b"From: a@sender.example\r\n" + body


def test_public_api() -> None:
    assert rewriter.__all__ == [
        "LinkOutcome",
        "LinkPlace",
        "LinkRecord",
        "LinkSealer",
        "PartNote",
        "Reason",
        "RewriteContext",
        "RewriteReport",
        "rewrite_message",
    ]


@pytest.mark.parametrize(
    "overrides",
    [
        {"header_name": "X Link"},
        {"header_name": "X-Link:"},
        {"header_name": ""},
        {"header_name": "X-Lïnk"},
        {"max_bytes": -1},
        {"max_depth": -1},
    ],
)
def test_context_refuses_bad_settings(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        context(**overrides)


def test_rewrites_and_reports() -> None:
    sealer = FakeSealer()
    out, report = rewrite_message(SIMPLE, context(sealer))
    assert report.header == "rewritten=1; skipped=0"
    assert report.passthrough is None
    [link] = report.links
    assert (link.part, link.url, link.source, link.outcome) == (
        "1",
        "http://x.example/",
        "http://x.example/",
        LinkOutcome.REWRITTEN,
    )
    assert link.replacement is not None
    assert open_token(link.replacement) == "http://x.example/"
    assert out == (
        b"From: a@sender.example\r\nSubject: hi\r\nContent-Type: text/plain\r\n"
        b"X-LinkGuard: rewritten=1; skipped=0\r\n\r\n"
        b"Visit " + link.replacement.encode() + b" now.\r\n"
    )
    assert sealer.calls == [("http://x.example/", None, 0)]


def test_header_uses_the_message_line_break_and_name() -> None:
    raw = SIMPLE.replace(b"\r\n", b"\n")
    out, _ = rewrite_message(raw, context(header_name="X-Gateway"))
    assert b"Content-Type: text/plain\nX-Gateway: rewritten=1; skipped=0\n\n" in out
    assert b"\r" not in out


def test_second_pass_gives_identical_bytes() -> None:
    out, _ = rewrite_and_check(SIMPLE)  # checks the second pass too
    again, report2 = rewrite_message(out, context())
    assert again == out
    assert report2.already_sealed == 1
    assert report2.rewritten == 0


def test_without_is_sealed_a_second_pass_only_recounts() -> None:
    """The sealer declines its own links, so the body stays; the header counts them as skipped."""
    ctx = RewriteContext(sealer=FakeSealer())
    out, _ = rewrite_message(SIMPLE, ctx)
    again, report = rewrite_message(out, ctx)
    assert report.header == "rewritten=0; skipped=1"
    assert again.replace(b"rewritten=0; skipped=1", b"rewritten=1; skipped=0") == out


@pytest.mark.parametrize(
    ("raw", "overrides", "reason"),
    [
        (SIMPLE, {"max_bytes": 10}, Reason.TOO_LARGE),
        (nested(3), {"max_depth": 2}, Reason.TOO_DEEP),
        (nested(25), {}, Reason.TOO_DEEP),
        (b"", {}, Reason.MALFORMED),
        (b"just some text\r\nhttp://x.example/\r\n", {}, Reason.MALFORMED),
        (b"\r\nbody without headers http://x.example/", {}, Reason.MALFORMED),
        (b"X-LinkGuard: rewritten=1\r\n\r\nhttp://x.example/", {}, Reason.MALFORMED),
        (
            b"From: a@b\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\n\r\nhttp://x.example/",
            {},
            Reason.MALFORMED,
        ),
        (
            b"From: a@b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uue\r\n\r\nx",
            {},
            Reason.UNKNOWN_ENCODING,
        ),
        (
            b"From: a@b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            b"PGEgaHJlZj0iaHR0cDovL3guZXhhbXBsZS8iPg\r\n",
            {},
            Reason.BAD_ENCODING,
        ),
        (
            b"From: a@b\r\nContent-Type: application/pkcs7-mime; smime-type=signed-data\r\n\r\nx",
            {},
            Reason.SIGNED,
        ),
        (
            b'From: a@b\r\nContent-Type: text/plain; a*="x"; a*1="y"\r\n\r\nhttp://x.example/',
            {},
            Reason.MALFORMED,
        ),
    ],
)
def test_pass_through_reasons(raw: bytes, overrides: dict[str, object], reason: Reason) -> None:
    _, report = rewrite_and_check(raw, **overrides)
    assert report.passthrough is reason
    assert report.header == f"passthrough={reason.value}"
    assert report.rewritten == 0


def test_nesting_up_to_the_limit_is_rewritten() -> None:
    _, report = rewrite_and_check(nested(19))
    assert report.rewritten == 1


def test_a_raising_sealer_passes_the_message_through_as_internal_error() -> None:
    def broken(url: str, *, display_text: str | None, index: int) -> str | None:
        raise RuntimeError(url, display_text, index)

    out, report = rewrite_message(SIMPLE, RewriteContext(sealer=broken))
    assert report.passthrough is Reason.INTERNAL
    assert out == SIMPLE.replace(
        b"\r\n\r\n", b"\r\nX-LinkGuard: passthrough=internal.error\r\n\r\n", 1
    )


@pytest.mark.parametrize("replacement", ["has space", "", "new\nline", "https://lg.test/r/é"])
def test_a_replacement_that_is_not_one_ascii_token_is_refused(replacement: str) -> None:
    def odd(url: str, *, display_text: str | None, index: int) -> str | None:
        del url, display_text, index
        return replacement

    out, report = rewrite_message(SIMPLE, RewriteContext(sealer=odd))
    assert report.header == "rewritten=0; skipped=1"
    assert report.links[0].outcome in (LinkOutcome.BAD_REPLACEMENT, LinkOutcome.DECLINED)
    assert b"Visit http://x.example/ now." in out


def test_sealer_sees_message_order_and_display_text() -> None:
    raw = (
        b"From: a@b\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nhttp://one.example/\r\n"
        b"--b\r\nContent-Type: text/html\r\n\r\n"
        b'<a href="http://two.example/">Two <i>here</i></a>'
        b'<a href="http://three.example/">Three</a>\r\n--b--\r\n'
    )
    sealer = FakeSealer()
    rewrite_message(raw, context(sealer))
    assert sealer.calls == [
        ("http://one.example/", None, 0),
        ("http://two.example/", "Two here", 1),
        ("http://three.example/", "Three", 2),
    ]


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00" * 50,
        b"\r\n\r\n\r\n",
        b"--",
        b":",
        b" : \n\t\n",
        b'Content-Type: multipart/mixed; boundary=""\r\n\r\n--\r\n',
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x\r\n--x--",
        b"Content-Type: text/html; charset=utf-16\r\n\r\n\xff",
        b"Content-Type: text/html; charset*=x''\xff\xfe\r\n\r\n<a href=http://x.example/>",
        b"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n",
        b'From: a\r\nContent-Type: text/plain; charset=""\r\n\r\nhttp://x.example/\xff',
        bytes(range(256)),
        b"Content-Type: multipart/mixed; boundary=\xa2u\r\n\r\n--\xa2u\r\nx\r\n--\xa2u--",
        b"Content-Type: multipart/mixed;\xa0boundary=u\r\n\r\n--u\r\nhttp://x.example/\r\n",
        b'Content-Type: text/plain; a*="x"; a*1="y"\r\n\r\nhttp://x.example/',
    ],
)
def test_never_raises_never_loses_bytes(raw: bytes) -> None:
    out, report = rewrite_message(raw, context())
    assert report.passthrough is not Reason.INTERNAL
    if report.passthrough is not None:
        assert out.replace(f"X-LinkGuard: {report.header}".encode(), b"", 1).replace(
            b"\r\n", b"\n"
        ).replace(b"\n", b"") == raw.replace(b"\r\n", b"\n").replace(b"\n", b"")


def test_the_prefix_is_what_the_fake_sealer_uses() -> None:
    assert PREFIX == "https://lg.test/r/"


def _text(ctype: str, body: bytes, cte: str = "8bit") -> bytes:
    head = f"From: a@b\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
    return head.encode() + body


_N = 20_000


@pytest.mark.parametrize(
    ("raw", "rewritten"),
    [
        (_text("text/html", b"<a " * _N), 0),
        (_text("text/html", b'<div title="' * _N), 0),
        (_text("text/html", b"<a " + b"x=1 " * _N + b">"), 0),
        (_text("text/html", b'<a href="http://x.example/&' + b"a" * _N + b'">x</a>'), 1),
        (_text("text/html", b"<!--" * _N), 0),
        (_text("text/plain", b"http://x.example/" + b")" * _N), 1),
        (_text("text/plain", b"www." * _N), 1),
        (_text("text/calendar", b"DESCRIPTION:" + b"\\," * _N + b"\r\n"), 0),
        (_text("text/html", b"=\n" * _N + b'<a href=3D"http://x/">', "quoted-printable"), 1),
        (b"X: y\r\n" * _N + b"\r\nhttp://x.example/", 1),
        (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--bx" * _N, 0),
    ],
    ids=[
        "open-tags",
        "open-quotes",
        "many-attrs",
        "long-reference",
        "comments",
        "parens",
        "www-run",
        "ics-escapes",
        "qp-soft-breaks",
        "many-fields",
        "boundary-lookalikes",
    ],
)
def test_adversarial_inputs_are_read_in_one_pass(raw: bytes, rewritten: int) -> None:
    """Inputs that would make a quadratic scanner crawl (this suite would notice the time)."""
    _, report = rewrite_message(raw, context())
    assert report.passthrough in (None, Reason.MALFORMED)
    assert report.rewritten == rewritten
