"""The admin page in a real Chromium: sign in with an admin API key, add a block entry, see it
listed, test a link and see the block reason, see recent clicks."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from linkguard.bootstrap import build_state
from linkguard.ports import ApiScope, ClickAction, ClickEvent, ClickKind
from linkguard.web import AppState, create_app
from tests.browser.conftest import ARTIFACTS, free_port
from tests.web.conftest import make_settings

Page = Any  # playwright.sync_api.Page, loaded lazily by the fixture


@pytest.fixture(scope="module")
def admin_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, AppState]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    tmp: Path = tmp_path_factory.mktemp("admin")
    state = build_state(make_settings(tmp, base_url=base,
                                      session_secret=secrets.token_urlsafe(32)))
    server = uvicorn.Server(uvicorn.Config(create_app(state), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.05)
    yield base, state
    server.should_exit = True
    thread.join(10)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"admin-{name}.png"), full_page=True)


def test_an_admin_blocks_a_domain_and_tests_a_link(
        admin_served: tuple[str, AppState], page: Page) -> None:
    base, state = admin_served
    assert state.api_key_store is not None
    _, secret = state.api_key_store.create(
        "browser admin", [ApiScope.ADMIN_READ, ApiScope.ADMIN_WRITE], actor="test")
    state.recorder.store.write_batch([ClickEvent(
        at=datetime.now(UTC), kind=ClickKind.HUMAN, action=ClickAction.WARNED,
        recipient="alice@corp.test", destination="https://shady-offer.com/win",
        registrable_domain="shady-offer.com", verdict="warn", reasons=("path.lure",))])

    page.goto(f"{base}/admin")
    page.wait_for_selector("#key")
    shot(page, "sign-in")
    page.fill("#key", secret)
    page.click("#sign-in")
    page.wait_for_selector("#entries")
    assert page.locator("#who").inner_text() == "api-key:1 browser admin"

    page.select_option("#action", "block")
    page.select_option("#kind", "domain")
    page.fill("#value", "Phish-Kit-Host.com")
    page.fill("#reason", "incident 77: credential phishing")
    page.click("#add")
    page.wait_for_selector("#message")
    assert page.locator("#message").inner_text() == "Entry added."
    row = page.locator("#entries tbody tr").first
    assert "phish-kit-host.com" in row.inner_text()
    assert "incident 77" in row.inner_text()
    shot(page, "lists")

    page.fill("#q", "incident 77")
    page.click("#search")
    page.wait_for_selector("#count")
    assert page.locator("#count").inner_text().startswith("1 entry")

    page.click("a[href='/admin/test']")
    page.fill("#url", "https://login.phish-kit-host.com/office365")
    page.click("#test")
    page.wait_for_selector("#result")
    assert page.locator("#verdict").inner_text() == "block"
    reasons = page.locator(".reasons").inner_text()
    assert "list.block" in reasons
    assert "incident 77" in reasons
    shot(page, "verdict-tester")

    page.click("a[href='/admin/clicks']")
    page.wait_for_selector("#clicks")
    assert "shady-offer.com/win" in page.locator("#clicks").inner_text()
    shot(page, "recent-clicks")
    blocked = [p for p in page.problems if "Content Security Policy" in p]
    assert not blocked, blocked
