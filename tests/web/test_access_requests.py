"""Out-of-band approval: a person asks for access to a blocked link (signed in with a code
mailed through a real SMTP server on loopback), an admin approves or denies through the admin
API or page, and the person's next click passes or shows the denial."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from linkguard.adapters.sql import SqlAccessRequests, make_engine
from linkguard.ports import AccessStatus, ClickAction
from linkguard.web.routes.access import clean_justification
from tests.support.smtp_sink import Sink, smtp_sink
from tests.web.conftest import BASE, BLOCKED, CONFIRMED, Gw, GwFactory
from tests.web.test_confirm_code import hidden, mailed_code, refusal

pytestmark = pytest.mark.anyio

SESSION_SECRET = secrets.token_urlsafe(32)
ORIGIN = {"origin": BASE, "sec-fetch-site": "same-origin"}
READER, WRITER = "r" * 32, "w" * 32
KEYS = f"reader:{READER}:admin:read,writer:{WRITER}:admin:read+admin:write"
# A homoglyph of a protected brand: blocked by the heuristics, so admins may override it.
HOMOGLYPH = "https://xn--pypal-4ve.com/login"
ALICE, BOB = "alice@corp.test", "bob@corp.test"
REASON = "The supplier sent the Q4 invoice portal link; I need to download the invoice."


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    with smtp_sink() as running:
        yield running


@pytest.fixture
async def gw(gw_factory: GwFactory, sink: tuple[Sink, int]) -> Gw:
    return await gw_factory(
        session_secret=SESSION_SECRET, api_keys=KEYS, mailer="smtp", smtp_host="127.0.0.1",
        smtp_port=sink[1], smtp_security="none", mail_from="linkguard@corp.test",
        access_notify="secops@corp.test, soc@corp.test")


def api(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


async def sign_in_for_request(gw: Gw, link: str, messages: Sink) -> None:
    """The mailed-code sign-in, started from the block page's "Ask for access"."""
    start = await gw.client.get(link + "/request")
    assert start.status_code == 303
    assert start.headers["location"] == link + "/sign-in?for=request"
    page = await gw.client.get(start.headers["location"])
    assert page.status_code == 200, page.text
    assert f'action="{link}/code/send?for=request"' in page.text
    sent = await gw.client.post(link + "/code/send?for=request", headers=ORIGIN,
                                data={"csrf": hidden(page.text, "csrf")})
    assert sent.status_code == 303
    assert sent.headers["location"] == link + "/code?for=request"
    form = await gw.client.get(sent.headers["location"])
    assert f'action="{link}/code?for=request"' in form.text
    assert "confirmation code" in str(messages.messages[-1]["subject"])  # read below
    checked = await gw.client.post(link + "/code?for=request", headers=ORIGIN, data={
        "csrf": hidden(form.text, "csrf"), "code": mailed_code(messages)})
    assert checked.status_code == 303, checked.text
    assert checked.headers["location"] == link + "/request"


async def ask(gw: Gw, link: str, reason: str = REASON) -> httpx.Response:
    form = await gw.client.get(link + "/request")
    assert form.status_code == 200, form.text
    return await gw.client.post(link + "/request", headers=ORIGIN, data={
        "csrf": hidden(form.text, "csrf"), "justification": reason})


async def pending_id(gw: Gw) -> int:
    listed = await gw.client.get("/v1/admin/access-requests?status=pending", headers=api(READER))
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert len(items) == 1
    return int(items[0]["id"])


async def test_ask_approve_and_the_next_click_passes(gw: Gw, sink: tuple[Sink, int]) -> None:
    messages = sink[0]
    link = gw.link(HOMOGLYPH, recipient=ALICE)
    blocked = await gw.client.get(link)
    assert blocked.status_code == 403
    assert f'id="request-access" href="{link}/request"' in blocked.text
    await sign_in_for_request(gw, link, messages)
    form = await gw.client.get(link + "/request")
    assert "xn--pypal-4ve.com" in form.text or "pаypal.com" in form.text
    assert 'name="justification"' in form.text
    sent = await ask(gw, link)
    assert sent.status_code == 303
    assert sent.headers["location"] == link + "/request"
    status = await gw.client.get(link + "/request")
    assert status.status_code == 200
    assert 'id="access-pending"' in status.text
    assert REASON in status.text
    # The block page now says the request is waiting, and still blocks.
    waiting = await gw.client.get(link)
    assert waiting.status_code == 403
    assert 'id="access-pending"' in waiting.text
    assert 'id="request-access"' not in waiting.text
    # The admins were told, with the destination defanged.
    notice = next(m for m in messages.messages if "Access request" in str(m["subject"]))
    assert notice["to"] == "secops@corp.test, soc@corp.test"
    body = notice.get_body(("plain",)).get_content()
    assert "hxxps://xn--pypal-4ve[.]com/login" in body
    assert HOMOGLYPH not in body
    assert REASON in body
    # The admin API shows the whole request.
    request_id = await pending_id(gw)
    shown = (await gw.client.get(f"/v1/admin/access-requests/{request_id}",
                                 headers=api(READER))).json()
    assert (shown["requester"], shown["method"], shown["recipient"], shown["destination"],
            shown["justification"], shown["status"]) == (
        ALICE, "mailcode", ALICE, HOMOGLYPH, REASON, "pending")
    assert "lookalike.homoglyph" in shown["reasons"]
    approved = await gw.client.post(f"/v1/admin/access-requests/{request_id}/approve",
                                    headers=api(WRITER),
                                    json={"note": "invoice portal checked", "valid_for_hours": 2})
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["status"], body["decided_by"]) == ("approved", "api-key:writer")
    expires = datetime.fromisoformat(body["expires"])
    assert timedelta(hours=1, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=2)
    # The next click passes: the same 303 an allowed link gets, from a fresh browser too.
    passed = await gw.client.get(link)
    assert passed.status_code == 303
    assert passed.headers["location"] == HOMOGLYPH
    assert passed.headers["referrer-policy"] == "no-referrer"
    fresh = httpx.AsyncClient(transport=httpx.ASGITransport(app=gw.app), base_url=BASE)
    async with fresh:
        assert (await fresh.get(link)).status_code == 303
    actions = [e.action for e in gw.events()]
    assert ClickAction.ACCESS_REQUESTED in actions
    assert actions[-1] is ClickAction.APPROVED
    audit = gw.state.audit.recent(object_type="access_request")  # type: ignore[union-attr]
    assert [(e.action, e.actor) for e in audit] == [
        ("access.approve", "api-key:writer"), ("access.request", f"mailcode:{ALICE}")]
    metrics = (await gw.client.get("/metrics")).text
    for event in ("requested", "approved", "let_through"):
        assert f'linkguard_access_requests_total{{event="{event}"}} ' in metrics, event
    # Deciding twice is a conflict.
    again = await gw.client.post(f"/v1/admin/access-requests/{request_id}/deny",
                                 headers=api(WRITER))
    assert again.status_code == 409
    # Another link to the same destination is another matter: still blocked.
    other = gw.link(HOMOGLYPH, recipient=ALICE, message_id="<m2@corp.test>")
    assert (await gw.client.get(other)).status_code == 403


async def test_denied_shows_the_note_and_a_denial_stands(gw: Gw, sink: tuple[Sink, int]) -> None:
    link = gw.link(HOMOGLYPH, recipient=ALICE)
    await sign_in_for_request(gw, link, sink[0])
    assert (await ask(gw, link)).status_code == 303
    request_id = await pending_id(gw)
    denied = await gw.client.post(f"/v1/admin/access-requests/{request_id}/deny",
                                  headers=api(WRITER),
                                  json={"note": "This is a known phishing kit; call the SOC."})
    assert denied.status_code == 200
    page = await gw.client.get(link)
    assert page.status_code == 403
    assert 'id="access-denied"' in page.text
    assert "This is a known phishing kit; call the SOC." in page.text
    assert 'id="request-access"' not in page.text
    status = await gw.client.get(link + "/request")
    assert 'id="access-denied"' in status.text
    # Asking again is not taken: the answer is the status page, and nothing new is stored.
    form_csrf = hidden((await gw.client.get(link + "/sign-in?for=request&again=1")).text, "csrf")
    again = await gw.client.post(link + "/request", headers=ORIGIN,
                                 data={"csrf": form_csrf, "justification": "please, again"})
    assert again.status_code == 303
    assert gw.state.access is not None
    assert len(gw.state.access.search().items) == 1


async def test_an_approval_runs_out(gw: Gw, sink: tuple[Sink, int]) -> None:
    link = gw.link(HOMOGLYPH, recipient=ALICE)
    await sign_in_for_request(gw, link, sink[0])
    await ask(gw, link)
    request_id = await pending_id(gw)
    assert gw.state.access is not None
    gw.state.access.decide(request_id, approve=True, actor="api-key:writer",
                           expires=datetime.now(UTC) - timedelta(seconds=1))
    page = await gw.client.get(link)
    assert page.status_code == 403
    assert 'id="access-offer"' in page.text
    assert "has run out" in page.text
    assert (await ask(gw, link, "Needed again for the December run.")).status_code == 303
    assert len(gw.state.access.search(status=AccessStatus.PENDING).items) == 1


async def test_blocks_that_cannot_be_overridden_offer_nothing(gw: Gw,
                                                              sink: tuple[Sink, int]) -> None:
    for destination in (BLOCKED, "javascript:alert(1)"):  # an admin's block entry, a scheme
        link = gw.link(destination, recipient=ALICE)
        page = await gw.client.get(link)
        assert page.status_code == 403
        assert 'id="request-access"' not in page.text
        assert 'id="access-' not in page.text
        direct = await gw.client.get(link + "/request")
        assert direct.status_code == 403  # the block page, not a form
        assert 'name="justification"' not in direct.text
        posted = await gw.client.post(link + "/request", headers=ORIGIN,
                                      data={"justification": REASON})
        assert posted.status_code == 403
    # Links that are not blocked have nothing to ask for either.
    confirm = gw.link(CONFIRMED, recipient=ALICE)
    assert 'id="request-access"' not in (await gw.client.get(confirm)).text
    assert (await gw.client.get(confirm + "/request")).status_code == 200  # the confirm page
    assert gw.state.access is not None
    assert gw.state.access.search().items == ()
    del sink


async def test_without_sign_in_set_up_no_request_is_offered(gw_factory: GwFactory) -> None:
    gw = await gw_factory()  # no session secret, no IdP: nobody can prove who asks
    assert gw.state.access is None
    link = gw.link(HOMOGLYPH, recipient=ALICE)
    page = await gw.client.get(link)
    assert page.status_code == 403
    assert 'id="request-access"' not in page.text
    assert (await gw.client.get(link + "/request")).status_code == 403
    listed = await gw.client.get("/v1/admin/access-requests",
                                 headers=api("a" * 32))
    assert listed.status_code == 503


async def test_policy_can_turn_requests_off(gw_factory: GwFactory, tmp_path: Any) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("access_requests:\n  enabled: false\n", encoding="utf-8")
    gw = await gw_factory(session_secret=SESSION_SECRET, policy_file=policy)
    page = await gw.client.get(gw.link(HOMOGLYPH, recipient=ALICE))
    assert page.status_code == 403
    assert 'id="request-access"' not in page.text


async def test_refusals(gw: Gw, sink: tuple[Sink, int]) -> None:
    alices = gw.link(HOMOGLYPH, recipient=ALICE)
    # No session at all: the POST is refused with its own page.
    bare = await gw.client.post(alices + "/request", headers=ORIGIN,
                                data={"justification": REASON})
    assert bare.status_code == 401
    assert refusal(bare) == "session_missing"
    await sign_in_for_request(gw, alices, sink[0])
    form = await gw.client.get(alices + "/request")
    csrf = hidden(form.text, "csrf")
    # CSRF: missing, wrong, or from another site.
    missing = await gw.client.post(alices + "/request", headers=ORIGIN,
                                   data={"justification": REASON})
    assert refusal(missing) == "csrf_missing"
    wrong = await gw.client.post(alices + "/request", headers=ORIGIN,
                                 data={"csrf": csrf[:-2] + "xx", "justification": REASON})
    assert refusal(wrong) == "csrf_invalid"
    cross = await gw.client.post(alices + "/request", data={"csrf": csrf,
                                                            "justification": REASON},
                                 headers={"origin": "https://evil.example",
                                          "sec-fetch-site": "cross-site"})
    assert refusal(cross) == "csrf_invalid"
    # Reasons that cannot be taken get the form again, with what was typed.
    for typed in ("", "   ", "ok", "x" * 1001, "I need it\u202egnp.exe", "tab\x00null"):
        again = await gw.client.post(alices + "/request", headers=ORIGIN,
                                     data={"csrf": csrf, "justification": typed})
        assert again.status_code == 422, typed
        assert 'id="request-error"' in again.text
    # Alice's session on a link sent to Bob (a forwarded mail): refused, nothing stored.
    bobs = gw.link(HOMOGLYPH, recipient=BOB, message_id="<m9@corp.test>")
    forwarded = await gw.client.get(bobs + "/request")
    assert forwarded.status_code == 403
    assert refusal(forwarded) == "identity_mismatch"
    assert f'href="{bobs}/sign-in?for=request&amp;again=1"' in forwarded.text
    assert gw.state.access is not None
    assert gw.state.access.search().items == ()
    refused = [e for e in gw.events() if e.action is ClickAction.REFUSED]
    assert {r for e in refused for r in e.reasons} >= {
        "session_missing", "csrf_missing", "csrf_invalid", "identity_mismatch"}


async def test_store_down_keeps_the_link_blocked(gw: Gw, sink: tuple[Sink, int]) -> None:
    link = gw.link(HOMOGLYPH, recipient=ALICE)
    await sign_in_for_request(gw, link, sink[0])
    store = gw.state.access
    assert store is not None

    # The same SQL store on a database server that does not answer (nothing listens on 1).
    gone = make_engine("postgresql://linkguard@127.0.0.1:1/linkguard")
    gw.state.access = SqlAccessRequests(gone)
    page = await gw.client.get(link)
    assert page.status_code == 403
    assert 'id="access-unavailable"' in page.text
    form = await gw.client.get(link + "/request")
    assert form.status_code == 503
    gw.state.access = store
    gone.dispose()
    assert (await ask(gw, link)).status_code == 303


class TestAdminApi:
    async def test_auth_scopes_and_validation(self, gw: Gw, sink: tuple[Sink, int]) -> None:
        del sink
        assert (await gw.client.get("/v1/admin/access-requests")).status_code == 401
        assert (await gw.client.get("/v1/admin/access-requests",
                                    headers=api("x" * 32))).status_code == 401
        assert (await gw.client.post("/v1/admin/access-requests/1/approve",
                                     headers=api(READER))).status_code == 403
        assert (await gw.client.post("/v1/admin/access-requests/1/approve",
                                     headers=api(WRITER))).status_code == 404
        assert (await gw.client.get("/v1/admin/access-requests/1",
                                    headers=api(READER))).status_code == 404
        for body in ({"valid_for_hours": 0}, {"valid_for_hours": 24 * 91},
                     {"note": "x" * 1001}, {"approve": True}, {"valid_for_hours": "soon"}):
            bad = await gw.client.post("/v1/admin/access-requests/1/approve",
                                       headers=api(WRITER), json=body)
            assert bad.status_code == 422, body
            assert bad.json()["error"] == "invalid_request"
        for query in ("status=open", "limit=0", "cursor=abc"):
            bad = await gw.client.get(f"/v1/admin/access-requests?{query}", headers=api(READER))
            assert bad.status_code == 422, query
        garbage = await gw.client.post("/v1/admin/access-requests/1/deny", headers={
            **api(WRITER), "content-type": "application/json"}, content=b"{not json")
        assert garbage.status_code in (400, 422)

    async def test_the_admin_page_decides_but_not_ones_own_request(
            self, gw: Gw, sink: tuple[Sink, int]) -> None:
        link = gw.link(HOMOGLYPH, recipient=ALICE)
        await sign_in_for_request(gw, link, sink[0])
        await ask(gw, link)
        request_id = await pending_id(gw)
        assert gw.state.admin is not None
        admin = gw.state.admin
        # Alice is also an admin (signed in to the page with OIDC): she cannot approve her own.
        own = admin.sessions.dumps({"who": f"oidc:{ALICE}", "scopes": ["admin:read",
                                                                        "admin:write"],
                                    "key": None, "sid": "t"})
        gw.client.cookies.set(admin.cookie.key, own)
        page = await gw.client.get("/admin/access")
        assert page.status_code == 200
        assert REASON in page.text
        decided = await gw.client.post(f"/admin/access/{request_id}", headers=ORIGIN, data={
            "csrf": _csrf(page.text), "decision": "approve", "note": "", "hours": "4"})
        assert decided.status_code == 403
        assert "nobody decides their own" in decided.text
        # Bob can.
        bobs = admin.sessions.dumps({"who": f"oidc:{BOB}", "scopes": ["admin:read",
                                                                     "admin:write"],
                                     "key": None, "sid": "u"})
        gw.client.cookies.set(admin.cookie.key, bobs)
        page = await gw.client.get("/admin/access")
        bad = await gw.client.post(f"/admin/access/{request_id}", headers=ORIGIN, data={
            "csrf": _csrf(page.text), "decision": "approve", "hours": "0"})
        assert bad.status_code == 422
        stale = await gw.client.post(f"/admin/access/{request_id}", headers=ORIGIN, data={
            "csrf": "nope", "decision": "approve", "hours": "4"})
        assert stale.status_code == 403
        decided = await gw.client.post(f"/admin/access/{request_id}", headers=ORIGIN, data={
            "csrf": _csrf(page.text), "decision": "approve", "note": "ok", "hours": "4"})
        assert decided.status_code == 303
        assert decided.headers["location"] == "/admin/access?done=approved"
        assert gw.state.access is not None
        found = gw.state.access.get(request_id)
        assert (found.status, found.decided_by) == (AccessStatus.APPROVED, f"oidc:{BOB}")
        listing = await gw.client.get("/admin/access?status=approved")
        assert f'id="request-{request_id}"' in listing.text
        assert (await gw.client.get(link)).status_code == 303


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


@pytest.mark.parametrize(("typed", "kept"), [
    ("  Need the invoice.  ", "Need the invoice."),
    ("line one\r\nline two", "line one\nline two"),
    ("tabs\tare fine", "tabs\tare fine"),
    ("ünïcödé réason", "ünïcödé réason"),
])
def test_clean_justification_keeps(typed: str, kept: str) -> None:
    assert clean_justification(typed) == (kept, None)


@pytest.mark.parametrize("typed", ["", "abc", "x" * 1001, "a\u200bbcdef", "abc\x07def",
                                   "right\u202eto-left"])
def test_clean_justification_refuses(typed: str) -> None:
    text, problem = clean_justification(typed)
    assert text is None
    assert problem
