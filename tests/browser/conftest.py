"""A gateway served by uvicorn on loopback, a destination site, and Debian's Chromium.

Chromium is driven by Playwright with ``executable_path=/usr/bin/chromium`` (never a
downloaded browser) and the flags a closed network needs. Every host name resolves to
127.0.0.1 inside the browser (``--host-resolver-rules``), so real-looking destinations land
on the local destination server. Screenshots go to ``test-artifacts/`` (or
``$LINKGUARD_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import uvicorn

from linkguard.bootstrap import build_state
from linkguard.core.tokens import KeyRing, LinkClaims, seal
from linkguard.web import AppState, create_app
from tests.web.conftest import KEY_SPEC, make_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--host-resolver-rules=MAP * 127.0.0.1"]
ARTIFACTS = Path(os.environ.get("LINKGUARD_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[2] / "test-artifacts"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Landing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = (f"<!doctype html><title>Landed</title><h1 id='landed'>Landed on "
                f"{self.headers.get('host')}{self.path}</h1>"
                f"<p id='referer'>{self.headers.get('referer') or 'no referer'}</p>"
                f"<a id='out' href='{self.server.next_link}'>next</a>").encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        del args


@dataclass
class Served:
    base: str
    state: AppState
    site_port: int
    site: ThreadingHTTPServer

    def link(self, url: str, display_text: str | None = None) -> str:
        claims = LinkClaims(url=url, issued_at=int(time.time()), recipient="alice@corp.test",
                            message_id="<m@corp.test>", display_text=display_text)
        return f"{self.base}/r/{seal(claims, KeyRing.parse(KEY_SPEC))}"

    def site_url(self, host: str, path: str = "/") -> str:
        return f"http://{host}{path}"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # The destination site listens on port 80 so destinations carry no explicit port (an
    # unusual port is itself a signal and would change the verdicts under test).
    port, site_port = free_port(), 80
    base = f"http://127.0.0.1:{port}"
    tmp = tmp_path_factory.mktemp("served")
    state = build_state(make_settings(tmp, base_url=base))
    server = uvicorn.Server(uvicorn.Config(create_app(state), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        site = ThreadingHTTPServer(("127.0.0.1", site_port), _Landing)
    except OSError as exc:
        server.should_exit = True
        pytest.fail(f"the destination site needs 127.0.0.1:80 ({exc}); run as root")
    site.next_link = ""  # type: ignore[attr-defined]
    threading.Thread(target=site.serve_forever, daemon=True).start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.05)
    yield Served(base, state, site_port, site)
    server.should_exit = True
    thread.join(10)
    site.shutdown()
    site.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is not installed (/usr/bin/chromium); .ci/run "
                        "installs it")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(locale="en-GB")  # type: ignore[attr-defined]
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda message: problems.append(message.text)
              if message.type == "error" else None)
    opened.problems = problems
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    opened.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
