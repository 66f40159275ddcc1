"""OpenID Connect relying party: who is clicking, according to the organisation's IdP.

The flow is the Authorization Code flow of OpenID Connect Core 1.0 §3.1 with PKCE (RFC 7636,
S256 only), ``state`` against CSRF on the callback and ``nonce`` binding the ID token to this
browser's sign-in (RFC 9700, the OAuth 2.0 Security BCP, §2.1 and §4.5):

``begin(redirect_uri, return_to)``
    makes a fresh state, nonce and PKCE verifier, and returns the IdP's authorization URL and a
    *pending* value. The web layer puts the pending value in a short-lived cookie
    (``session.PENDING_COOKIE``) and redirects the browser to the URL.
``complete(callback_query, pending)``
    checks the callback's ``state`` (and ``iss``, RFC 9207) against the pending value, redeems
    the code at the token endpoint with the verifier, validates the ID token (signature with the
    IdP's JWKS, ``iss``, ``aud``, ``azp``, ``exp``, ``iat``, ``nonce``, ``at_hash``) and returns
    an :class:`~linkguard.core.identity.Identity`, fetching the e-mail from the userinfo endpoint
    when the ID token does not carry it (OIDC Core §5.4 lets IdPs do that; the userinfo ``sub``
    must then equal the ID token's, §5.3.4).

Every failure is a :class:`SignInError` value with a stable code, never an exception: a sign-in
page is a normal place to fail. Underlying errors are translated here at the boundary::

    httpx.HTTPError (connect, timeout, protocol) ... PROVIDER_UNAVAILABLE
    IdP answered 5xx, or discovery/JWKS unusable .... PROVIDER_UNAVAILABLE
    token endpoint said invalid_grant ............... CODE_REJECTED (replayed, expired, PKCE)
    other IdP error responses, malformed JSON ....... PROVIDER_ERROR
    joserfc JoseError (signature, claims, key) ...... ID_TOKEN_INVALID

Why Authlib's building blocks and not its client classes: Authlib's Starlette integration keeps
its flow state in Starlette's ``request.session``, which would tie this module to the web
framework; and its httpx client now prefers the ``httpx2`` package and warns when given httpx,
which the rest of linkguard uses. So this module makes its few HTTP calls with one
``httpx.AsyncClient`` (timeouts on every call, no redirects followed) and uses Authlib for the
protocol pieces: the S256 challenge, the ID token claim rules (``CodeIDToken``) and provider
metadata validation, with ``joserfc`` (Authlib's JOSE implementation) for the signatures.
"""

from __future__ import annotations

import base64
import enum
import hmac
import ipaddress
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple
from urllib.parse import quote_plus, urlencode, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import ClaimError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from linkguard.adapters.session import SignedValues
from linkguard.core.identity import Identity

__all__ = [
    "Authorization",
    "EmailVerifiedPolicy",
    "OidcConfig",
    "OidcRelyingParty",
    "SignInError",
    "SignInErrorCode",
]

log = logging.getLogger(__name__)

# Asymmetric algorithms only: "none" would accept anything, and HS256 keyed with the client
# secret would let anyone who knows the secret mint ID tokens (OIDC Core §10.1 allows it; we
# need not). Intersected with what the IdP advertises.
_ALLOWED_ALGS: Final = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                        "ES256", "ES384", "ES512", "EdDSA", "Ed25519")
_LOOPBACK_NAMES: Final = frozenset({"localhost"})
_JWKS_REFRESH_MIN_S: Final = 60.0  # an unknown kid refetches the JWKS at most this often


class SignInErrorCode(enum.StrEnum):
    PROVIDER_UNAVAILABLE = "provider_unavailable"  # network, timeout, 5xx, bad metadata
    PROVIDER_ERROR = "provider_error"  # the IdP said no (access_denied …) or spoke nonsense
    STATE_INVALID = "state_invalid"  # missing, tampered or mismatched flow state: start again
    LOGIN_EXPIRED = "login_expired"  # the flow took longer than its lifetime
    CODE_REJECTED = "code_rejected"  # the code was used before, expired, or PKCE failed
    ID_TOKEN_INVALID = "id_token_invalid"  # noqa: S105 - a reason code, not a password
    EMAIL_MISSING = "email_missing"
    EMAIL_UNVERIFIED = "email_unverified"


# What the web layer should answer with for each code: the IdP's trouble is 503, ours 400/403.
_STATUS: Final = {
    SignInErrorCode.PROVIDER_UNAVAILABLE: 503,
    SignInErrorCode.PROVIDER_ERROR: 502,
    SignInErrorCode.STATE_INVALID: 400,
    SignInErrorCode.LOGIN_EXPIRED: 400,
    SignInErrorCode.CODE_REJECTED: 400,
    SignInErrorCode.ID_TOKEN_INVALID: 403,
    SignInErrorCode.EMAIL_MISSING: 403,
    SignInErrorCode.EMAIL_UNVERIFIED: 403,
}


@dataclass(frozen=True, slots=True)
class SignInError:
    """Why a sign-in failed: a stable ``code``, a message for the page and logs."""

    code: SignInErrorCode
    message: str

    @property
    def status(self) -> int:
        return _STATUS[self.code]


class EmailVerifiedPolicy(enum.StrEnum):
    """How much the ``email_verified`` claim must say before an address is trusted."""

    REQUIRE = "require"  # the claim must be true (fail closed; the default)
    REJECT_FALSE = "reject_false"  # only an explicit false is refused (IdPs that omit it)
    IGNORE = "ignore"  # the IdP is the authority for every address it issues


@dataclass(frozen=True, slots=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = ("openid", "email")
    email_claim: str = "email"
    groups_claim: str = "groups"
    email_verified: EmailVerifiedPolicy = EmailVerifiedPolicy.REQUIRE
    timeout_s: float = 5.0  # per HTTP call to the IdP
    leeway_s: int = 60  # clock skew allowed on exp / iat / nbf
    pending_lifetime_s: int = 600  # how long a started sign-in may take
    metadata_lifetime_s: float = 3600.0  # discovery document cache


class Authorization(NamedTuple):
    url: str  # redirect the browser here
    pending: str  # keep in the pending cookie until the callback


@dataclass(frozen=True, slots=True)
class _Provider:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: tuple[str, ...]
    secret_post: bool  # client_secret_post instead of client_secret_basic
    fetched_at: float


class _Failure(Exception):  # noqa: N818 - internal carrier of a SignInError, never escapes
    def __init__(self, error: SignInError) -> None:
        super().__init__(error.message)
        self.error = error


def _fail(code: SignInErrorCode, message: str) -> _Failure:
    return _Failure(SignInError(code, message))


def _secure_url(url: str) -> bool:
    """https, or http to a loopback host (tests, and an IdP on the same machine)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _safe_return_to(return_to: str) -> bool:
    # A local path only: "//evil.example" and "/\\evil.example" are other hosts to a browser
    # (WHATWG URL: backslash is a slash in special schemes), so they would be open redirects.
    return (return_to.startswith("/") and not return_to.startswith(("//", "/\\"))
            and not any(c in return_to for c in "\r\n\t\\"))


class OidcRelyingParty:
    """Sign-in against one OpenID Provider. Create once per process; ``aclose`` at shutdown."""

    def __init__(self, config: OidcConfig, *, secret: str,
                 transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if not _secure_url(config.issuer):
            raise ValueError(f"the OIDC issuer must be an https URL: {config.issuer!r}")
        if "openid" not in config.scopes:
            raise ValueError("the OIDC scopes must include 'openid'")
        self.config = config
        self._clock = clock
        self._pending = SignedValues(secret, purpose="oidc-pending",
                                     max_age_s=config.pending_lifetime_s, clock=clock)
        self._http = httpx.AsyncClient(
            transport=transport, timeout=httpx.Timeout(config.timeout_s),
            follow_redirects=False, headers={"Accept": "application/json"})
        self._provider: _Provider | None = None
        self._keys: KeySet | None = None
        self._keys_fetched_at = float("-inf")

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- the two steps ------------------------------------------------------------------

    async def begin(self, redirect_uri: str, return_to: str = "/", *,
                    prompt: str | None = None) -> Authorization | SignInError:
        """The IdP URL to send the browser to, and the pending value for the cookie.

        ``redirect_uri`` is the gateway's callback URL, registered at the IdP; ``return_to`` a
        local path to go back to after the callback (a ValueError for anything else).
        ``prompt="login"`` asks the IdP to authenticate again even when it has a session
        (OpenID Connect Core 1.0 §3.1.2.1): "sign in as someone else".
        """
        if not _safe_return_to(return_to):
            raise ValueError(f"return_to must be a local path: {return_to!r}")
        try:
            provider = await self._load_provider()
        except _Failure as failure:
            log.warning("OIDC sign-in cannot start: %s: %s", failure.error.code,
                        failure.error.message)
            return failure.error
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)  # 64 characters; RFC 7636 §4.1 wants 43-128
        params = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "nonce": nonce,
            # Authlib's helper is untyped; it is base64url(SHA-256(verifier)), RFC 7636 §4.2.
            "code_challenge": create_s256_code_challenge(verifier),  # type: ignore[no-untyped-call]
            "code_challenge_method": "S256",
        }
        if prompt:
            params["prompt"] = prompt
        separator = "&" if "?" in provider.authorization_endpoint else "?"
        url = f"{provider.authorization_endpoint}{separator}{urlencode(params)}"
        pending = self._pending.dumps({"s": state, "n": nonce, "v": verifier,
                                       "r": redirect_uri, "t": return_to})
        return Authorization(url, pending)

    def return_to(self, pending: str | None) -> str:
        """Where the browser goes after a completed sign-in (from the pending value)."""
        value = self._pending.loads(pending)
        target = value.get("t") if value else None
        return target if isinstance(target, str) and _safe_return_to(target) else "/"

    async def complete(self, callback_query: Mapping[str, str],
                       pending: str | None) -> Identity | SignInError:
        """Finish the sign-in from the callback's query parameters and the pending cookie."""
        try:
            return await self._complete(callback_query, pending)
        except _Failure as failure:
            log.info("OIDC sign-in failed: %s: %s", failure.error.code, failure.error.message)
            return failure.error

    # --- the steps in detail ------------------------------------------------------------

    async def _complete(self, query: Mapping[str, str], pending: str | None) -> Identity:
        flow = self._read_pending(pending)
        state = query.get("state", "")
        if not hmac.compare_digest(state.encode(), flow["s"].encode()):
            raise _fail(SignInErrorCode.STATE_INVALID,
                        "the sign-in answer does not belong to this browser's sign-in")
        # RFC 9207: an IdP that names itself on the callback must be ours (mix-up attacks).
        if "iss" in query and query["iss"] != self.config.issuer:
            raise _fail(SignInErrorCode.STATE_INVALID, "the sign-in answer came from another IdP")
        if "error" in query:
            # Shown on a page (escaped by the templates); cut, since anyone can write it.
            detail = (query.get("error_description") or query["error"])[:200]
            raise _fail(SignInErrorCode.PROVIDER_ERROR, f"the IdP refused the sign-in: {detail}")
        code = query.get("code")
        if not code:
            raise _fail(SignInErrorCode.PROVIDER_ERROR, "the IdP's answer has no code")
        provider = await self._load_provider()
        tokens = await self._redeem(provider, code, flow["r"], flow["v"])
        claims = await self._validate_id_token(provider, tokens, flow["n"])
        if self.config.email_claim not in claims:
            claims = await self._with_userinfo(provider, tokens, claims)
        return self._identity(claims)

    def _read_pending(self, pending: str | None) -> dict[str, str]:
        value = self._pending.loads(pending)
        if value is None:
            # Tell an expired flow from a forged one: the expired one deserves "start again".
            if self._pending.expired(pending):
                raise _fail(SignInErrorCode.LOGIN_EXPIRED,
                            "the sign-in took too long; please start again")
            raise _fail(SignInErrorCode.STATE_INVALID,
                        "no sign-in was started in this browser (or its cookie was changed)")
        if not all(isinstance(value.get(k), str) for k in "snvr"):
            raise _fail(SignInErrorCode.STATE_INVALID, "the sign-in state is incomplete")
        return {k: str(v) for k, v in value.items()}

    async def _get_json(self, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.get(url, **kwargs)
        except httpx.HTTPError as exc:
            raise _fail(SignInErrorCode.PROVIDER_UNAVAILABLE,
                        f"cannot reach the IdP for its {what}: {type(exc).__name__}") from None
        if response.status_code != 200:
            code = (SignInErrorCode.PROVIDER_UNAVAILABLE if response.status_code >= 500
                    or what != "userinfo" else SignInErrorCode.PROVIDER_ERROR)
            raise _fail(code, f"the IdP's {what} answered HTTP {response.status_code}")
        return self._json(response, what)

    @staticmethod
    def _json(response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            value = response.json()
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise _fail(SignInErrorCode.PROVIDER_ERROR, f"the IdP's {what} is not a JSON object")
        return value

    async def _load_provider(self) -> _Provider:
        now = self._clock()
        cached = self._provider
        if cached is not None and now - cached.fetched_at < self.config.metadata_lifetime_s:
            return cached
        issuer = self.config.issuer
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"  # Discovery §4
        document = await self._get_json(url, "discovery document")
        metadata = OpenIDProviderMetadata(document)
        try:
            metadata.validate()
        except (ValueError, TypeError) as exc:  # Authlib's messages name the bad field
            raise _fail(SignInErrorCode.PROVIDER_UNAVAILABLE,
                        f"the IdP's discovery document is unusable: {exc}") from None
        # Discovery §4.3: the issuer in the document must be exactly the one configured.
        if document.get("issuer") != issuer:
            raise _fail(SignInErrorCode.PROVIDER_UNAVAILABLE,
                        f"the IdP calls itself {document.get('issuer')!r}, not {issuer!r}")
        endpoints = [document.get(k) for k in
                     ("authorization_endpoint", "token_endpoint", "jwks_uri")]
        userinfo = document.get("userinfo_endpoint")
        if not all(isinstance(e, str) and _secure_url(e) for e in endpoints) or (
                userinfo is not None and not (isinstance(userinfo, str) and _secure_url(userinfo))):
            raise _fail(SignInErrorCode.PROVIDER_UNAVAILABLE,
                        "the IdP's endpoints must be https URLs")
        advertised = document.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = tuple(a for a in _ALLOWED_ALGS if a in advertised)
        if not algorithms:
            raise _fail(SignInErrorCode.PROVIDER_UNAVAILABLE,
                        f"the IdP signs ID tokens only with {advertised}, none of them accepted")
        methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        self._provider = _Provider(
            str(endpoints[0]), str(endpoints[1]), str(endpoints[2]),
            userinfo if isinstance(userinfo, str) else None, algorithms,
            "client_secret_basic" not in methods and "client_secret_post" in methods, now)
        return self._provider

    async def _load_keys(self, provider: _Provider, *, refresh: bool = False) -> KeySet:
        now = self._clock()
        if self._keys is not None and not (
                refresh and now - self._keys_fetched_at >= _JWKS_REFRESH_MIN_S):
            return self._keys
        document = await self._get_json(provider.jwks_uri, "key set")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise _fail(SignInErrorCode.PROVIDER_UNAVAILABLE,
                        f"the IdP's key set is unusable: {exc}") from None
        self._keys, self._keys_fetched_at = keys, now
        return keys

    async def _redeem(self, provider: _Provider, code: str, redirect_uri: str,
                      verifier: str) -> dict[str, Any]:
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, "code_verifier": verifier}
        headers: dict[str, str] = {}
        if provider.secret_post:
            form |= {"client_id": self.config.client_id,
                     "client_secret": self.config.client_secret}
        else:
            # RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
            pair = f"{quote_plus(self.config.client_id)}:{quote_plus(self.config.client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            response = await self._http.post(provider.token_endpoint, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise _fail(SignInErrorCode.PROVIDER_UNAVAILABLE,
                        f"cannot reach the IdP's token endpoint: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise _fail(SignInErrorCode.PROVIDER_UNAVAILABLE,
                        f"the IdP's token endpoint answered HTTP {response.status_code}")
        body = self._json(response, "token response")
        if response.status_code != 200:
            error = str(body.get("error", "")) or f"HTTP {response.status_code}"
            if error == "invalid_grant":  # RFC 6749 §5.2: used, expired, or PKCE mismatch
                raise _fail(SignInErrorCode.CODE_REJECTED,
                            "this sign-in answer was already used or has expired")
            raise _fail(SignInErrorCode.PROVIDER_ERROR,
                        f"the IdP's token endpoint refused the code: {error}")
        if not isinstance(body.get("id_token"), str):
            raise _fail(SignInErrorCode.PROVIDER_ERROR, "the IdP returned no ID token")
        return body

    async def _validate_id_token(self, provider: _Provider, tokens: Mapping[str, Any],
                                 nonce: str) -> dict[str, Any]:
        raw = str(tokens["id_token"])
        keys = await self._load_keys(provider)
        try:
            try:
                token = jwt.decode(raw, keys, algorithms=list(provider.algorithms))
            except InvalidKeyIdError:  # the IdP rotated its keys since we fetched them
                keys = await self._load_keys(provider, refresh=True)
                token = jwt.decode(raw, keys, algorithms=list(provider.algorithms))
            access_token = tokens.get("access_token")
            claims = CodeIDToken(
                token.claims, token.header,
                options={"iss": {"essential": True, "value": self.config.issuer},
                         "aud": {"essential": True, "value": self.config.client_id}},
                params={"nonce": nonce, "client_id": self.config.client_id,
                        "access_token": access_token if isinstance(access_token, str) else None})
            claims.validate(now=int(self._clock()), leeway=self.config.leeway_s)
        except ClaimError as exc:
            raise _fail(SignInErrorCode.ID_TOKEN_INVALID,
                        f"the ID token's {exc.claim!r} claim is wrong ({exc.error})") from None
        except JoseError as exc:
            raise _fail(SignInErrorCode.ID_TOKEN_INVALID,
                        f"the ID token does not verify ({exc.error})") from None
        except ValueError as exc:  # malformed compact serialisation, bad base64 or JSON
            raise _fail(SignInErrorCode.ID_TOKEN_INVALID,
                        f"the ID token is malformed ({exc})") from None
        return dict(claims)

    async def _with_userinfo(self, provider: _Provider, tokens: Mapping[str, Any],
                             claims: dict[str, Any]) -> dict[str, Any]:
        access_token = tokens.get("access_token")
        if provider.userinfo_endpoint is None or not isinstance(access_token, str):
            return claims
        info = await self._get_json(provider.userinfo_endpoint, "userinfo",
                                    headers={"Authorization": f"Bearer {access_token}"})
        if info.get("sub") != claims.get("sub"):  # OIDC Core §5.3.4: else it is not this user
            raise _fail(SignInErrorCode.ID_TOKEN_INVALID,
                        "the IdP's userinfo is about another subject than the ID token")
        return {**info, **claims}  # the validated ID token wins where both speak

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        email = claims.get(self.config.email_claim)
        if not isinstance(email, str) or "@" not in email:
            raise _fail(SignInErrorCode.EMAIL_MISSING,
                        f"the IdP gave no e-mail address (claim {self.config.email_claim!r})")
        verified = claims.get("email_verified")
        if isinstance(verified, str):  # some IdPs send "true"/"false" strings
            verified = {"true": True, "false": False}.get(verified.lower())
        policy = self.config.email_verified
        if (policy is EmailVerifiedPolicy.REQUIRE and verified is not True) or (
                policy is EmailVerifiedPolicy.REJECT_FALSE and verified is False):
            raise _fail(SignInErrorCode.EMAIL_UNVERIFIED,
                        f"the IdP has not verified the address {email}")
        groups = claims.get(self.config.groups_claim, [])
        if isinstance(groups, str):
            groups = [groups]
        return Identity(subject=str(claims["sub"]), email=email.strip(),
                        groups=tuple(g for g in groups if isinstance(g, str))
                        if isinstance(groups, list) else ())
