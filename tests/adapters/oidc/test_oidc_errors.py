"""Every failure underneath the relying party becomes a SignInError (httpx.MockTransport).

Unit tests: no network. The real protocol runs against a real provider in
test_oidc_provider_flow.py; these pin the translation of transport and IdP failures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from linkguard.adapters.oidc import (
    Authorization,
    OidcConfig,
    OidcRelyingParty,
    SignInError,
    SignInErrorCode,
)

ISSUER = "https://idp.corp.example"
SECRET = "test-signing-secret-0123456789abcdef0123"  # noqa: S105 - test only
DISCOVERY = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/authorize",
    "token_endpoint": f"{ISSUER}/token",
    "jwks_uri": f"{ISSUER}/jwks",
    "userinfo_endpoint": f"{ISSUER}/userinfo",
    "response_types_supported": ["code"],
    "subject_types_supported": ["public"],
    "id_token_signing_alg_values_supported": ["RS256"],
}

Handler = Callable[[httpx.Request], httpx.Response]


def rp_with(handler: Handler) -> OidcRelyingParty:
    return OidcRelyingParty(OidcConfig(ISSUER, "gw", "s"), secret=SECRET,
                            transport=httpx.MockTransport(handler))


def begin(handler: Handler) -> Authorization | SignInError:
    async def run() -> Authorization | SignInError:
        rp = rp_with(handler)
        try:
            return await rp.begin("https://links.corp.example/auth/callback")
        finally:
            await rp.aclose()
    return asyncio.run(run())


def raising(exc: Exception) -> Handler:
    def handler(_: httpx.Request) -> httpx.Response:
        raise exc
    return handler


def answering(status: int, body: bytes = b"", **document: object) -> Handler:
    def handler(_: httpx.Request) -> httpx.Response:
        if document:
            return httpx.Response(status, json={**DISCOVERY, **document})
        return httpx.Response(status, content=body)
    return handler


@pytest.mark.parametrize(("handler", "code"), [
    (raising(httpx.ConnectError("refused")), SignInErrorCode.PROVIDER_UNAVAILABLE),
    (raising(httpx.ConnectTimeout("slow")), SignInErrorCode.PROVIDER_UNAVAILABLE),
    (raising(httpx.ReadTimeout("slow")), SignInErrorCode.PROVIDER_UNAVAILABLE),
    (raising(httpx.RemoteProtocolError("junk")), SignInErrorCode.PROVIDER_UNAVAILABLE),
    (answering(503), SignInErrorCode.PROVIDER_UNAVAILABLE),
    (answering(404), SignInErrorCode.PROVIDER_UNAVAILABLE),
    (answering(302), SignInErrorCode.PROVIDER_UNAVAILABLE),  # redirects are not followed
    (answering(200, b"<html>"), SignInErrorCode.PROVIDER_ERROR),
    (answering(200, b"[1, 2]"), SignInErrorCode.PROVIDER_ERROR),
    (answering(200, issuer="https://other.example"), SignInErrorCode.PROVIDER_UNAVAILABLE),
    (answering(200, token_endpoint="http://idp.corp.example/token"),  # noqa: S106 - a URL
     SignInErrorCode.PROVIDER_UNAVAILABLE),
    (answering(200, id_token_signing_alg_values_supported=["HS256", "none"]),
     SignInErrorCode.PROVIDER_UNAVAILABLE),
    (answering(200, response_types_supported=None), SignInErrorCode.PROVIDER_UNAVAILABLE),
])
def test_discovery_failures_are_sign_in_errors(handler: Handler, code: SignInErrorCode) -> None:
    result = begin(handler)
    assert isinstance(result, SignInError), result
    assert result.code is code, result


def test_good_discovery_gives_an_authorization_url() -> None:
    result = begin(answering(200, issuer=ISSUER))
    assert isinstance(result, Authorization)
    assert result.url.startswith(f"{ISSUER}/authorize?response_type=code&client_id=gw&")


def test_token_endpoint_failures_are_sign_in_errors() -> None:
    async def run(token: Handler) -> SignInErrorCode:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/token":
                return token(request)
            return httpx.Response(200, json=DISCOVERY)
        rp = rp_with(handler)
        started = await rp.begin("https://links.corp.example/auth/callback")
        assert isinstance(started, Authorization)
        state = dict(httpx.URL(started.url).params)["state"]
        result = await rp.complete({"code": "c", "state": state}, started.pending)
        await rp.aclose()
        assert isinstance(result, SignInError)
        return result.code

    cases: list[tuple[Handler, SignInErrorCode]] = [
        (raising(httpx.ReadTimeout("slow")), SignInErrorCode.PROVIDER_UNAVAILABLE),
        (answering(500), SignInErrorCode.PROVIDER_UNAVAILABLE),
        (lambda _: httpx.Response(400, json={"error": "invalid_grant"}),
         SignInErrorCode.CODE_REJECTED),
        (lambda _: httpx.Response(401, json={"error": "invalid_client"}),
         SignInErrorCode.PROVIDER_ERROR),
        (answering(200, b"not json"), SignInErrorCode.PROVIDER_ERROR),
        (lambda _: httpx.Response(200, json={"access_token": "a"}),
         SignInErrorCode.PROVIDER_ERROR),  # no ID token
    ]
    for token, code in cases:
        assert asyncio.run(run(token)) is code


def test_client_secret_is_sent_form_encoded_in_basic_auth() -> None:
    seen: list[httpx.Request] = []

    async def run() -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/token":
                seen.append(request)
                return httpx.Response(400, json={"error": "invalid_grant"})
            return httpx.Response(200, json=DISCOVERY)
        rp = OidcRelyingParty(OidcConfig(ISSUER, "gw:1", "s e/cret"), secret=SECRET,
                              transport=httpx.MockTransport(handler))
        started = await rp.begin("https://links.corp.example/auth/callback")
        assert isinstance(started, Authorization)
        state = dict(httpx.URL(started.url).params)["state"]
        await rp.complete({"code": "c", "state": state}, started.pending)
        await rp.aclose()

    asyncio.run(run())
    import base64  # noqa: PLC0415 - only this assertion needs it

    header = seen[0].headers["authorization"]
    assert base64.b64decode(header.removeprefix("Basic ")) == b"gw%3A1:s+e%2Fcret"
    assert b"code_verifier=" in seen[0].content


@pytest.mark.parametrize("return_to", ["//evil.example/", "/\\evil.example", "https://x.example",
                                       "relative", "/ok\r\nSet-Cookie: x"])
def test_return_to_must_be_a_local_path(return_to: str) -> None:
    rp = OidcRelyingParty(OidcConfig(ISSUER, "gw", "s"), secret=SECRET)
    with pytest.raises(ValueError, match="local path"):
        asyncio.run(rp.begin("https://links.corp.example/auth/callback", return_to))


@pytest.mark.parametrize("issuer", ["http://idp.corp.example", "ftp://idp", "idp.corp.example"])
def test_issuer_must_be_https(issuer: str) -> None:
    with pytest.raises(ValueError, match="https"):
        OidcRelyingParty(OidcConfig(issuer, "gw", "s"), secret=SECRET)


def test_scopes_must_include_openid() -> None:
    with pytest.raises(ValueError, match="openid"):
        OidcRelyingParty(OidcConfig(ISSUER, "gw", "s", scopes=("email",)), secret=SECRET)
