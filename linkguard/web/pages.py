"""The pages people see: Jinja2 with autoescaping, our own CSS and script, nothing external."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from linkguard.core.model import Decision, Reason
from linkguard.core.url import ParsedUrl
from linkguard.web.security import csp, origin_of
from linkguard.web.state import AppState

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(
    enabled_extensions=("html",), default=True), trim_blocks=True, lstrip_blocks=True)


def visible(text: object) -> str:
    """Make invisible and direction-changing characters visible as ``⟨U+202E⟩``.

    A right-to-left override (U+202E) or zero-width joiner in a display text or evidence would
    otherwise reorder or hide what the page shows (Trojan Source, CVE-2021-42574); controls,
    format characters and line/paragraph separators are shown by code point instead.
    """
    value = str(text)
    if value.isascii() and value.isprintable():
        return value
    out = []
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"):
            out.append(f"⟨U+{ord(char):04X}⟩")
        else:
            out.append(char)
    return "".join(out)


_env.filters["visible"] = visible


@dataclass(frozen=True, slots=True)
class Destination:
    """The destination split so the registrable domain can be highlighted."""

    href: str
    before: str  # scheme, user info and subdomains, up to the registrable domain
    domain: str  # the registrable domain (or the whole host when there is none)
    after: str  # port, path, query, fragment
    unicode_host: str | None  # shown beside an IDN host's ASCII form
    registrable_domain: str


def destination(url: ParsedUrl) -> Destination:
    href = url.href
    start = href.find("//") + 2 if "//" in href else len(url.scheme) + 1
    end = len(href)
    for mark in "/?#":
        found = href.find(mark, start)
        if found != -1:
            end = min(end, found)
    host_start = href.rfind("@", start, end) + 1 or start
    host_text = href[host_start:end]
    if url.port is not None and host_text.endswith(f":{url.port}"):
        host_text = host_text[: -len(str(url.port)) - 1]
    host_end = host_start + len(host_text)
    domain = url.registrable_domain or host_text
    split = host_end - len(domain) if host_text.endswith(domain) else host_start
    unicode_host = url.host_unicode if url.host_unicode != url.host else None
    return Destination(href=href, before=href[:split], domain=href[split:host_end],
                       after=href[host_end:], unicode_host=unicode_host,
                       registrable_domain=url.registrable_domain_unicode or domain)


# Evidence kept for admins and API callers, not for a public page: where a list entry lives on
# the server (file path and line) and who owns it.
_PRIVATE_EVIDENCE = frozenset({"source", "owner"})


def reason_view(reason: Reason) -> dict[str, Any]:
    return {"code": reason.code, "message": reason.message,
            "evidence": {k: visible(v) for k, v in reason.evidence.items()
                         if k not in _PRIVATE_EVIDENCE}}


def render(state: AppState, template: str, *, status: int = 200,
           form_targets: tuple[str, ...] = (), headers: dict[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    branding = state.branding
    html = _env.get_template(template).render(branding=branding, **context)
    logo_origin = _logo_origin(branding.logo_url) if branding.logo_url else None
    response = HTMLResponse(html, status_code=status, headers=headers)
    response.headers["content-security-policy"] = csp(logo_origin=logo_origin,
                                                      form_targets=form_targets)
    response.headers["cache-control"] = "no-store"
    return response


# The logo's origin goes into every page's CSP; it is one setting, parsed once.
_logo_origin = lru_cache(maxsize=4)(origin_of)


def decision_context(decision: Decision) -> dict[str, Any]:
    return {
        "destination": destination(decision.url) if decision.url else None,
        "reasons": [reason_view(r) for r in decision.reasons if r.code != "list.allow"],
        "verdict": str(decision.verdict),
        "unwrapped": bool(decision.unwrapped_from),
    }
