"""The admin page over HTTP: sign-in (admin API key or OIDC group), session cookie, CSRF,
the list forms, recent clicks and the verdict tester."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

import httpx
import pytest

from linkguard.core.identity import Identity
from linkguard.ports import ApiScope, ClickAction, ClickEvent, ClickKind
from tests.web.conftest import BASE, Gw, GwFactory

pytestmark = pytest.mark.anyio

SESSION_SECRET = secrets.token_urlsafe(32)
READER_SECRET, WRITER_SECRET = "r" * 32, "w" * 32
KEYS = f"reader:{READER_SECRET}:admin:read,writer:{WRITER_SECRET}:admin:read+admin:write"
SAME_ORIGIN = {"origin": BASE, "sec-fetch-site": "same-origin"}


@pytest.fixture
async def page_gw(gw_factory: GwFactory) -> Gw:
    return await gw_factory(api_keys=KEYS, session_secret=SESSION_SECRET)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def sign_in(gw: Gw, key: str) -> httpx.Response:
    form = await gw.client.get("/admin/sign-in")
    assert form.status_code == 200
    return await gw.client.post("/admin/sign-in", headers=SAME_ORIGIN, data={
        "csrf": csrf_of(form.text), "key": key})


async def post_form(gw: Gw, path: str, fields: dict[str, str],
                    *, page: str = "/admin/lists") -> httpx.Response:
    html = (await gw.client.get(page)).text
    return await gw.client.post(path, headers=SAME_ORIGIN,
                                data={"csrf": csrf_of(html), **fields})


async def test_pages_need_a_sign_in(page_gw: Gw) -> None:
    for path in ("/admin", "/admin/lists", "/admin/clicks", "/admin/test", "/admin/lists/1"):
        response = await page_gw.client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] in ("/admin/sign-in", "/admin/lists")


async def test_sign_in_with_an_admin_key_sets_a_strict_session_cookie(page_gw: Gw) -> None:
    response = await sign_in(page_gw, WRITER_SECRET)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/lists"
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith("linkguard_admin="))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    lists = await page_gw.client.get("/admin/lists")
    assert lists.status_code == 200
    assert "api-key:writer" in lists.text
    policy = lists.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script" not in lists.text  # the admin page needs no script at all


@pytest.mark.parametrize("key", ["", "x" * 32, "v" * 32])
async def test_unknown_or_non_admin_keys_cannot_sign_in(gw_factory: GwFactory,
                                                         key: str) -> None:
    gw = await gw_factory(api_keys=KEYS + f",ci:{'v' * 32}", session_secret=SESSION_SECRET)
    response = await sign_in(gw, key)
    assert response.status_code == 401
    assert "not an admin key" in response.text
    assert (await gw.client.get("/admin/lists", follow_redirects=False)).status_code == 303


async def test_forms_need_csrf_and_our_origin(page_gw: Gw) -> None:
    form = await page_gw.client.get("/admin/sign-in")
    token = csrf_of(form.text)
    no_field = await page_gw.client.post("/admin/sign-in", headers=SAME_ORIGIN,
                                         data={"key": WRITER_SECRET})
    other_site = await page_gw.client.post(
        "/admin/sign-in", headers={"origin": "https://evil.test", "sec-fetch-site": "cross-site"},
        data={"csrf": token, "key": WRITER_SECRET})
    forged = await page_gw.client.post("/admin/sign-in", headers=SAME_ORIGIN,
                                       data={"csrf": token[:-2] + "xx", "key": WRITER_SECRET})
    assert [r.status_code for r in (no_field, other_site, forged)] == [403, 403, 403]
    assert (await sign_in(page_gw, WRITER_SECRET)).status_code == 303
    before = page_gw.state.list_store.version()  # type: ignore[union-attr]
    refused = await page_gw.client.post("/admin/lists", headers=SAME_ORIGIN, data={
        "action": "block", "kind": "domain", "value": "csrf-less.com"})
    assert refused.status_code == 403
    assert page_gw.state.list_store.version() == before  # type: ignore[union-attr]


async def test_add_edit_delete_through_the_forms(page_gw: Gw) -> None:
    await sign_in(page_gw, WRITER_SECRET)
    added = await post_form(page_gw, "/admin/lists", {
        "action": "block", "kind": "domain", "value": "Form-Added.com", "reason": "case 12",
        "owner": "", "expires": ""})
    assert added.status_code == 303
    page = await page_gw.client.get(added.headers["location"])
    assert "Entry added." in page.text
    assert "form-added.com" in page.text
    store = page_gw.state.list_store
    assert store is not None
    (stored,) = [s for s in store.entries() if s.entry.value == "form-added.com"]
    edited = await post_form(page_gw, f"/admin/lists/{stored.id}", {
        "action": "allow", "kind": "host", "value": "www.form-added.com", "reason": "ok now",
        "owner": "it@corp.test", "expires": "2027-01-31"}, page=f"/admin/lists/{stored.id}")
    assert edited.status_code == 303, edited.text
    assert store.get(stored.id).entry.value == "www.form-added.com"
    bad = await post_form(page_gw, "/admin/lists", {
        "action": "block", "kind": "domain", "value": "https://x.com/", "reason": ""})
    assert bad.status_code == 422
    assert "bare name" in bad.text
    assert 'value="https://x.com/"' in bad.text  # the form keeps what was typed
    deleted = await post_form(page_gw, f"/admin/lists/{stored.id}/delete", {})
    assert deleted.status_code == 303
    assert not [s for s in store.entries() if s.id == stored.id]
    audit = page_gw.state.audit
    assert audit is not None
    assert {e.actor for e in audit.recent(object_type="list_entry")} == {"api-key:writer"}


async def test_a_read_only_key_sees_but_cannot_change(page_gw: Gw) -> None:
    await sign_in(page_gw, READER_SECRET)
    page = await page_gw.client.get("/admin/lists")
    assert page.status_code == 200
    assert 'id="add-form"' not in page.text
    refused = await post_form(page_gw, "/admin/lists", {
        "action": "block", "kind": "domain", "value": "reader.com"})
    assert refused.status_code == 403


async def test_revoking_a_store_key_ends_its_page_session(page_gw: Gw) -> None:
    keys = page_gw.state.api_key_store
    assert keys is not None
    key, secret = keys.create("page admin", [ApiScope.ADMIN_READ], actor="test")
    assert (await sign_in(page_gw, secret)).status_code == 303
    assert (await page_gw.client.get("/admin/lists")).status_code == 200
    keys.revoke(key.id, actor="test")
    after = await page_gw.client.get("/admin/lists", follow_redirects=False)
    assert after.status_code == 303


async def test_sign_out(page_gw: Gw) -> None:
    await sign_in(page_gw, WRITER_SECRET)
    out = await post_form(page_gw, "/admin/sign-out", {})
    assert out.status_code == 303
    assert (await page_gw.client.get("/admin/lists", follow_redirects=False)).status_code == 303


async def test_recent_clicks_with_filters(page_gw: Gw) -> None:
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    page_gw.state.recorder.store.write_batch([
        ClickEvent(at=at, kind=ClickKind.HUMAN, action=ClickAction.BLOCKED,
                   recipient="alice@corp.test", destination="https://bad-one.com/x",
                   registrable_domain="bad-one.com", verdict="block",
                   reasons=("list.block",)),
        ClickEvent(at=at, kind=ClickKind.SCANNER, action=ClickAction.REDIRECT,
                   recipient="bob@corp.test", destination="https://fine-one.com/",
                   registrable_domain="fine-one.com", verdict="allow")])
    await sign_in(page_gw, READER_SECRET)
    every = await page_gw.client.get("/admin/clicks")
    assert "bad-one.com/x" in every.text
    assert "fine-one.com" in every.text
    only = await page_gw.client.get("/admin/clicks?domain=www.bad-one.com&kind=human")
    assert "bad-one.com/x" in only.text
    assert "fine-one.com" not in only.text
    wrong = await page_gw.client.get("/admin/clicks?since=someday")
    assert wrong.status_code == 422


async def test_verdict_tester_shows_the_reasons(page_gw: Gw) -> None:
    await sign_in(page_gw, READER_SECRET)
    page = await page_gw.client.get("/admin/test", params={
        "url": "https://evil.blocked-site.net/login"})
    assert page.status_code == 200
    assert 'id="verdict">block<' in page.text
    assert "list.block" in page.text
    assert not page_gw.events()  # a test is not a click


async def test_oidc_admins_are_members_of_the_admin_group(gw_factory: GwFactory) -> None:
    # The IdP round trip is covered by the confirmation tests; here the session it leaves.
    gw = await gw_factory(api_keys=KEYS, session_secret=SESSION_SECRET,
                          admin_group="linkguard-admins", oidc_issuer="https://idp.test",
                          oidc_client_id="gw", oidc_client_secret="s" * 32)
    parts = gw.state.identity
    assert parts is not None
    sign_in_page = await gw.client.get("/admin/sign-in")
    assert 'id="sign-in-oidc"' in sign_in_page.text
    for groups, status in ((("staff",), 403), (("staff", "linkguard-admins"), 200)):
        gw.client.cookies.set(parts.session_cookie.key, parts.sessions.dumps(
            Identity("sub-1", "alice@corp.test", groups)))
        done = await gw.client.get("/admin/sign-in/oidc")
        assert done.status_code == status
    assert 'href="/admin/lists"' in done.text
    lists = await gw.client.get("/admin/lists")
    assert "oidc:alice@corp.test" in lists.text
    assert 'id="add-form"' in lists.text


async def test_without_a_session_secret_the_page_is_not_set_up(gw_factory: GwFactory) -> None:
    gw = await gw_factory(api_keys=KEYS)
    response = await gw.client.get("/admin/sign-in")
    assert response.status_code == 404
    assert "not set up" in response.text
