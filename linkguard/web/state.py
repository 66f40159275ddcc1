"""What the web layer is given by the composition root: built once, shared by every request."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from linkguard.audit import AuditLog
from linkguard.core.clients import IpMode, ScannerAgents
from linkguard.core.identity import Identity, IdentityPolicy
from linkguard.ports import (
    AccessRequest,
    AccessRequestStore,
    ApiKeyStore,
    Health,
    ListStore,
    NonceStore,
    RateLimiter,
)
from linkguard.service import ApiKeyRing, ClickRecorder, Gateway


@dataclass(frozen=True, slots=True)
class Branding:
    org_name: str = "our organisation"
    logo_url: str | None = None
    color: str = "#1f4e8c"  # validated #rgb/#rrggbb: written into a style sheet
    support_contact: str = "your IT security team"
    support_url: str | None = None


# --- identity-bound confirmation: what the web layer needs of the sign-in adapters -----------
# Structural types, so the web layer names no adapter: the OIDC relying party, the session
# codec and the mailed codes of linkguard.adapters satisfy them as they are.


@runtime_checkable
class Failure(Protocol):
    """Why a sign-in or a mailed code failed: a stable code, a message, an HTTP status."""

    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def status(self) -> int: ...


class SignInStart(Protocol):
    @property
    def url(self) -> str: ...  # the IdP's authorization URL
    @property
    def pending(self) -> str: ...  # flow state for the pending cookie


class SignInFlow(Protocol):
    """OIDC sign-in (``linkguard.adapters.oidc.OidcRelyingParty``)."""

    async def begin(self, redirect_uri: str, return_to: str = "/", *,
                    prompt: str | None = None) -> SignInStart | Failure: ...
    async def complete(self, callback_query: Mapping[str, str],
                       pending: str | None) -> Identity | Failure: ...
    def return_to(self, pending: str | None) -> str: ...


class CodeChallenge(Protocol):
    @property
    def value(self) -> str: ...  # kept in the pending cookie until the code is typed


class CodeFlow(Protocol):
    """Codes mailed to the recipient (``linkguard.adapters.mailcode.MailCodes``). Blocking:
    call from a worker thread."""

    def send(self, recipient: str | None, *, client_ip: str) -> CodeChallenge | Failure: ...
    def verify(self, challenge: str | None, code: str, *,
               client_ip: str) -> Identity | Failure: ...


class SessionCodec(Protocol):
    def dumps(self, identity: Identity) -> str: ...
    def loads(self, text: str | None) -> Identity | None: ...


class CookieSpec(Protocol):
    @property
    def key(self) -> str: ...
    def as_kwargs(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class IdentityParts:
    """Sign-in and confirmation. ``oidc`` when an IdP is configured, else ``codes``."""

    policy: IdentityPolicy
    sessions: SessionCodec
    session_cookie: CookieSpec
    pending_cookie: CookieSpec
    oidc: SignInFlow | None = None
    codes: CodeFlow | None = None
    codes_local_only: bool = False  # the file mailer: codes are written, not sent
    nonce_ttl_s: float = 600.0  # how long a confirmation form stays usable
    clock: Callable[[], float] = time.time


class SignedValues(Protocol):
    """JSON-able values signed for one purpose with a lifetime
    (``linkguard.adapters.session.SignedValues``)."""

    def dumps(self, value: dict[str, Any]) -> str: ...
    def loads(self, text: str | None) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class AdminParts:
    """The admin page's sign-in: an admin API key typed into a form, or OIDC (the relying
    party of ``AppState.identity``) for members of ``group``."""

    sessions: SignedValues  # the admin session cookie's value
    cookie: CookieSpec  # HttpOnly, SameSite=Strict
    group: str = ""  # OIDC group (or claim value) that makes an admin; "": no OIDC sign-in
    lifetime_s: int = 3600


@dataclass(slots=True)
class AppState:
    gateway: Gateway
    recorder: ClickRecorder
    limiter: RateLimiter
    nonces: NonceStore
    api_keys: ApiKeyRing
    base_url: str = "http://127.0.0.1:8080"
    branding: Branding = field(default_factory=Branding)
    csrf_secret: bytes = b""
    ip_secret: bytes = b""
    ip_mode: IpMode = "truncate"
    scanner_agents: ScannerAgents = field(default_factory=ScannerAgents)
    click_rate: tuple[int, float] = (120, 60.0)
    # Networks that may read /metrics and /readyz; None: everyone.
    ops_allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None = None
    api_rate: tuple[int, float] = (600, 60.0)
    # Readiness probes beyond the built-in ones (stores, caches): each returns one Health or
    # several.
    probes: list[Callable[[], Health | Sequence[Health]]] = field(default_factory=list)
    # Started and stopped with the app (feed refresh, list watcher …); may be coroutines.
    on_start: list[Callable[[], object]] = field(default_factory=list)
    on_stop: list[Callable[[], object]] = field(default_factory=list)
    # Identity-bound confirmation; None: not set up, confirm links cannot be opened.
    identity: IdentityParts | None = None
    audit: AuditLog | None = None
    # --- admin (API and page)
    # The admin API's stores; None: /v1/admin answers 503 for what needs them. Bearer keys
    # are checked against ``api_keys`` (settings) first, then against ``api_key_store``.
    list_store: ListStore | None = None
    api_key_store: ApiKeyStore | None = None
    # Reload this replica's in-memory lists now (blocking): after a change made here, this
    # replica answers with it at once; the others follow at their next poll.
    reload_lists: Callable[[], object] | None = None
    # The admin page's sign-in; None: /admin explains that it is not set up.
    admin: AdminParts | None = None
    # --- access requests (out-of-band approval of blocks the policy lets admins override)
    # None: blocked links offer no request (also when ``identity`` is None: who asks must be
    # known).
    access: AccessRequestStore | None = None
    approval_hours: int = 72  # an approval's lifetime unless the admin gives another
    # Tells the admins of a new request (blocking: called from a worker thread; never raises).
    notify_access: Callable[[AccessRequest], None] | None = None

    @property
    def https(self) -> bool:
        return self.base_url.lower().startswith("https://")
