"""The relying party against a real OpenID Provider (npm's oidc-provider) over real HTTP.

Each test plays the browser with ``sign_in``: it follows the authorization URL, signs a test user
in through the provider's interaction form and captures the redirect to the callback URL. The
refusals are made real too: replayed codes go back to the provider, tampered ID tokens are the
provider's own tokens changed in transit (an httpx transport between the relying party and the
provider), a wrong audience is a token the provider issued to another client.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest

from linkguard.adapters.oidc import (
    Authorization,
    EmailVerifiedPolicy,
    OidcConfig,
    OidcRelyingParty,
    SignInError,
    SignInErrorCode,
)
from linkguard.adapters.session import SignedValues
from linkguard.core.identity import Identity
from tests.support.oidc_provider import (
    CALLBACK,
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET,
    RunningProvider,
    sign_in,
    start_provider,
)

SECRET = "test-signing-secret-0123456789abcdef0123"  # noqa: S105 - test only

TokenHook = Callable[[dict[str, Any]], dict[str, Any]]


class Spy(httpx.AsyncBaseTransport):
    """Real HTTP to the provider, with a record of paths and an optional token rewrite."""

    def __init__(self, token_hook: TokenHook | None = None) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.paths: list[str] = []
        self.token_hook = token_hook

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        response = await self.inner.handle_async_request(request)
        if self.token_hook is None or request.url.path != "/token":
            return response
        body = json.loads(await response.aread())
        if response.status_code == 200:
            body = self.token_hook(body)
        return httpx.Response(response.status_code, json=body)

    async def aclose(self) -> None:
        await self.inner.aclose()


def config(issuer: str, **changes: Any) -> OidcConfig:
    base = OidcConfig(issuer=issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                      scopes=("openid", "email", "groups"))
    return replace(base, **changes)


def query(callback_url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(callback_url).query))


async def flow(rp: OidcRelyingParty, user: str = "alice",
               return_to: str = "/r/token") -> tuple[dict[str, str], str]:
    """begin, then the browser at the IdP: the callback query and the pending cookie value."""
    started = await rp.begin(CALLBACK, return_to)
    assert isinstance(started, Authorization), started
    return query(await sign_in(started.url, user)), started.pending


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


def expect(result: Identity | SignInError, code: SignInErrorCode) -> SignInError:
    assert isinstance(result, SignInError), result
    assert result.code is code, result
    return result


# --- the round trip -------------------------------------------------------------------------


def test_round_trip_signs_in_the_recipient(oidc_provider: RunningProvider) -> None:
    async def test() -> None:
        spy = Spy()
        rp = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET, transport=spy)
        started = await rp.begin(CALLBACK, "/r/token?x=1")
        assert isinstance(started, Authorization)
        params = parse_qs(urlsplit(started.url).query)
        assert params["code_challenge_method"] == ["S256"]
        assert params["response_type"] == ["code"]
        assert len(params["state"][0]) >= 32
        assert len(params["nonce"][0]) >= 32
        assert params["scope"] == ["openid email groups"]
        callback = await sign_in(started.url, "alice")
        identity = await rp.complete(query(callback), started.pending)
        assert identity == Identity("alice", "Alice@corp.example", ("staff",), "oidc")
        assert rp.return_to(started.pending) == "/r/token?x=1"
        # The e-mail was in the ID token: no userinfo call was needed.
        assert spy.paths == ["/.well-known/openid-configuration", "/token", "/jwks"]
        await rp.aclose()
    run(test)


def test_email_only_in_userinfo_is_fetched_from_there(
        oidc_provider_userinfo_only: RunningProvider) -> None:
    async def test() -> None:
        spy = Spy()
        rp = OidcRelyingParty(config(oidc_provider_userinfo_only.issuer), secret=SECRET,
                              transport=spy)
        identity = await rp.complete(*await flow(rp, "bob"))
        assert identity == Identity("bob", "bob@corp.example", ("staff", "admins"), "oidc")
        assert spy.paths[-1] == "/me"
        await rp.aclose()
    run(test)


def test_pkce_verifier_and_state_differ_per_sign_in(oidc_provider: RunningProvider) -> None:
    async def test() -> None:
        rp = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET)
        first, second = await rp.begin(CALLBACK), await rp.begin(CALLBACK)
        assert isinstance(first, Authorization)
        assert isinstance(second, Authorization)
        one, two = parse_qs(urlsplit(first.url).query), parse_qs(urlsplit(second.url).query)
        for name in ("state", "nonce", "code_challenge"):
            assert one[name] != two[name]
        await rp.aclose()
    run(test)


# --- refusals -------------------------------------------------------------------------------


def test_wrong_state_is_refused_before_the_code_is_redeemed(
        oidc_provider: RunningProvider) -> None:
    async def test() -> None:
        spy = Spy()
        rp = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET, transport=spy)
        callback, pending = await flow(rp)
        callback["state"] = "x" + callback["state"][1:]
        expect(await rp.complete(callback, pending), SignInErrorCode.STATE_INVALID)
        assert "/token" not in spy.paths
        await rp.aclose()
    run(test)


def test_callback_of_another_browsers_sign_in_is_refused(oidc_provider: RunningProvider) -> None:
    async def test() -> None:
        rp = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET)
        victim_callback, _ = await flow(rp, "alice")
        _, attacker_pending = await flow(rp, "bob")
        expect(await rp.complete(victim_callback, attacker_pending),
               SignInErrorCode.STATE_INVALID)
        await rp.aclose()
    run(test)


@pytest.mark.parametrize("pending", [None, "", "garbage", "eyJzIjoiYSJ9.AAAA.BBBB"])
def test_missing_or_forged_pending_cookie_is_refused(oidc_provider: RunningProvider,
                                                     pending: str | None) -> None:
    async def test() -> None:
        rp = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET)
        callback, _ = await flow(rp)
        expect(await rp.complete(callback, pending), SignInErrorCode.STATE_INVALID)
        await rp.aclose()
    run(test)


def test_pending_cookie_signed_with_another_secret_is_refused(
        oidc_provider: RunningProvider) -> None:
    async def test() -> None:
        rp = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET)
        other = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET + "-other")
        callback, pending = await flow(other)
        expect(await rp.complete(callback, pending), SignInErrorCode.STATE_INVALID)
        await rp.aclose()
        await other.aclose()
    run(test)


def test_slow_sign_in_expires(oidc_provider: RunningProvider) -> None:
    async def test() -> None:
        now = [time.time()]
        rp = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET, clock=lambda: now[0])
        callback, pending = await flow(rp)
        now[0] += 601
        expect(await rp.complete(callback, pending), SignInErrorCode.LOGIN_EXPIRED)
        await rp.aclose()
    run(test)


def test_replayed_code_is_refused(oidc_provider: RunningProvider) -> None:
    async def test() -> None:
        rp = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET)
        callback, pending = await flow(rp)
        assert isinstance(await rp.complete(callback, pending), Identity)
        expect(await rp.complete(callback, pending), SignInErrorCode.CODE_REJECTED)
        await rp.aclose()
    run(test)


def test_code_redeemed_without_the_right_pkce_verifier_is_refused(
        oidc_provider: RunningProvider) -> None:
    async def test() -> None:
        rp = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET)
        callback, pending = await flow(rp)
        values = SignedValues(SECRET, purpose="oidc-pending", max_age_s=600)
        state = values.loads(pending)
        assert state is not None
        forged = values.dumps({**state, "v": "A" * 64})
        expect(await rp.complete(callback, forged), SignInErrorCode.CODE_REJECTED)
        await rp.aclose()
    run(test)


def test_wrong_nonce_is_refused(oidc_provider: RunningProvider) -> None:
    async def test() -> None:
        rp = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET)
        callback, pending = await flow(rp)
        values = SignedValues(SECRET, purpose="oidc-pending", max_age_s=600)
        state = values.loads(pending)
        assert state is not None
        forged = values.dumps({**state, "n": "another-nonce"})
        error = expect(await rp.complete(callback, forged), SignInErrorCode.ID_TOKEN_INVALID)
        assert "nonce" in error.message
        await rp.aclose()
    run(test)


def _flip_signature(tokens: dict[str, Any]) -> dict[str, Any]:
    header, payload, signature = tokens["id_token"].split(".")
    flipped = ("B" if signature[10] == "A" else "A").join([signature[:10], signature[11:]])
    return {**tokens, "id_token": f"{header}.{payload}.{flipped}"}


def _change_email(tokens: dict[str, Any]) -> dict[str, Any]:
    header, payload, signature = tokens["id_token"].split(".")
    import base64  # noqa: PLC0415 - only this rewrite needs it

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["email"] = "bob@corp.example"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return {**tokens, "id_token": f"{header}.{forged}.{signature}"}


def _unsigned(tokens: dict[str, Any]) -> dict[str, Any]:
    _, payload, _ = tokens["id_token"].split(".")
    none = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    return {**tokens, "id_token": f"{none}.{payload}."}


@pytest.mark.parametrize("hook", [_flip_signature, _change_email, _unsigned,
                                  lambda t: {**t, "id_token": "not-a-jwt"}],
                         ids=["signature", "payload", "alg-none", "garbage"])
def test_tampered_id_token_is_refused(oidc_provider: RunningProvider, hook: TokenHook) -> None:
    async def test() -> None:
        rp = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET,
                              transport=Spy(token_hook=hook))
        expect(await rp.complete(*await flow(rp)), SignInErrorCode.ID_TOKEN_INVALID)
        await rp.aclose()
    run(test)


def test_id_token_for_another_client_is_refused(oidc_provider: RunningProvider) -> None:
    async def test() -> None:
        # A genuine ID token from the same provider, issued to another application.
        other = OidcRelyingParty(config(oidc_provider.issuer, client_id=OTHER_CLIENT_ID,
                                        client_secret=OTHER_CLIENT_SECRET), secret=SECRET)
        stolen: dict[str, Any] = {}

        def keep(tokens: dict[str, Any]) -> dict[str, Any]:
            stolen.update(tokens)
            return tokens

        other = OidcRelyingParty(other.config, secret=SECRET, transport=Spy(token_hook=keep))
        assert isinstance(await other.complete(*await flow(other)), Identity)

        rp = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET,
                              transport=Spy(token_hook=lambda t: {**t, **stolen}))
        error = expect(await rp.complete(*await flow(rp)), SignInErrorCode.ID_TOKEN_INVALID)
        assert "aud" in error.message
        await rp.aclose()
        await other.aclose()
    run(test)


def test_expired_id_token_is_refused(oidc_provider: RunningProvider) -> None:
    async def test() -> None:
        now = [time.time()]
        rp = OidcRelyingParty(config(oidc_provider.issuer, pending_lifetime_s=86400),
                              secret=SECRET, clock=lambda: now[0])
        callback, pending = await flow(rp)
        now[0] += 3600  # the provider's ID tokens live 600 s; leeway is 60 s
        error = expect(await rp.complete(callback, pending), SignInErrorCode.ID_TOKEN_INVALID)
        assert "exp" in error.message
        await rp.aclose()
    run(test)


@pytest.mark.parametrize(("policy", "allowed"), [
    (EmailVerifiedPolicy.REQUIRE, False),
    (EmailVerifiedPolicy.REJECT_FALSE, False),
    (EmailVerifiedPolicy.IGNORE, True),
])
def test_unverified_email(oidc_provider: RunningProvider, policy: EmailVerifiedPolicy,
                          allowed: bool) -> None:
    async def test() -> None:
        rp = OidcRelyingParty(config(oidc_provider.issuer, email_verified=policy),
                              secret=SECRET)
        result = await rp.complete(*await flow(rp, "mallory"))
        if allowed:
            assert isinstance(result, Identity)
            assert result.email == "mallory@corp.example"
        else:
            expect(result, SignInErrorCode.EMAIL_UNVERIFIED)
        await rp.aclose()
    run(test)


def test_sign_in_without_an_email_is_refused(oidc_provider: RunningProvider) -> None:
    async def test() -> None:
        rp = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET)
        expect(await rp.complete(*await flow(rp, "noemail")), SignInErrorCode.EMAIL_MISSING)
        await rp.aclose()
    run(test)


def test_idp_error_on_the_callback(oidc_provider: RunningProvider) -> None:
    async def test() -> None:
        rp = OidcRelyingParty(config(oidc_provider.issuer), secret=SECRET)
        callback, pending = await flow(rp)
        denied = {"error": "access_denied", "error_description": "the user said no",
                  "state": callback["state"], "iss": callback["iss"]}
        error = expect(await rp.complete(denied, pending), SignInErrorCode.PROVIDER_ERROR)
        assert "the user said no" in error.message
        mixed_up = {**callback, "iss": "https://evil.example"}
        expect(await rp.complete(mixed_up, pending), SignInErrorCode.STATE_INVALID)
        await rp.aclose()
    run(test)


# --- the provider unavailable ---------------------------------------------------------------


def test_provider_down_before_sign_in() -> None:
    async def test() -> None:
        with start_provider() as provider:
            issuer = provider.issuer
        rp = OidcRelyingParty(config(issuer, timeout_s=2.0), secret=SECRET)
        error = expect(await rp.begin(CALLBACK), SignInErrorCode.PROVIDER_UNAVAILABLE)
        assert error.status == 503
        await rp.aclose()
    run(test)


def test_provider_down_during_sign_in() -> None:
    async def test() -> None:
        with start_provider() as provider:
            rp = OidcRelyingParty(config(provider.issuer, timeout_s=2.0), secret=SECRET)
            callback, pending = await flow(rp)
        expect(await rp.complete(callback, pending), SignInErrorCode.PROVIDER_UNAVAILABLE)
        await rp.aclose()
    run(test)


def test_issuer_must_match_the_discovery_document(oidc_provider: RunningProvider) -> None:
    async def test() -> None:
        rp = OidcRelyingParty(config(oidc_provider.issuer + "/"), secret=SECRET)
        error = expect(await rp.begin(CALLBACK), SignInErrorCode.PROVIDER_UNAVAILABLE)
        assert "calls itself" in error.message
        await rp.aclose()
    run(test)
