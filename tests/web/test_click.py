"""The click path in-process: every verdict, every token error, scanners, logging, limits."""

from __future__ import annotations

import re
import time
from pathlib import Path

import anyio
import pytest

from linkguard.bootstrap import build_list_store
from linkguard.core.lists import Action, ListEntry, MatchKind
from linkguard.core.model import LinkContext
from linkguard.core.tokens import KeyRing, LinkClaims, generate_key_spec, seal
from linkguard.ports import ClickAction, ClickKind
from tests.web.conftest import (
    ALLOWED,
    BASE,
    BLOCKED,
    CONFIRMED,
    EXPECTED,
    WARN_TEXT,
    WARNED,
    Gw,
    GwFactory,
    make_settings,
)

pytestmark = pytest.mark.anyio


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def test_fixture_verdicts(gw: Gw) -> None:
    for url, expected in EXPECTED.items():
        text = WARN_TEXT if url == WARNED else None
        decision = await gw.state.gateway.decide(url, LinkContext(display_text=text))
        assert decision.verdict == expected, (url, decision.as_dict())


async def test_allow_redirects_with_no_referrer_and_no_store(gw: Gw) -> None:
    response = await gw.client.get(gw.link(ALLOWED))
    assert response.status_code == 303
    assert response.headers["location"] == ALLOWED
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    [event] = gw.events()
    assert (event.kind, event.action, event.verdict) == (
        ClickKind.HUMAN, ClickAction.REDIRECT, "allow")
    assert event.recipient == "alice@corp.test"
    assert event.message_id == "<m1@corp.test>"
    assert event.destination == ALLOWED
    assert event.registrable_domain == "allowed-site.org"
    assert event.reasons == ("list.allow",)
    assert event.client_ip == "127.0.0.0/24"  # truncated by default
    assert event.user_agent.startswith("Mozilla/5.0")
    assert len(event.token_id) == 16


async def test_warn_shows_interstitial_and_needs_a_post_to_continue(gw: Gw) -> None:
    link = gw.link(WARNED, display_text=WARN_TEXT)
    page = await gw.client.get(link)
    assert page.status_code == 200
    assert "location" not in page.headers
    html = page.text
    assert '<mark class="domain">example.com</mark>' in html
    assert "https://" in html
    assert "/start" in html
    assert "mismatch.display_text" in html
    assert 'id="go-back"' in html
    assert 'id="continue"' in html
    policy = page.headers["content-security-policy"]
    assert "form-action 'self' https://example.com" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-frame-options"] == "DENY"
    # Nothing on a GET is one-time: the same page again.
    again = await gw.client.get(link)
    assert again.status_code == 200
    assert "continue" in again.text
    done = await gw.client.post(link + "/continue", data={"csrf": csrf_of(html)},
                                headers={"origin": BASE, "sec-fetch-site": "same-origin"})
    assert done.status_code == 303
    assert done.headers["location"] == WARNED
    actions = [e.action for e in gw.events()]
    assert actions == [ClickAction.WARNED, ClickAction.WARNED, ClickAction.CONTINUED]


@pytest.mark.parametrize("case", ["no-field", "wrong-field", "other-link", "cross-site",
                                  "foreign-origin", "no-cookie", "stale", "no-origin"])
async def test_continue_refuses_without_a_valid_csrf(gw: Gw, case: str) -> None:
    link = gw.link(WARNED, display_text=WARN_TEXT)
    other = gw.link(WARNED, display_text=WARN_TEXT, recipient="bob@corp.test")
    field = csrf_of((await gw.client.get(link)).text)
    headers = {"origin": BASE, "sec-fetch-site": "same-origin"}
    data = {"csrf": field}
    target = link
    if case == "no-field":
        data = {}
    elif case == "wrong-field":
        data = {"csrf": field[:-2] + ("AA" if not field.endswith("AA") else "BB")}
    elif case == "other-link":
        target = other
    elif case == "cross-site":
        headers = {"origin": "https://attacker.example", "sec-fetch-site": "cross-site"}
    elif case == "foreign-origin":
        headers = {"origin": "https://attacker.example"}
    elif case == "no-cookie":
        gw.client.cookies.clear()
    elif case == "stale":
        issued, _, mac = field.partition(".")
        data = {"csrf": f"{int(issued) - 7200}.{mac}"}
    elif case == "no-origin":
        headers = {}
    response = await gw.client.post(target + "/continue", data=data, headers=headers)
    assert response.status_code == 403
    assert "location" not in response.headers
    assert gw.events()[-1].action == ClickAction.REFUSED


async def test_confirm_explains_sign_in_and_does_not_let_through(gw: Gw) -> None:
    link = gw.link(CONFIRMED)
    page = await gw.client.get(link)
    assert page.status_code == 200
    assert "location" not in page.headers
    assert "sign in" in page.text.lower()
    assert 'id="no-sign-in"' in page.text
    assert "<form" not in page.text
    # A forged Continue on a confirm link is not a way through either.
    gw.client.cookies.set("lg_csrf", "x")
    forced = await gw.client.post(link + "/continue", data={"csrf": "1.x"},
                                  headers={"origin": BASE})
    assert forced.status_code == 403
    assert [e.action for e in gw.events()] == [ClickAction.CONFIRM_REQUIRED,
                                               ClickAction.REFUSED]


async def test_block_page_has_no_way_through(gw: Gw) -> None:
    link = gw.link(BLOCKED)
    page = await gw.client.get(link)
    assert page.status_code == 403
    assert "has been blocked" in page.text
    assert "list.block" in page.text
    assert "incident 42" in page.text  # the admin's reason explains the block
    assert "lists.yaml" not in page.text  # where the entry lives on the server does not show
    assert "<form" not in page.text
    assert 'href="https://evil.blocked-site.net' not in page.text
    assert "your IT security team" in page.text
    field_page = await gw.client.get(gw.link(WARNED, display_text=WARN_TEXT))
    posted = await gw.client.post(link + "/continue", data={"csrf": csrf_of(field_page.text)},
                                  headers={"origin": BASE})
    assert posted.status_code == 403
    assert "location" not in posted.headers


async def test_continue_rejudges_a_destination_blocked_since_the_warning(
        gw_factory: GwFactory, tmp_path: Path) -> None:
    gw = await gw_factory()
    link = gw.link(WARNED, display_text=WARN_TEXT)
    field = csrf_of((await gw.client.get(link)).text)
    # The same links, judged by a replica whose lists now block the destination.
    lists = tmp_path / "now-blocked.yaml"
    lists.write_text("version: 1\nblock:\n  - domain: example.com\n", encoding="utf-8")
    later = await gw_factory(list_files=[lists])
    later.client.cookies.update(gw.client.cookies)
    response = await later.client.post(link + "/continue", data={"csrf": field},
                                       headers={"origin": BASE})
    assert response.status_code == 403
    assert "has been blocked" in response.text
    assert "location" not in response.headers


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-5],  # truncated by a mail client
    lambda t: t[:20] + ("A" if t[20] != "A" else "B") + t[21:],  # one character changed
    lambda _: "not-a-token",
    lambda _: "%00%ff",
    lambda _: "A" * 3000,
])
async def test_damaged_links_get_a_friendly_400(gw: Gw, mangle: object) -> None:
    token = gw.link(ALLOWED).removeprefix("/r/")
    response = await gw.client.get("/r/" + mangle(token))  # type: ignore[operator]
    assert response.status_code == 400
    assert "cannot be opened" in response.text
    assert "location" not in response.headers
    [event] = gw.events()
    assert event.action == ClickAction.TOKEN_INVALID
    assert event.destination == ""
    assert event.verdict == ""
    metrics = (await gw.client.get("/metrics")).text
    assert re.search(r'linkguard_token_errors_total\{code="token\.[a-z_]+"\} 1\.0', metrics)


async def test_link_sealed_with_an_unknown_key_is_refused(gw: Gw) -> None:
    stranger = KeyRing.parse(generate_key_spec("k9"))
    token = seal(LinkClaims(url=ALLOWED, issued_at=int(time.time())), stranger)
    response = await gw.client.get("/r/" + token)
    assert response.status_code == 400


async def test_old_links_get_410_when_policy_sets_a_maximum_age(gw_factory: GwFactory) -> None:
    gw = await gw_factory(link_max_age_days=30)
    old = gw.link(ALLOWED, issued_at=int(time.time()) - 31 * 86_400)
    fresh = gw.link(ALLOWED, issued_at=int(time.time()) - 29 * 86_400)
    assert (await gw.client.get(old)).status_code == 410
    assert (await gw.client.get(fresh)).status_code == 303
    assert [e.action for e in gw.events()] == [ClickAction.TOKEN_EXPIRED, ClickAction.REDIRECT]


@pytest.mark.parametrize("headers", [
    {"user-agent": "Mozilla/5.0 (compatible; Slackbot-LinkExpanding 1.0)"},
    {"user-agent": "python-requests/2.32"},
    {"user-agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/120", "accept-language": ""},
    {"user-agent": ""},
])
async def test_scanners_get_the_same_answer_and_are_logged_as_scanners(
        gw: Gw, headers: dict[str, str]) -> None:
    for url, status in ((ALLOWED, 303), (WARNED, 200), (BLOCKED, 403)):
        text = WARN_TEXT if url == WARNED else None
        response = await gw.client.get(gw.link(url, display_text=text), headers=headers)
        assert response.status_code == status
    assert {e.kind for e in gw.events()} == {ClickKind.SCANNER}


async def test_head_is_a_scanner_and_answers_like_get(gw: Gw) -> None:
    response = await gw.client.head(gw.link(ALLOWED))
    assert response.status_code == 303
    assert response.headers["location"] == ALLOWED
    assert gw.events()[0].kind == ClickKind.SCANNER


async def test_rate_limit_answers_429_with_retry_after(gw_factory: GwFactory) -> None:
    gw = await gw_factory(rate_limit_clicks="3/60")
    link = gw.link(ALLOWED)
    codes = [(await gw.client.get(link)).status_code for _ in range(4)]
    assert codes == [303, 303, 303, 429]
    limited = await gw.client.get(link)
    assert int(limited.headers["retry-after"]) >= 1
    assert "Too many requests" in limited.text
    assert len(gw.events()) == 3


async def test_a_full_click_queue_still_serves_and_counts_the_drop(
        gw_factory: GwFactory) -> None:
    gw = await gw_factory(click_queue_size=1)
    gw.state.recorder.close()  # the store has stalled: nothing drains the queue
    link = gw.link(ALLOWED)
    assert (await gw.client.get(link)).status_code == 303
    assert (await gw.client.get(link)).status_code == 303
    assert gw.state.recorder.stats.dropped == 1
    metrics = (await gw.client.get("/metrics")).text
    assert "linkguard_click_log_dropped_total 1.0" in metrics
    assert len(gw.events()) == 1


@pytest.mark.parametrize(("mode", "expected"),
                         [("full", "127.0.0.1"), ("truncate", "127.0.0.0/24")])
async def test_client_ip_is_logged_per_config(gw_factory: GwFactory, mode: str,
                                              expected: str) -> None:
    gw = await gw_factory(client_ip_mode=mode)
    await gw.client.get(gw.link(ALLOWED))
    assert gw.events()[0].client_ip == expected


async def test_client_ip_hash_is_keyed_and_stable(gw_factory: GwFactory) -> None:
    gw = await gw_factory(client_ip_mode="hash")
    await gw.client.get(gw.link(ALLOWED))
    await gw.client.get(gw.link(ALLOWED))
    first, second = (e.client_ip for e in gw.events())
    assert first == second
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert "127.0.0.1" not in first


async def test_security_headers_on_every_page(gw_factory: GwFactory) -> None:
    plain = await gw_factory()
    page = await plain.client.get(plain.link(BLOCKED))
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in page.headers
    secure = await gw_factory(base_url="https://links.corp.test")
    page = await secure.client.get(secure.link(BLOCKED))
    assert page.headers["strict-transport-security"].startswith("max-age=")


async def test_branding_from_settings(gw_factory: GwFactory) -> None:
    gw = await gw_factory(org_name="Acme <Corp>", brand_color="#aa0011",
                    brand_logo_url="https://cdn.acme.test/logo.png",
                    support_contact="the Acme SOC", support_url="https://help.acme.test/")
    page = await gw.client.get(gw.link(BLOCKED))
    assert "Acme &lt;Corp&gt;" in page.text
    assert "Acme <Corp>" not in page.text
    assert "the Acme SOC" in page.text
    assert 'href="https://help.acme.test/"' in page.text
    assert "img-src 'self' data: https://cdn.acme.test" in page.headers["content-security-policy"]
    theme = await gw.client.get("/theme.css")
    assert "--accent: #aa0011" in theme.text


async def test_unknown_paths(gw: Gw) -> None:
    page = await gw.client.get("/nothing/here")
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    api = await gw.client.get("/v1/nothing")
    assert api.status_code == 404
    assert api.json()["error"] == "not_found"
    wrong = await gw.client.delete(gw.link(ALLOWED))
    assert wrong.status_code == 405


async def test_static_assets_and_back_page(gw: Gw) -> None:
    assert (await gw.client.get("/static/linkguard.css")).status_code == 200
    script = await gw.client.get("/static/linkguard.js")
    assert script.status_code == 200
    assert "history.back" in script.text
    left = await gw.client.get("/left")
    assert left.status_code == 200
    assert "not opened" in left.text


async def test_a_list_entry_made_in_the_store_reaches_the_click_path(
        gw_factory: GwFactory, tmp_path: Path) -> None:
    # Two gateways on one database (replicas): a block added through the store (the admin API
    # and `lists sync` write there) takes effect on both within the poll interval.
    first = await gw_factory(list_poll_s=0.2)
    second = await gw_factory(list_poll_s=0.2)
    link = first.link("https://www.wikipedia.org/wiki/Phishing")
    assert (await first.client.get(link)).status_code == 303
    store = build_list_store(make_settings(tmp_path))
    store.add(ListEntry(Action.BLOCK, MatchKind.DOMAIN, "wikipedia.org", reason="test"),
              actor="admin@corp.test")
    deadline = time.monotonic() + 5
    statuses: tuple[int, int] = (0, 0)
    while time.monotonic() < deadline:
        statuses = ((await first.client.get(link)).status_code,
                    (await second.client.get(link)).status_code)
        if statuses == (403, 403):
            break
        await anyio.sleep(0.1)
    assert statuses == (403, 403)
