"""Asking for access to a blocked link, end to end in headless Chromium against the real
OpenID Provider: the wrong person signs in first (a forwarded mail), "Sign in as someone else"
makes the provider ask again (``prompt=login``: without it the provider would hand back the
same session), the recipient sends a reason, an admin approves through the API, and the next
click reaches the destination."""

from __future__ import annotations

from pathlib import Path

import httpx

from linkguard.ports import ClickAction, ClickQuery
from tests.web.test_confirm_browser import Destination, browsing, sealed

# A homoglyph of a protected brand on plain http (the stand-in destination speaks http only):
# blocked by the heuristics, a block admins may override.
BLOCKED_LOOKALIKE = "http://xn--pypal-4ve.com/login"
OPS = "o" * 32


def test_ask_for_access_in_chromium(tmp_path: Path) -> None:
    with browsing(tmp_path, api_keys=f"ops:{OPS}:admin:read+admin:write") as run:
        base, provider, page = run.base, run.provider, run.page
        link = f"{base}/r/{sealed(BLOCKED_LOOKALIKE)}"
        response = page.goto(link)
        assert response is not None
        assert response.status == 403
        assert page.locator("h1").inner_text() == "This link has been blocked"
        page.click("#request-access")
        # Bob opens Alice's forwarded link and signs in as himself.
        page.wait_for_url(provider.issuer + "/interaction/**")
        page.select_option('select[name="login"]', "bob")
        page.click('button[type="submit"]')
        page.wait_for_url(f"{link}/request")
        assert page.locator("#reason").inner_text() == "identity_mismatch"
        # "Sign in as someone else": the provider must ask again, not reuse Bob.
        page.click("#sign-in-again")
        page.wait_for_url(provider.issuer + "/interaction/**")
        page.select_option('select[name="login"]', "alice")
        page.click('button[type="submit"]')
        page.wait_for_url(f"{link}/request")
        assert "Alice@corp.example" in page.content()
        page.fill("#justification", "Our payment provider's new portal, per the supplier's mail.")
        page.screenshot(path=str(tmp_path / "access-request.png"), full_page=True)
        page.click("#send-request")
        page.wait_for_url(f"{link}/request")
        assert page.locator("#access-pending").is_visible()
        # The admin approves through the API.
        with httpx.Client(base_url=base, headers={"authorization": f"Bearer {OPS}"},
                          timeout=10) as admin:
            pending = admin.get("/v1/admin/access-requests",
                                params={"status": "pending"}).json()["items"]
            assert [p["requester"] for p in pending] == ["Alice@corp.example"]
            approved = admin.post(f"/v1/admin/access-requests/{pending[0]['id']}/approve",
                                  json={"note": "checked with the supplier"})
            assert approved.status_code == 200, approved.text
        # The next click reaches the destination.
        page.goto(link)
        page.wait_for_url(BLOCKED_LOOKALIKE)
        assert page.locator("h1").inner_text() == "destination reached"
    assert BLOCKED_LOOKALIKE in Destination.seen
    actions = [e.action for e in run.state.recorder.store.search(ClickQuery()).events]
    assert actions[0] is ClickAction.APPROVED  # newest first
    assert ClickAction.ACCESS_REQUESTED in actions
    assert ClickAction.REFUSED in actions
