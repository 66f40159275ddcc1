"""Confirmation without an IdP: a code mailed to the link's recipient through a real SMTP server
on loopback (aiosmtpd), then the same review-and-confirm step as after an OIDC sign-in."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from linkguard.adapters.mailcode import MailCodes, SmtpMailer, SmtpSecurity
from linkguard.ports import ClickAction
from tests.support.smtp_sink import Sink, smtp_sink
from tests.web.conftest import CONFIRMED, Gw, GwFactory

pytestmark = pytest.mark.anyio

SESSION_SECRET = secrets.token_urlsafe(32)
ORIGIN = {"origin": "http://gw.test", "sec-fetch-site": "same-origin"}
RECIPIENT = "alice@corp.test"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    with smtp_sink() as running:
        yield running


@pytest.fixture
async def code_gw(gw_factory: GwFactory, sink: tuple[Sink, int]) -> Gw:
    return await gw_factory(session_secret=SESSION_SECRET, mailer="smtp", smtp_host="127.0.0.1",
                      smtp_port=sink[1], smtp_security="none", mail_from="linkguard@corp.test")


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden field {name!r} in the page"
    return found.group(1)


def refusal(page: httpx.Response) -> str:
    found = re.search(r'<code id="reason">([^<]+)</code>', page.text)
    assert found, page.text
    return found.group(1)


def mailed_code(sink: Sink) -> str:
    body = sink.messages[-1].get_body(("plain",))
    assert body is not None
    found = re.search(r"code is (\d{3}) (\d{3})", body.get_content())
    assert found
    return found.group(1) + found.group(2)


async def request_code(gw: Gw, link: str, **extra: str) -> httpx.Response:
    page = await gw.client.get(link + "/sign-in")
    assert page.status_code == 200, page.text
    assert "a•••e@corp.test" in page.text  # masked: a forwardee learns little
    return await gw.client.post(link + "/code/send",
                                data={"csrf": hidden(page.text, "csrf"), **extra},
                                headers=ORIGIN)


async def type_code(gw: Gw, link: str, code: str) -> httpx.Response:
    form = await gw.client.get(link + "/code")
    assert form.status_code in (200, 403), form.text
    return await gw.client.post(link + "/code", data={"csrf": hidden(form.text, "csrf"),
                                                      "code": code}, headers=ORIGIN)


async def test_mailed_code_round_trip(code_gw: Gw, sink: tuple[Sink, int]) -> None:
    gw, (messages, _) = code_gw, sink
    link = gw.link(CONFIRMED, recipient=RECIPIENT)
    page = await gw.client.get(link)
    assert f'href="{link}/sign-in"' in page.text
    request_page = await gw.client.get(link + "/sign-in")
    assert 'id="local-only"' not in request_page.text  # a real relay is configured
    # A typed address is ignored: the code goes to the token's recipient only.
    sent = await request_code(gw, link, email="mallory@evil.example")
    assert sent.status_code == 303
    assert sent.headers["location"] == link + "/code"
    assert messages.envelopes == [("linkguard@corp.test", [RECIPIENT])]
    checked = await type_code(gw, link, mailed_code(messages)[:3] + " " + mailed_code(messages)[3:])
    assert checked.status_code == 303
    assert checked.headers["location"] == link + "/confirm"
    review = await gw.client.get(link + "/confirm")
    assert review.status_code == 200
    assert RECIPIENT in review.text
    done = await gw.client.post(link + "/confirm", headers=ORIGIN, data={
        "csrf": hidden(review.text, "csrf"), "nonce": hidden(review.text, "nonce")})
    assert done.status_code == 303
    assert done.headers["location"] == CONFIRMED
    assert gw.events()[-1].action is ClickAction.CONFIRMED
    audit = gw.state.audit.recent(limit=1)[0]  # type: ignore[union-attr]
    assert (audit.action, audit.actor) == ("click.confirm", f"mailcode:{RECIPIENT}")
    # The code worked once.
    again = await gw.client.post(link + "/code", headers=ORIGIN, data={
        "csrf": hidden(review.text, "csrf"), "code": mailed_code(messages)})
    assert again.status_code == 400
    assert refusal(again) == "mailcode_invalid"


async def test_five_wrong_codes_then_no_more_tries(code_gw: Gw, sink: tuple[Sink, int]) -> None:
    gw, (messages, _) = code_gw, sink
    link = gw.link(CONFIRMED, recipient=RECIPIENT)
    assert (await request_code(gw, link)).status_code == 303
    right = mailed_code(messages)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(5):
        page = await type_code(gw, link, wrong)
        assert page.status_code == 403
        assert 'id="code-error"' in page.text
        assert 'name="code"' in page.text  # the form again
    locked = await type_code(gw, link, right)  # even the right one: the sixth try
    assert locked.status_code == 429
    assert refusal(locked) == "mailcode_too_many_attempts"
    events = [e for e in gw.events() if e.action is ClickAction.REFUSED]
    assert [e.reasons[-1] for e in events] == ["mailcode_wrong_code"] * 5 + [
        "mailcode_too_many_attempts"]
    assert "linkguard_session" not in gw.client.cookies


async def test_an_expired_code_is_refused(code_gw: Gw, sink: tuple[Sink, int]) -> None:
    gw, (messages, port) = code_gw, sink
    parts = gw.state.identity
    assert parts is not None
    now = [1_900_000_000.0]
    codes = MailCodes(secret=SESSION_SECRET, limiter=gw.state.limiter, nonces=gw.state.nonces,
                      mailer=SmtpMailer("127.0.0.1", port, security=SmtpSecurity.NONE),
                      sender="linkguard@corp.test", clock=lambda: now[0])
    gw.state.identity = replace(parts, codes=codes)
    link = gw.link(CONFIRMED, recipient=RECIPIENT)
    assert (await request_code(gw, link)).status_code == 303
    now[0] += 601
    page = await type_code(gw, link, mailed_code(messages))
    assert page.status_code == 400
    assert refusal(page) == "mailcode_expired"
    assert "expired" in page.text


async def test_sending_is_rate_limited_per_recipient(code_gw: Gw,
                                                     sink: tuple[Sink, int]) -> None:
    gw, (messages, _) = code_gw, sink
    link = gw.link(CONFIRMED, recipient=RECIPIENT)
    for _ in range(5):
        assert (await request_code(gw, link)).status_code == 303
    limited = await request_code(gw, link)
    assert limited.status_code == 429
    assert refusal(limited) == "mailcode_rate_limited"
    assert int(limited.headers["retry-after"]) > 0
    assert len(messages.messages) == 5


async def test_sending_needs_the_pages_csrf_field(code_gw: Gw, sink: tuple[Sink, int]) -> None:
    link = code_gw.link(CONFIRMED, recipient=RECIPIENT)
    await code_gw.client.get(link + "/sign-in")
    forged = await code_gw.client.post(link + "/code/send", headers=ORIGIN)
    assert forged.status_code == 403
    assert refusal(forged) == "csrf_missing"
    assert sink[0].messages == []


async def test_the_file_mailer_is_marked_local_only(gw_factory: GwFactory) -> None:
    gw = await gw_factory(session_secret=SESSION_SECRET)  # mailer "file": the embedded default
    link = gw.link(CONFIRMED, recipient=RECIPIENT)
    page = await gw.client.get(link + "/sign-in")
    assert 'id="local-only"' in page.text
    sent = await gw.client.post(link + "/code/send", data={"csrf": hidden(page.text, "csrf")},
                                headers=ORIGIN)
    assert sent.status_code == 303
    form = await gw.client.get(link + "/code")
    assert 'id="local-only"' in form.text


async def test_a_link_without_recipient_gets_no_code(code_gw: Gw,
                                                     sink: tuple[Sink, int]) -> None:
    link = code_gw.link(CONFIRMED, recipient=None)
    page = await code_gw.client.get(link + "/sign-in")
    assert 'id="no-recipient"' in page.text
    assert 'id="send-code"' not in page.text
    sent = await code_gw.client.post(link + "/code/send", headers=ORIGIN)
    assert sent.status_code == 403
    assert sink[0].messages == []
