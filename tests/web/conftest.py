"""A gateway built from settings, as ``linkguard serve`` builds it, on in-memory stores."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from linkguard.bootstrap import build_state
from linkguard.core.model import Verdict
from linkguard.core.tokens import KeyRing, LinkClaims, generate_key_spec, seal
from linkguard.ports import ClickEvent, ClickQuery
from linkguard.settings import Settings
from linkguard.web import AppState, create_app

BASE = "http://gw.test"
KEY_SPEC = generate_key_spec("k1")
# One destination per verdict, with the lists below; test_fixture_verdicts pins them.
ALLOWED = "https://docs.allowed-site.org/guide?x=1"
WARNED = "https://example.com/start"  # warned through the display text below
WARN_TEXT = "https://www.paypal.com/"
CONFIRMED = "http://paypa1-login.com/verify/account"
BLOCKED = "https://evil.blocked-site.net/login"

LISTS = """\
version: 1
allow:
  - domain: allowed-site.org
    reason: documentation site
block:
  - domain: blocked-site.net
    reason: incident 42
"""

BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0",
           "accept": "text/html,application/xhtml+xml,*/*;q=0.8",
           "accept-language": "en-GB,en;q=0.9", "sec-fetch-mode": "navigate"}


@dataclass
class Gw:
    app: FastAPI
    state: AppState
    client: httpx.AsyncClient
    keys: KeyRing

    def link(self, url: str, *, recipient: str | None = "alice@corp.test",
             display_text: str | None = None, issued_at: int | None = None,
             message_id: str | None = "<m1@corp.test>") -> str:
        claims = LinkClaims(url=url, issued_at=issued_at or int(time.time()),
                            recipient=recipient, message_id=message_id, link_index=3,
                            display_text=display_text)
        return "/r/" + seal(claims, self.keys)

    def events(self) -> list[ClickEvent]:
        """The click log, oldest first, after writing what is queued."""
        self.state.recorder.flush()
        page = self.state.recorder.store.search(ClickQuery(), limit=1000)
        return list(reversed(page.events))


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    lists = tmp_path / "lists.yaml"
    lists.write_text(LISTS, encoding="utf-8")
    values: dict[str, object] = {
        "link_keys": KEY_SPEC, "base_url": BASE, "list_files": [lists],
        "api_keys": "ci:" + "v" * 32 + ",admin:" + "a" * 32 + ":admin:read",
        "data_dir": tmp_path / "var", "org_name": "Corp Test",
        "facts_enabled": False,  # no network in unit tests; see test_gateway_facts
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


GwFactory = Callable[..., Awaitable[Gw]]


@pytest.fixture
async def gw_factory(tmp_path: Path) -> AsyncIterator[GwFactory]:
    """Gateways as ``linkguard serve`` runs them, lifespan included (the click-log flusher,
    the list watcher on the SQLite store in ``tmp_path``)."""
    opened: list[tuple[httpx.AsyncClient, contextlib.AbstractAsyncContextManager[None]]] = []

    async def build(**overrides: object) -> Gw:
        state = build_state(make_settings(tmp_path, **overrides))
        app = create_app(state)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE,
                                   headers=BROWSER)
        opened.append((client, lifespan))
        return Gw(app, state, client, KeyRing.parse(KEY_SPEC))

    yield build
    for client, lifespan in reversed(opened):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def gw(gw_factory: GwFactory) -> Gw:
    return await gw_factory()


EXPECTED = {ALLOWED: Verdict.ALLOW, WARNED: Verdict.WARN, CONFIRMED: Verdict.CONFIRM,
            BLOCKED: Verdict.BLOCK}
