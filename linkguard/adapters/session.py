"""Signed, timestamped cookie values: the sign-in session and short-lived flow state.

A value is ``itsdangerous``'s URL-safe timed serialisation: compact JSON, a timestamp and an
HMAC-SHA256 signature under a key derived from the configured secret and a per-purpose salt.
The salt keeps values of one purpose from being accepted as another (a pending sign-in is
never a session).

Values are signed, not encrypted: the browser holding them can read them (its own e-mail
address and groups; for a pending sign-in its own PKCE verifier) but cannot change them.
Anything tampered with, expired, dated in the future or malformed reads as None.

Cookie attributes are the web layer's to set; :func:`cookie_params` says which: HttpOnly,
SameSite=Lax (the IdP's redirect back to us is a top-level GET, which Lax lets through),
Secure and the ``__Host-`` name prefix (RFC 6265bis §4.1.3.2: Secure, Path=/, no Domain) when
the gateway's base URL is https.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from linkguard.core.identity import Identity

__all__ = [
    "PENDING_COOKIE",
    "SESSION_COOKIE",
    "CookieParams",
    "SessionCodec",
    "SignedValues",
    "cookie_params",
]

SESSION_COOKIE: Final = "linkguard_session"
PENDING_COOKIE: Final = "linkguard_signin"  # the OIDC flow state between begin and callback


class _ClockSigner(TimestampSigner):
    """A timestamp signer that reads the injected clock, so expiry is testable."""

    def __init__(self, *args: Any, clock: Callable[[], float] = time.time,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock())


class SignedValues:
    """JSON-able values signed for one purpose, readable for ``max_age_s`` seconds."""

    def __init__(self, secret: str, *, purpose: str, max_age_s: int,
                 clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("a signing secret is required")
        self.max_age_s = max_age_s
        self._serializer = URLSafeTimedSerializer(
            secret, salt=f"linkguard.{purpose}", signer=_ClockSigner,
            signer_kwargs={"clock": clock, "digest_method": hashlib.sha256})

    def dumps(self, value: dict[str, Any]) -> str:
        return str(self._serializer.dumps(value))

    def loads(self, text: str | None) -> dict[str, Any] | None:
        if not text:
            return None
        try:
            value = self._serializer.loads(text, max_age=self.max_age_s)
        except BadData:  # bad signature, expired, future-dated, bad base64 or JSON
            return None
        return value if isinstance(value, dict) else None

    def expired(self, text: str | None) -> bool:
        """True when ``text`` was signed by us but is older than ``max_age_s``."""
        if not text:
            return False
        try:
            self._serializer.loads(text, max_age=self.max_age_s)
        except SignatureExpired:
            return True
        except BadData:
            return False
        return False


class SessionCodec:
    """The sign-in session: an :class:`Identity` in a signed cookie with a short lifetime."""

    def __init__(self, secret: str, *, lifetime_s: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.lifetime_s = lifetime_s
        self._values = SignedValues(secret, purpose="session", max_age_s=lifetime_s,
                                    clock=clock)

    def dumps(self, identity: Identity) -> str:
        return self._values.dumps({"sub": identity.subject, "email": identity.email,
                                   "groups": list(identity.groups), "via": identity.method})

    def loads(self, text: str | None) -> Identity | None:
        value = self._values.loads(text)
        if value is None:
            return None
        subject, email = value.get("sub"), value.get("email")
        groups, method = value.get("groups", []), value.get("via", "oidc")
        if not (isinstance(subject, str) and isinstance(email, str) and isinstance(method, str)
                and isinstance(groups, list) and all(isinstance(g, str) for g in groups)):
            return None
        return Identity(subject, email, tuple(groups), method)


@dataclass(frozen=True, slots=True)
class CookieParams:
    """Keyword arguments for Starlette's ``Response.set_cookie`` (``as_kwargs``)."""

    key: str
    max_age: int
    secure: bool
    path: str = "/"
    httponly: bool = True
    samesite: str = "lax"

    def as_kwargs(self) -> dict[str, Any]:
        return {"key": self.key, "max_age": self.max_age, "path": self.path,
                "secure": self.secure, "httponly": self.httponly, "samesite": self.samesite}


def cookie_params(base_url: str, *, name: str = SESSION_COOKIE, max_age_s: int) -> CookieParams:
    """How to set cookie ``name`` for a gateway served at ``base_url``.

    Over https the cookie is Secure and named ``__Host-<name>``, which browsers accept only
    with Secure, Path=/ and no Domain: no sibling subdomain can plant or overwrite it. Over
    plain http (local development) neither is possible, and the name stays bare.
    """
    secure = base_url.strip().lower().startswith("https://")
    return CookieParams(key=f"__Host-{name}" if secure else name, max_age=max_age_s,
                        secure=secure)
