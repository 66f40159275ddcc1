"""MIME structure as byte offsets: header blocks (RFC 5322) and multipart bodies (RFC 2046)."""

from __future__ import annotations

import pytest

from linkguard.rewriter.mime import HeaderError, content_info, parse_entity, split_multipart


@pytest.mark.parametrize(
    ("raw", "names", "header_end", "body_start"),
    [
        (b"A: 1\r\nB: 2\r\n\r\nbody", ["A", "B"], 12, 14),
        (b"A: 1\nB: 2\n folded\n\nbody", ["A", "B"], 18, 19),
        (b"A: 1\nnot a header line\nmore", ["A"], 5, 5),
        (b"\r\nbody only", [], 0, 2),
        (b"A: 1\r\nB: no final break", ["A", "B"], 23, 23),
        (b" continuation first\nA: 1\n\nx", ["", "A"], 25, 26),
        (
            b"From someone Mon Jan 1 00:00:00 2000\nA: 1\n\nx",
            ["From someone Mon Jan 1 00", "A"],
            42,
            43,
        ),
        (b"", [], 0, 0),
    ],
)
def test_parse_entity(raw: bytes, names: list[str], header_end: int, body_start: int) -> None:
    entity = parse_entity(raw, 0, len(raw))
    assert [f.name for f in entity.fields] == names
    assert (entity.header_end, entity.body_start) == (header_end, body_start)


def test_fields_are_unfolded_with_offsets() -> None:
    raw = b'Content-Type: multipart/mixed;\r\n boundary="b"\r\nX: y\r\n\r\n'
    entity = parse_entity(raw, 0, len(raw))
    first = entity.fields[0]
    assert first.value == 'multipart/mixed; boundary="b"'
    assert raw[first.start : first.end] == b'Content-Type: multipart/mixed;\r\n boundary="b"\r\n'
    assert entity.get("content-type") == first.value


@pytest.mark.parametrize(
    ("header", "default", "expected"),
    [
        ('Content-Type: text/HTML; charset="UTF-8"', "text/plain", ("text/html", "utf-8", None)),
        (
            'Content-Type: multipart/mixed; boundary="a b"',
            "text/plain",
            ("multipart/mixed", None, "a b"),
        ),
        (
            "Content-Type: text/plain; charset*=utf-8''iso-8859-1",
            "text/plain",
            ("text/plain", "iso-8859-1", None),
        ),
        ("Content-Type: garbage", "text/plain", ("text/plain", None, None)),
        ("X-Other: 1", "message/rfc822", ("message/rfc822", None, None)),
    ],
)
def test_content_info(
    header: str, default: str, expected: tuple[str, str | None, str | None]
) -> None:
    raw = header.encode() + b"\r\n\r\n"
    info = content_info(parse_entity(raw, 0, len(raw)), default)
    assert (info.content_type, info.charset, info.boundary) == expected
    assert not info.attachment


@pytest.mark.parametrize(
    ("disposition", "attachment"),
    [("ATTACHMENT; filename=a.txt", True), ("inline", False), ("attachmentx", False)],
)
def test_attachment(disposition: str, attachment: bool) -> None:
    raw = f"Content-Disposition: {disposition}\r\n\r\n".encode()
    assert content_info(parse_entity(raw, 0, len(raw)), "text/plain").attachment is attachment


def parts(body: bytes, boundary: str = "b") -> list[bytes]:
    return [body[s:e] for s, e in split_multipart(body, 0, len(body), boundary)]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"pre\r\n--b\r\nA\r\n--b\r\nB\r\n--b--\r\nepi", [b"A", b"B"]),
        (b"--b\nA\n--b--\n", [b"A"]),
        (b"--b \t\r\nA\r\n--b-- \r\n", [b"A"]),  # transport padding (RFC 2046 §5.1.1)
        (b"--b\r\n\r\n--b\r\n\r\n--b--", [b"", b""]),  # the CRLF before "--b" is the delimiter's
        (b"--b\r\n--b\r\nA\r\n--b--", [b"A"]),  # delimiters in a row enclose no part
        (b"--b\r\nA\r\n--b\r\n--b--\r\nafter", [b"A", b"after"]),  # as the stdlib reads it
        (b"--b\r\nA\r\n--bX\r\nstill A\r\n--b--", [b"A\r\n--bX\r\nstill A"]),
        (b"--b\r\nA\r\n--b--junk\r\nstill A\r\n--b--", [b"A\r\n--b--junk\r\nstill A"]),
        (b"--b\r\nA\r\n--b\r\nB cut off", [b"A", b"B cut off"]),  # no closing delimiter
        (b"x--b\r\nA", []),  # not at a line start
        (b"no delimiter at all", []),
        (b"--b--\r\nonly a close", []),
    ],
)
def test_split_multipart(body: bytes, expected: list[bytes]) -> None:
    assert parts(body) == expected


def test_nested_boundaries_do_not_confuse_the_outer_split() -> None:
    body = b"--outer\r\n\r\n--outer-inner\r\nx\r\n--outer-inner--\r\n--outer--\r\n"
    assert parts(body, "outer") == [b"\r\n--outer-inner\r\nx\r\n--outer-inner--"]


@pytest.mark.parametrize(
    "value",
    [
        'text/plain; title*="us-ascii\'en\'a"; title*1*="b"; title*2="c"',
        'text/plain; charset=us-ascii; title*0*="a"; title*="b"',
    ],
)
def test_stdlib_parameter_errors_become_header_errors(value: str) -> None:
    raw = f"Content-Type: {value}\r\n\r\n".encode()
    with pytest.raises(HeaderError):
        content_info(parse_entity(raw, 0, len(raw)), "text/plain")
