"""Identity-bound confirmation through a real OpenID Provider (npm's oidc-provider, loopback).

The gateway runs in-process (httpx ASGITransport); the relying party talks to the provider over
real HTTP, and ``sign_in`` plays the browser at the provider's own interaction form.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from linkguard.bootstrap import build_judge
from linkguard.ports import ClickAction
from tests.support.memory_ports import DictNonces
from tests.support.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    RunningProvider,
    sign_in,
    start_provider,
)
from tests.web.conftest import ALLOWED, BASE, BLOCKED, CONFIRMED, Gw, GwFactory, make_settings

pytestmark = pytest.mark.anyio

CALLBACK = BASE + "/auth/callback"
SESSION_SECRET = secrets.token_urlsafe(32)
ORIGIN = {"origin": BASE, "sec-fetch-site": "same-origin"}


@pytest.fixture(scope="module")
def provider() -> Iterator[RunningProvider]:
    with start_provider(redirect_uris=[CALLBACK]) as running:
        yield running


@pytest.fixture
async def oidc_gw(gw_factory: GwFactory, provider: RunningProvider) -> Gw:
    return await gw_factory(oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID,
                      oidc_client_secret=CLIENT_SECRET, session_secret=SESSION_SECRET)


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden field {name!r} in the page"
    return found.group(1)


async def signed_in(gw: Gw, link: str, user: str, *, again: bool = False) -> None:
    """Click "Sign in to confirm", sign ``user`` in at the provider, come back."""
    started = await gw.client.get(link + "/sign-in" + ("?again=1" if again else ""))
    assert started.status_code == 303, started.text
    callback = await sign_in(started.headers["location"], user, redirect_uri=CALLBACK)
    back = await gw.client.get(callback)
    assert back.status_code == 303, back.text
    assert back.headers["location"] == link + "/confirm"


async def confirm_form(gw: Gw, link: str) -> dict[str, str]:
    page = await gw.client.get(link + "/confirm")
    assert page.status_code == 200, page.text
    return {"csrf": hidden(page.text, "csrf"), "nonce": hidden(page.text, "nonce")}


def reasons_of_last(gw: Gw) -> tuple[ClickAction, tuple[str, ...]]:
    event = gw.events()[-1]
    return event.action, event.reasons


def refusal(page: httpx.Response) -> str:
    found = re.search(r'<code id="reason">([^<]+)</code>', page.text)
    assert found, page.text
    return found.group(1)


async def test_round_trip_alice_confirms_and_lands_on_the_destination(oidc_gw: Gw) -> None:
    gw = oidc_gw
    link = gw.link(CONFIRMED, recipient="alice@corp.example")
    page = await gw.client.get(link)
    assert page.status_code == 200
    assert f'href="{link}/sign-in"' in page.text
    assert 'id="no-sign-in"' not in page.text

    started = await gw.client.get(link + "/sign-in")
    assert started.status_code == 303
    assert started.headers["location"].startswith(gw.state.identity.oidc.config.issuer)  # type: ignore[union-attr]
    pending = started.headers["set-cookie"].lower()
    assert "httponly" in pending
    assert "samesite=lax" in pending
    assert "secure" not in pending  # the base URL is plain http here
    callback = await sign_in(started.headers["location"], "alice", redirect_uri=CALLBACK)
    back = await gw.client.get(callback)
    assert back.status_code == 303
    assert back.headers["location"] == link + "/confirm"
    session = [c for c in back.headers.get_list("set-cookie")
               if c.startswith("linkguard_session=")]
    assert session
    assert "httponly" in session[0].lower()
    assert "samesite=lax" in session[0].lower()
    assert "max-age=900" in session[0].lower()

    review = await gw.client.get(link + "/confirm")
    assert review.status_code == 200
    assert "Alice@corp.example" in review.text
    assert "paypa1-login.com" in review.text  # the full destination
    assert "lookalike" in review.text  # and the reasons
    assert "form-action 'self' http://paypa1-login.com" in review.headers[
        "content-security-policy"]
    form = {"csrf": hidden(review.text, "csrf"), "nonce": hidden(review.text, "nonce")}
    done = await gw.client.post(link + "/confirm", data=form, headers=ORIGIN)
    assert done.status_code == 303
    assert done.headers["location"] == CONFIRMED
    assert done.headers["referrer-policy"] == "no-referrer"

    event = gw.events()[-1]
    assert event.action is ClickAction.CONFIRMED
    assert event.recipient == "alice@corp.example"
    assert gw.state.audit is not None
    audit = gw.state.audit.recent(limit=1)[0]
    assert (audit.action, audit.actor, audit.object_type) == (
        "click.confirm", "oidc:Alice@corp.example", "click")
    assert audit.object_id == event.token_id
    assert audit.after is not None
    assert audit.after["destination"] == CONFIRMED
    assert audit.after["email"] == "Alice@corp.example"
    assert audit.after["subject"] == "alice"
    assert audit.after["user_agent"].startswith("Mozilla/5.0")  # type: ignore[union-attr]
    assert "client_ip" in audit.after
    assert any(str(code).startswith("lookalike.") for code in audit.after["reasons"])  # type: ignore[union-attr]


async def test_signed_in_visitor_skips_the_identity_provider(oidc_gw: Gw) -> None:
    link = oidc_gw.link(CONFIRMED, recipient="alice@corp.example")
    await signed_in(oidc_gw, link, "alice")
    again = await oidc_gw.client.get(link + "/sign-in")
    assert again.status_code == 303
    assert again.headers["location"] == link + "/confirm"


async def test_bob_signing_in_for_alices_link_is_refused_as_identity_mismatch(
        oidc_gw: Gw) -> None:
    gw = oidc_gw
    link = gw.link(CONFIRMED, recipient="alice@corp.example")
    await signed_in(gw, link, "bob")
    page = await gw.client.get(link + "/confirm")
    assert page.status_code == 403
    assert refusal(page) == "identity_mismatch"
    assert "sent to someone else" in page.text
    assert 'name="nonce"' not in page.text
    assert f'href="{link}/sign-in?again=1"' in page.text
    action, reasons = reasons_of_last(gw)
    assert action is ClickAction.REFUSED
    assert "identity_mismatch" in reasons
    assert gw.state.audit is not None
    audit = gw.state.audit.recent(limit=1)[0]
    assert (audit.action, audit.actor) == ("click.refuse", "oidc:bob@corp.example")
    assert audit.after is not None
    assert audit.after["outcome"] == "identity_mismatch"


async def test_aliases_let_the_recipient_confirm_under_another_address(
        gw_factory: GwFactory, provider: RunningProvider) -> None:
    gw = await gw_factory(oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID,
                    oidc_client_secret=CLIENT_SECRET, session_secret=SESSION_SECRET,
                    identity_aliases="alice@corp.example = a.smith@corp.example")
    link = gw.link(CONFIRMED, recipient="A.Smith+news@corp.example")
    await signed_in(gw, link, "alice")
    form = await confirm_form(gw, link)
    done = await gw.client.post(link + "/confirm", data=form, headers=ORIGIN)
    assert done.status_code == 303


async def test_a_confirmation_works_once(oidc_gw: Gw) -> None:
    link = oidc_gw.link(CONFIRMED, recipient="alice@corp.example")
    await signed_in(oidc_gw, link, "alice")
    form = await confirm_form(oidc_gw, link)
    first = await oidc_gw.client.post(link + "/confirm", data=form, headers=ORIGIN)
    assert first.status_code == 303
    replay = await oidc_gw.client.post(link + "/confirm", data=form, headers=ORIGIN)
    assert replay.status_code == 409
    assert refusal(replay) == "nonce_replayed"
    assert "already used" in replay.text
    assert reasons_of_last(oidc_gw)[0] is ClickAction.REFUSED
    assert "nonce_replayed" in reasons_of_last(oidc_gw)[1]


async def test_fetching_the_confirm_page_consumes_nothing(oidc_gw: Gw) -> None:
    link = oidc_gw.link(CONFIRMED, recipient="alice@corp.example")
    await signed_in(oidc_gw, link, "alice")
    first = await confirm_form(oidc_gw, link)
    for _ in range(3):  # a scanner or a reload: every GET only renders
        await confirm_form(oidc_gw, link)
    done = await oidc_gw.client.post(link + "/confirm", data=first, headers=ORIGIN)
    assert done.status_code == 303


@pytest.mark.parametrize(("case", "expected"), [
    ("missing-csrf", "csrf_missing"),
    ("wrong-csrf", "csrf_invalid"),
    ("foreign-origin", "csrf_invalid"),
    ("csrf-of-another-link", "csrf_invalid"),
    ("missing-nonce", "nonce_missing"),
    ("forged-nonce", "nonce_invalid"),
    ("nonce-of-another-link", "nonce_invalid"),
])
async def test_forms_not_from_this_page_are_refused(oidc_gw: Gw, case: str,
                                                    expected: str) -> None:
    gw = oidc_gw
    link = gw.link(CONFIRMED, recipient="alice@corp.example")
    other = gw.link(CONFIRMED, recipient="alice@corp.example", message_id="<m2@corp.test>")
    await signed_in(gw, link, "alice")
    form = await confirm_form(gw, link)
    headers = dict(ORIGIN)
    if case == "missing-csrf":
        del form["csrf"]
    elif case == "wrong-csrf":
        form["csrf"] = form["csrf"][:-4] + "AAAA"
    elif case == "foreign-origin":
        headers = {"origin": "https://attacker.example", "sec-fetch-site": "cross-site"}
    elif case == "csrf-of-another-link":
        form["csrf"] = (await confirm_form(gw, other))["csrf"]
    elif case == "missing-nonce":
        del form["nonce"]
    elif case == "forged-nonce":
        random, issued, who, _mac = form["nonce"].split(".")
        form["nonce"] = f"{random}.{int(issued) + 3600}.{who}.{_mac}"
    elif case == "nonce-of-another-link":
        form["nonce"] = (await confirm_form(gw, other))["nonce"]
    page = await gw.client.post(link + "/confirm", data=form, headers=headers)
    assert page.status_code == 403
    assert refusal(page) == expected
    action, reasons = reasons_of_last(gw)
    assert action is ClickAction.REFUSED
    assert expected in reasons
    # Refused, not spent: the page's own form still works.
    done = await gw.client.post(link + "/confirm", data=await confirm_form(gw, link),
                                headers=ORIGIN)
    assert done.status_code == 303


async def test_an_expired_nonce_is_refused(oidc_gw: Gw) -> None:
    gw = oidc_gw
    parts = gw.state.identity
    assert parts is not None
    now = [1_900_000_000.0]
    gw.state.identity = replace(parts, clock=lambda: now[0])
    link = gw.link(CONFIRMED, recipient="alice@corp.example")
    await signed_in(gw, link, "alice")
    form = await confirm_form(gw, link)
    now[0] += parts.nonce_ttl_s + 1
    page = await gw.client.post(link + "/confirm", data=form, headers=ORIGIN)
    assert page.status_code == 403
    assert refusal(page) == "nonce_expired"
    assert "expired" in page.text


async def test_another_users_nonce_is_refused(oidc_gw: Gw) -> None:
    """Alice leaves the confirmation page open on a shared computer; Bob signs in there."""
    gw = oidc_gw
    link = gw.link(CONFIRMED, recipient="alice@corp.example")
    await signed_in(gw, link, "alice")
    alices = await confirm_form(gw, link)
    await signed_in(gw, link, "bob", again=True)
    page = await gw.client.post(link + "/confirm", data=alices, headers=ORIGIN)
    assert page.status_code == 403
    assert refusal(page) == "nonce_other_user"
    assert "someone else" in page.text
    audit = gw.state.audit.recent(limit=1)[0]  # type: ignore[union-attr]
    assert audit.actor == "oidc:bob@corp.example"


async def test_nonce_store_down_fails_closed(oidc_gw: Gw) -> None:
    gw = oidc_gw
    nonces = DictNonces()
    gw.state.nonces = nonces
    link = gw.link(CONFIRMED, recipient="alice@corp.example")
    await signed_in(gw, link, "alice")
    form = await confirm_form(gw, link)
    nonces.down = True
    page = await gw.client.post(link + "/confirm", data=form, headers=ORIGIN)
    assert page.status_code == 503
    assert refusal(page) == "store_unavailable"
    assert page.headers["retry-after"] == "60"
    assert "does not let this link through" in page.text
    assert "store_unavailable" in reasons_of_last(gw)[1]
    shown = await gw.client.get(link + "/confirm")  # no form is handed out either
    assert shown.status_code == 503
    assert 'name="nonce"' not in shown.text


@pytest.mark.parametrize("case", ["tampered", "missing"])
async def test_a_tampered_or_missing_session_is_not_signed_in(oidc_gw: Gw, case: str) -> None:
    gw = oidc_gw
    link = gw.link(CONFIRMED, recipient="alice@corp.example")
    await signed_in(gw, link, "alice")
    form = await confirm_form(gw, link)
    value = gw.client.cookies["linkguard_session"]
    gw.client.cookies.delete("linkguard_session")
    if case == "tampered":  # bob's address in alice's signed value
        head, _, rest = value.partition(".")
        gw.client.cookies.set("linkguard_session", head[:-2] + "xx." + rest, domain="gw.test")
    page = await gw.client.post(link + "/confirm", data=form, headers=ORIGIN)
    assert page.status_code == 401
    expected = "session_invalid" if case == "tampered" else "session_missing"
    assert refusal(page) == expected
    shown = await gw.client.get(link + "/confirm")
    assert shown.status_code == 303
    assert shown.headers["location"] == link + "/sign-in"


async def test_a_destination_blocked_since_is_blocked_at_confirmation(
        oidc_gw: Gw, tmp_path: Path) -> None:
    gw = oidc_gw
    link = gw.link(CONFIRMED, recipient="alice@corp.example")
    await signed_in(gw, link, "alice")
    form = await confirm_form(gw, link)
    lists = tmp_path / "now-blocked.yaml"
    lists.write_text("version: 1\nblock:\n  - domain: paypa1-login.com\n    reason: incident 43\n",
                     encoding="utf-8")
    gw.state.gateway.replace_judge(build_judge(make_settings(tmp_path, list_files=[lists])))
    page = await gw.client.post(link + "/confirm", data=form, headers=ORIGIN)
    assert page.status_code == 403
    assert "incident 43" in page.text
    assert reasons_of_last(gw)[0] is ClickAction.BLOCKED
    shown = await gw.client.get(link + "/confirm")
    assert shown.status_code == 403


async def test_a_failed_sign_in_gets_its_own_page(oidc_gw: Gw) -> None:
    link = oidc_gw.link(CONFIRMED, recipient="alice@corp.example")
    await oidc_gw.client.get(link + "/sign-in")
    forged = await oidc_gw.client.get("/auth/callback?code=x&state=not-ours")
    assert forged.status_code == 400
    assert refusal(forged) == "signin_state_invalid"
    assert "linkguard_session" not in oidc_gw.client.cookies


async def test_other_verdicts_on_confirm_routes_get_their_usual_answer(oidc_gw: Gw) -> None:
    allowed = await oidc_gw.client.get(oidc_gw.link(ALLOWED) + "/confirm")
    assert allowed.status_code == 303
    assert allowed.headers["location"] == ALLOWED
    blocked = await oidc_gw.client.post(oidc_gw.link(BLOCKED) + "/confirm", headers=ORIGIN)
    assert blocked.status_code == 403
    broken = await oidc_gw.client.get("/r/not-a-token/sign-in")
    assert broken.status_code == 400
