"""One confirm link end to end in headless Chromium (Debian's, driven by Playwright).

The gateway is served by uvicorn on a loopback port, the real OpenID Provider runs beside it,
and the browser signs in on the provider's own interaction page. The destination
``http://paypa1-login.com/verify/account`` (a confirm verdict) is answered by a tiny local
HTTP server that Chromium uses as its proxy; loopback addresses (gateway, provider) bypass
proxies in Chromium, so only the destination goes there and nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from linkguard.bootstrap import build_state
from linkguard.core.tokens import KeyRing, LinkClaims, seal
from linkguard.ports import ClickAction, ClickQuery
from linkguard.web import AppState, create_app
from tests.support.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    RunningProvider,
    start_provider,
)
from tests.support.smtp_sink import free_port
from tests.web.conftest import CONFIRMED, KEY_SPEC, make_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 # Chromium tries https:// first for typed http links; the stand-in
                 # destination speaks plain http only.
                 "--disable-features=HttpsUpgrades"]


class Destination(BaseHTTPRequestHandler):
    """Answers every proxied request with a page naming the URL it was asked for."""

    seen: list[str] = []  # noqa: RUF012 - shared by the handler instances of one test

    def do_GET(self) -> None:
        Destination.seen.append(self.path)  # a proxy request carries the absolute URL
        body = f"<!doctype html><title>Destination</title><h1>destination reached</h1>" \
               f"<p id='url'>{self.path}</p>".encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return  # quiet: pytest treats stray output as noise


@contextlib.contextmanager
def serve(state: AppState, port: int) -> Iterator[None]:
    server = uvicorn.Server(uvicorn.Config(create_app(state), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def destination_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Destination)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Browsing:
    """A gateway on a loopback port beside the real OpenID Provider, and a Chromium page whose
    only way off the machine is the stand-in destination (its proxy)."""

    base: str
    provider: RunningProvider
    state: AppState
    page: Any


@contextlib.contextmanager
def browsing(tmp_path: Path, **settings: object) -> Iterator[Browsing]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with start_provider(redirect_uris=[base + "/auth/callback"]) as provider, \
            destination_server() as proxy_port:
        state = build_state(make_settings(
            tmp_path, base_url=base, oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET, session_secret="Zq8" + "x7Kp2mW9vR4tY6uB3nL5" * 2,
            **settings))
        Destination.seen = []
        with serve(state, port), sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[*CHROMIUM_ARGS, f"--proxy-server=http://127.0.0.1:{proxy_port}"])
            try:
                yield Browsing(base, provider, state, browser.new_page())
            finally:
                browser.close()
        state.recorder.flush()


def sealed(url: str, recipient: str = "alice@corp.example") -> str:
    return seal(LinkClaims(url=url, issued_at=int(time.time()), recipient=recipient,
                           message_id="<m1@corp.test>"), KeyRing.parse(KEY_SPEC))


def test_confirm_link_in_chromium(tmp_path: Path) -> None:
    with browsing(tmp_path) as run:
        base, provider, page = run.base, run.provider, run.page
        token = sealed(CONFIRMED)
        page.goto(f"{base}/r/{token}")
        assert page.locator("h1").inner_text() == "This link needs your confirmation"
        page.click("#sign-in")
        page.wait_for_url(provider.issuer + "/interaction/**")
        page.select_option('select[name="login"]', "alice")
        page.click('button[type="submit"]')
        page.wait_for_url(f"{base}/r/{token}/confirm")
        assert "Alice@corp.example" in page.content()
        page.screenshot(path=str(tmp_path / "confirm-review.png"), full_page=True)
        page.click("#confirm")
        page.wait_for_url(CONFIRMED)
        assert page.locator("h1").inner_text() == "destination reached"
        page.screenshot(path=str(tmp_path / "confirm-destination.png"))
    assert CONFIRMED in Destination.seen  # (beside Chromium's own favicon and clock fetches)
    actions = [e.action for e in run.state.recorder.store.search(ClickQuery()).events]
    assert actions[0] is ClickAction.CONFIRMED  # newest first
    assert ClickAction.CONFIRM_REQUIRED in actions
