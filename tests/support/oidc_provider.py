"""A real OpenID Provider for tests: tests/oidc_provider/server.mjs (npm's oidc-provider).

Use the session fixture ``oidc_provider`` (import it into a conftest.py), or
``start_provider(...)`` for a provider with another configuration. ``sign_in`` plays the
browser: it follows the authorization URL, signs a test user in through the provider's own
interaction form and returns the callback URL the provider redirects to (no server needs to
listen there).

The first use runs ``npm ci`` when tests/oidc_provider/node_modules is missing. Without Node.js
the tests that need the provider are skipped locally and fail under CI (``CI`` set).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "oidc_provider"
CALLBACK = "http://127.0.0.1:8080/auth/callback"
CLIENT_ID = "linkguard-test"
CLIENT_SECRET = "linkguard-test-secret-not-for-production"  # noqa: S105 - the test IdP's
OTHER_CLIENT_ID = "other-app"
OTHER_CLIENT_SECRET = "other-app-secret-not-for-production"  # noqa: S105 - the test IdP's

USERS: list[dict[str, Any]] = [
    {"id": "alice", "email": "Alice@corp.example", "email_verified": True, "groups": ["staff"]},
    {"id": "bob", "email": "bob@corp.example", "email_verified": True,
     "groups": ["staff", "admins"]},
    {"id": "mallory", "email": "mallory@corp.example", "email_verified": False, "groups": []},
    {"id": "noemail", "email": None, "email_verified": False, "groups": []},
]


def _clients(redirect_uris: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
         "redirect_uris": list(redirect_uris)},
        {"client_id": OTHER_CLIENT_ID, "client_secret": OTHER_CLIENT_SECRET,
         "redirect_uris": list(redirect_uris)},
    ]


def _missing_tool(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def ensure_installed() -> str:
    """The path of node, after ``npm ci`` if node_modules is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing_tool("Node.js and npm are needed for the OIDC provider tests")
    assert node is not None
    assert npm is not None
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR,
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            _missing_tool(f"npm ci failed in {PROVIDER_DIR}:\n{done.stderr[-2000:]}")
    return node


@dataclass
class RunningProvider:
    issuer: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # the server exits when its stdin closes
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _first_line(process: subprocess.Popen[bytes], timeout_s: float) -> bytes:
    lines: queue.Queue[bytes] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout_s)
    except queue.Empty:
        return b""


@contextlib.contextmanager
def start_provider(*, redirect_uris: Sequence[str] = (CALLBACK,), id_token_claims: bool = True,
                   users: Sequence[dict[str, Any]] = USERS,
                   startup_timeout_s: float = 20.0) -> Iterator[RunningProvider]:
    """Run the provider on a free loopback port until the block ends."""
    node = ensure_installed()
    workdir = Path(tempfile.mkdtemp(prefix="linkguard-oidc-"))
    config = workdir / "config.json"
    config.write_text(json.dumps({
        "host": "127.0.0.1", "port": 0, "idTokenClaims": id_token_claims,
        "clients": _clients(redirect_uris), "users": list(users),
    }), encoding="utf-8")
    log_path = workdir / "provider.log"
    provider: RunningProvider | None = None
    process: subprocess.Popen[bytes] | None = None
    try:
        # A start that prints nothing in time (seen once on a loaded machine) is retried once,
        # with a fresh process, before it counts as a failure.
        for attempt in (1, 2):
            with log_path.open("wb") as log:
                process = subprocess.Popen([node, "server.mjs", str(config)], cwd=PROVIDER_DIR,
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=log)
            line = _first_line(process, startup_timeout_s * attempt)
            if line:
                break
            _discard(process)
            process = None
            if attempt == 2:
                raise RuntimeError(f"the OIDC provider did not start:\n{log_path.read_text()}")
        assert process is not None
        provider = RunningProvider(json.loads(line)["issuer"], process, log_path)
        _wait_for_discovery(provider, startup_timeout_s)
        yield provider
    finally:
        if provider is not None:
            provider.stop()
        elif process is not None:
            _discard(process)
        shutil.rmtree(workdir, ignore_errors=True)


def _discard(process: subprocess.Popen[bytes]) -> None:
    """Kill a provider that did not start, and close its pipes (no file left to the GC)."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout=5)
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()


def _wait_for_discovery(provider: RunningProvider, timeout_s: float) -> None:
    url = provider.issuer + "/.well-known/openid-configuration"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or provider.process.poll() is not None:
            raise RuntimeError(f"no discovery document at {url}:\n{provider.log()}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[RunningProvider]:
    """The shared test provider: ID tokens carry the e-mail, groups and email_verified."""
    with start_provider() as provider:
        yield provider


@pytest.fixture(scope="session")
def oidc_provider_userinfo_only() -> Iterator[RunningProvider]:
    """A provider that keeps the e-mail out of the ID token (OIDC Core §5.4), in userinfo."""
    with start_provider(id_token_claims=False) as provider:
        yield provider


async def sign_in(authorization_url: str, user: str, *, redirect_uri: str = CALLBACK,
                  client: httpx.AsyncClient | None = None, max_steps: int = 10) -> str:
    """Be the browser: follow the IdP's redirects, sign ``user`` in, return the callback URL."""
    own = client is None
    http = client or httpx.AsyncClient(timeout=10.0)
    try:
        url = authorization_url
        for _ in range(max_steps):
            if url.startswith(redirect_uri):
                return url
            response = await http.get(url)
            if response.is_redirect:
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code == 200 and 'name="login"' in response.text:
                action = response.text.split('action="', 1)[1].split('"', 1)[0]
                posted = await http.post(urljoin(url, action), data={"login": user})
                if not posted.is_redirect:
                    raise AssertionError(f"sign-in refused: {posted.status_code} {posted.text}")
                url = urljoin(url, posted.headers["location"])
                continue
            raise AssertionError(f"unexpected IdP answer {response.status_code}: {response.text}")
        raise AssertionError("too many redirects at the IdP")
    finally:
        if own:
            await http.aclose()
