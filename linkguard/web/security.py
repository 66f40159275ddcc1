"""Response headers, CSRF tokens for the pages' forms, and who the client is.

Every page is served with a strict Content-Security-Policy (no inline script or style; our own
static files only), ``X-Frame-Options: DENY`` and ``frame-ancestors 'none'`` against
click-jacking of the Continue button, ``nosniff``, ``Referrer-Policy: no-referrer`` so the
destination never learns the sealed link, and HSTS when the gateway is served over https
(RFC 6797). OWASP Secure Headers Project recommendations.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linkguard.core.clients import ClientView

CSRF_COOKIE = "lg_csrf"
CSRF_FIELD = "csrf"
CSRF_MAX_AGE_S = 3600


def csp(*, logo_origin: str | None = None, form_targets: tuple[str, ...] = ()) -> str:
    """The page policy. ``form-action`` lists where a form may lead, redirects included
    (CSP Level 3 §6.4.2): the Continue form posts to us and is then redirected to the
    destination, so the page names that origin and nothing else."""
    images = "'self' data:" + (f" {logo_origin}" if logo_origin else "")
    forms = " ".join(("'self'", *form_targets))
    return ("default-src 'none'; script-src 'self'; style-src 'self'; "
            f"img-src {images}; form-action {forms}; base-uri 'none'; frame-ancestors 'none'")


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, for CSP source lists and Origin checks."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if any(c in netloc for c in " ;,'\"\\"):
        return None
    return f"{parts.scheme}://{netloc}"


class SecurityHeaders:
    """Adds the headers every answer carries (pure ASGI: no per-request task overhead)."""

    def __init__(self, app: ASGIApp, *, hsts: bool, default_csp: str) -> None:
        self.app = app
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
        ]
        if hsts:
            headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        self.headers = headers
        self.default_csp = default_csp.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in ("/docs", "/redoc", "/docs/oauth2-redirect")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                present = {name.lower() for name, _ in raw}
                raw.extend(h for h in self.headers if h[0] not in present)
                # The API explorer loads its script from a CDN; every other answer is strict.
                if b"content-security-policy" not in present and not docs:
                    raw.append((b"content-security-policy", self.default_csp))
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, send_with_headers)


def client_view(request: Request) -> ClientView:
    headers = request.headers
    return ClientView(method=request.method, user_agent=headers.get("user-agent", ""),
                      accept=headers.get("accept", ""),
                      accept_language=headers.get("accept-language", ""),
                      sec_fetch_mode=headers.get("sec-fetch-mode", ""))


def client_ip(request: Request) -> str:
    # uvicorn has already applied X-Forwarded-For from trusted proxies only.
    return request.client.host if request.client else ""


# --- CSRF: a random cookie, and a form field that is an HMAC over it and the link ----------


def new_csrf_cookie() -> str:
    return secrets.token_urlsafe(18)


def csrf_field(secret: bytes, cookie: str, token_id: str, *, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    return f"{issued}.{_csrf_mac(secret, cookie, token_id, issued)}"


def csrf_ok(secret: bytes, cookie: str | None, value: str | None, token_id: str,
            *, now: float | None = None) -> bool:
    """The field was made by us, for this browser's cookie and this link, within the hour."""
    if not cookie or not value or len(value) > 200:
        return False
    issued_text, _, mac = value.partition(".")
    if not issued_text.isdigit():
        return False
    issued = int(issued_text)
    current = now if now is not None else time.time()
    if not (current - CSRF_MAX_AGE_S <= issued <= current + 60):
        return False
    return hmac.compare_digest(mac, _csrf_mac(secret, cookie, token_id, issued))


def _csrf_mac(secret: bytes, cookie: str, token_id: str, issued: int) -> str:
    message = f"continue|{cookie}|{token_id}|{issued}".encode("utf-8", "surrogatepass")
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


def same_origin(request: Request, base_url: str) -> bool:
    """A form post came from our own page. Browsers send Origin on every POST (Fetch
    standard), and Sec-Fetch-Site where supported; a Referer is used when Origin is "null"."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site != "same-origin":
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        referer = request.headers.get("referer")
        origin = origin_of(referer) if referer else None
    if origin is None:
        return fetch_site == "same-origin"
    own = {origin_of(base_url), f"{request.url.scheme}://{request.headers.get('host', '')}"}
    return origin in own
