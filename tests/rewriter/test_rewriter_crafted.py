"""Crafted edge cases (tests/rewriter/messages/): every promise, in both line-break styles."""

from __future__ import annotations

import base64
import email
from collections.abc import Callable
from pathlib import Path

import pytest

from linkguard.rewriter import LinkOutcome, LinkPlace, Reason, rewrite_message
from tests.rewriter.rewriter_testkit import (
    MESSAGES,
    TOKEN,
    context,
    decoded_text,
    eml_files,
    open_token,
    rewrite_and_check,
    sections,
)

_FILES = eml_files(MESSAGES)


def load(name: str) -> bytes:
    return (MESSAGES / name).read_bytes()


def as_crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def as_lf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n")


@pytest.mark.parametrize("style", [as_lf, as_crlf], ids=["lf", "crlf"])
@pytest.mark.parametrize("path", _FILES, ids=lambda p: p.name)
def test_every_promise_holds(path: Path, style: Callable[[bytes], bytes]) -> None:
    rewrite_and_check(style(path.read_bytes()))


# What each crafted message must come out as: the value of our header.
OUTCOMES: dict[str, str] = {
    "html-tricky.eml": "rewritten=14; skipped=1",
    "qp-soft-breaks.eml": "rewritten=3; skipped=0",
    "base64-html.eml": "rewritten=12; skipped=0",
    "base64-short-lines.eml": "rewritten=1; skipped=0",
    "nested-alternative.eml": "rewritten=6; skipped=0",
    "forwarded-rfc822.eml": "rewritten=3; skipped=0",
    "calendar-invite.eml": "rewritten=8; skipped=0",
    "calendar-folded-qp.eml": "rewritten=1; skipped=0",
    "smime-signed.eml": "passthrough=mime.signed",
    "signed-inside-mixed.eml": (
        "rewritten=2; skipped=0; untouched=mime.pgp_inline,mime.signed,mime.encrypted"
    ),
    "pgp-encrypted.eml": "passthrough=mime.encrypted",
    "8bit-utf8.eml": "rewritten=4; skipped=0",
    "8bit-undeclared.eml": "rewritten=1; skipped=0",
    "broken-boundary.eml": "passthrough=mime.malformed",
    "unterminated-multipart.eml": "rewritten=2; skipped=0",
    "unknown-charset.eml": "passthrough=mime.unknown_charset",
    "mixed-unknown-charset.eml": "rewritten=1; skipped=0; untouched=mime.unknown_charset",
    "utf16.eml": "rewritten=2; skipped=0",
    "utf7.eml": "rewritten=1; skipped=0",
    "iso-2022-jp.eml": "rewritten=1; skipped=0",
    "long-line-7bit.eml": "rewritten=1; skipped=0",
    "forged-header.eml": "rewritten=1; skipped=0",
    "attachment-text.eml": "rewritten=1; skipped=0",
    "html-forms.eml": "rewritten=5; skipped=0",
    "headers-only.eml": "rewritten=0; skipped=0",
    "digest.eml": "rewritten=2; skipped=0",
    "missing-separator.eml": "rewritten=2; skipped=0",
    "obs-header-syntax.eml": "rewritten=1; skipped=0",
}


@pytest.mark.parametrize(("name", "header"), OUTCOMES.items())
def test_outcome(name: str, header: str) -> None:
    _, report = rewrite_and_check(load(name))
    assert report.header == header


def test_every_crafted_message_has_an_expected_outcome() -> None:
    assert {p.name for p in _FILES} == set(OUTCOMES)


def test_tricky_html_leaves_hidden_markup_alone() -> None:
    out, report = rewrite_and_check(load("html-tricky.eml"))
    body = out.decode()
    for hidden in (
        "title.example",
        "style.example",
        "script.example",
        "comment.example",
        "images.example/logo.png",
        "unterminated.example",
        "not-linked-in-html",
    ):
        assert hidden in body
    assert "<!DOCTYPE html>\n<HTML><HEAD>" in body
    assert [link.display_text for link in report.links][-4] == "Visit our shop & more"
    assert report.links[-5].outcome is LinkOutcome.DECLINED


def test_qp_lines_without_links_keep_their_bytes() -> None:
    raw = load("qp-soft-breaks.eml")
    out, _ = rewrite_and_check(raw)
    unchanged = (
        b"<p>This line has nothing to do with links and keeps its own soft break at a=\n"
        b"n odd place, which must stay exactly as it is.</p>\n"
    )
    assert unchanged in raw
    assert unchanged in out
    assert b"<html><body><p>Caf=E9 news =96 read it online:</p>\n" in out


def test_base64_keeps_line_length_and_missing_final_break() -> None:
    raw = load("base64-short-lines.eml")
    out, _ = rewrite_and_check(raw)
    body = out.split(b"\n\n", 1)[1]
    assert {len(line) for line in body.split(b"\n")[:-1]} == {60}
    assert not body.endswith(b"\n")
    assert b"https://lg.test/r/" in base64.b64decode(body)


def test_nested_alternative_touches_only_text_parts() -> None:
    raw = load("nested-alternative.eml")
    out, _ = rewrite_and_check(raw)
    assert b"http://preamble.example/ is not shown" in out
    assert b"Epilogue with http://epilogue.example/ stays." in out
    image = raw[raw.index(b"Content-Type: image/png") : raw.index(b"--outer-boundary--")]
    assert image in out


def test_forwarded_message_attachment_needs_the_option() -> None:
    raw = load("forwarded-rfc822.eml")
    _, report = rewrite_and_check(raw)
    assert {link.part for link in report.links} == {"1", "2.1", "2.2"}
    _, report = rewrite_and_check(raw, rewrite_attachments=True)
    assert {link.part for link in report.links} == {"1", "2.1", "2.2", "3.1"}


def test_text_attachments_need_the_option() -> None:
    raw = load("attachment-text.eml")
    _, report = rewrite_and_check(raw, rewrite_attachments=True)
    assert report.header == "rewritten=3; skipped=0"


def test_calendar_lines_stay_within_75_octets() -> None:
    out, report = rewrite_and_check(load("calendar-invite.eml"))
    [calendar] = [p for p, _ in sections(out).values() if p.get_content_type() == "text/calendar"]
    ics = calendar.get_payload(decode=True)
    assert isinstance(ics, bytes)
    assert all(len(line) <= 75 for line in ics.split(b"\r\n"))
    assert b"ORGANIZER;CN=Alice:mailto:alice@sender.example\r\n" in ics
    assert {link.place for link in report.links if link.part == "2"} == {LinkPlace.CALENDAR}


def test_signed_and_encrypted_content_is_byte_identical() -> None:
    raw = load("signed-inside-mixed.eml")
    out, report = rewrite_and_check(raw)
    signed = raw[raw.index(b"--m\nContent-Type: multipart/signed") : raw.index(b"--m--")]
    assert signed in out
    clear = raw[raw.index(b"-----BEGIN PGP SIGNED") : raw.index(b"-----END PGP SIGNATURE-----")]
    assert clear in out
    assert [(n.part, n.reason) for n in report.signed_or_encrypted] == [
        ("1", Reason.PGP_INLINE),
        ("2", Reason.SIGNED),
        ("3", Reason.ENCRYPTED),
    ]


@pytest.mark.parametrize(
    "name", ["smime-signed.eml", "pgp-encrypted.eml", "broken-boundary.eml", "unknown-charset.eml"]
)
def test_pass_through_changes_nothing_but_the_header(name: str) -> None:
    raw = load(name)
    out, report = rewrite_message(raw, context())
    line = f"X-LinkGuard: {report.header}\n".encode()
    at = raw.index(b"\n\n") + 1
    assert out == raw[:at] + line + raw[at:]


def test_eight_bit_part_keeps_its_encoding() -> None:
    out, report = rewrite_and_check(load("8bit-utf8.eml"))
    assert b"Content-Transfer-Encoding: 8bit" in out
    assert "Grüße aus Köln!".encode() in out
    assert report.links[0].url == "https://köln.example/programm?tag=montag"


def test_utf16_part_stays_utf16() -> None:
    out, _ = rewrite_and_check(load("utf16.eml"))
    first = sections(out)["1"][0]
    data = first.get_payload(decode=True)
    assert isinstance(data, bytes)
    assert data.startswith(b"\xff\xfe")
    assert [open_token(t) for t in TOKEN.findall(data.decode("utf-16"))] == [
        "https://utf16.example/path?q=1"
    ]


def test_iso_2022_jp_changes_only_the_link_bytes() -> None:
    raw = load("iso-2022-jp.eml")
    out, _ = rewrite_and_check(raw)
    assert (
        TOKEN.sub("T", out.decode("ascii")).split("\n\n", 1)[1]
        == TOKEN.sub("T", raw.decode("ascii").replace("https://iso2022.example/page", "T")).split(
            "\n\n", 1
        )[1]
    )


def test_a_line_grown_past_998_turns_the_part_quoted_printable() -> None:
    out, report = rewrite_and_check(load("long-line-7bit.eml"))
    assert report.reencoded == ("1",)
    message = email.message_from_bytes(out)
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert max(map(len, out.split(b"\n"))) <= 998
    assert "<p>short line</p>" in decoded_text(message)


def test_forged_headers_are_removed() -> None:
    out, report = rewrite_and_check(load("forged-header.eml"))
    assert report.removed_headers == 2
    assert out.lower().count(b"x-linkguard") == 1
    assert b"folded forgery" not in out


def test_forms_and_image_maps() -> None:
    _, report = rewrite_and_check(load("html-forms.eml"))
    assert report.forms == 2
    assert [link.place for link in report.links] == [
        LinkPlace.HTML_FORM,
        LinkPlace.HTML_FORM,
        LinkPlace.HTML_AREA,
        LinkPlace.HTML_A,
        LinkPlace.HTML_A,
    ]
    assert report.links[2].display_text == "Area one"
    assert report.links[3].url == "https://base.example/dir/relative/page.html"


def test_headers_only_message_gets_a_line_break_before_the_header() -> None:
    out, _ = rewrite_and_check(load("headers-only.eml"))
    assert out.endswith(b"no body, no final break\r\nX-LinkGuard: rewritten=0; skipped=0\r\n")


def test_a_missing_empty_line_is_put_in_before_the_body() -> None:
    out, _ = rewrite_and_check(load("missing-separator.eml"))
    head, body = out.split(b"\n\n", 1)
    assert head.endswith(b"Content-Type: text/plain\nX-LinkGuard: rewritten=2; skipped=0")
    assert TOKEN.sub("T", body.decode()).startswith("T is the first body line")


def test_fields_with_space_before_the_colon_are_fields() -> None:
    out, report = rewrite_and_check(load("obs-header-syntax.eml"))
    assert report.links[0].place is LinkPlace.HTML_A  # "Content-Type :" was read
    assert b"Content-Type : text/html; charset=utf-8\nX-LinkGuard: rewritten=1" in out
