"""Who is clicking: a person in a browser, or a machine fetching the link on someone's behalf.

Mail scanners (Safe Links' detonation, Proofpoint, Mimecast, Barracuda), link previews (Teams,
Slack, iMessage, WhatsApp) and security products fetch every link in a message, often within
seconds of delivery. They must get the same answer as a person, but nothing they do may count as
a person's decision, and the click log marks them ``scanner`` so that retro-hunts ("who clicked")
are not drowned by them. DESIGN.md "GET never consumes anything".

Pure functions over header values; the web layer passes them in.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

# Lower-case substrings of User-Agent values sent by automated fetchers. Vendors document some
# (Slackbot, facebookexternalhit, Twitterbot, LinkedInBot, Discordbot, TelegramBot,
# SkypeUriPreview, WhatsApp, BingPreview); the rest are the libraries and crawlers that scanning
# products are built on. Admins extend it with LINKGUARD_SCANNER_AGENTS.
DEFAULT_SCANNER_AGENTS: tuple[str, ...] = (
    "bot", "crawler", "spider", "slurp", "preview", "scan",
    "facebookexternalhit", "whatsapp", "skypeuripreview", "embedly", "iframely",
    "microsoft office", "ms-office", "msoffice", "microsoft outlook", "outlook-ios",
    "google-safety", "googleimageproxy", "yahoomailproxy", "proofpoint", "mimecast",
    "barracuda", "safelinks", "trendmicro", "forcepoint", "zscaler", "symantec", "sophos",
    "python-requests", "python-urllib", "aiohttp", "httpx", "curl/", "wget/", "libwww",
    "go-http-client", "java/", "okhttp", "apache-httpclient", "node-fetch", "axios/", "undici",
    "headlesschrome", "phantomjs", "electron/",
)

ClientKind = Literal["human", "scanner"]


@dataclass(frozen=True, slots=True)
class ClientView:
    """The request headers that tell a browser from a fetcher (lower-cased names)."""

    method: str
    user_agent: str = ""
    accept: str = ""
    accept_language: str = ""
    sec_fetch_mode: str = ""


class ScannerAgents:
    """The scanner User-Agent substrings, matched in one regular-expression pass."""

    __slots__ = ("_pattern", "_seen")

    _SEEN_MAX = 4096  # User-Agent strings repeat: a few browsers' versions cover most clicks

    def __init__(self, needles: Iterable[str] = DEFAULT_SCANNER_AGENTS) -> None:
        words = sorted({n.strip().lower() for n in needles if n.strip()}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, words))) if words else None
        self._seen: dict[str, str | None] = {}

    def match(self, user_agent: str) -> str | None:
        if user_agent in self._seen:
            return self._seen[user_agent]
        found = self._pattern.search(user_agent.lower()) if self._pattern else None
        hit = found.group(0) if found else None
        if len(self._seen) >= self._SEEN_MAX:
            self._seen.clear()
        self._seen[user_agent] = hit
        return hit


def classify(view: ClientView, agents: ScannerAgents) -> tuple[ClientKind, str]:
    """``("human", "")`` or ``("scanner", why)``.

    A person's browser sends GET or POST with a ``Mozilla/`` User-Agent, an Accept that asks for
    HTML and an Accept-Language; fetchers usually leave at least one of them out. A navigation
    (``Sec-Fetch-Mode: navigate``, sent by every current browser) outweighs an odd Accept.
    """
    if view.method not in ("GET", "POST"):
        return "scanner", f"method {view.method}"
    ua = view.user_agent
    if not ua:
        return "scanner", "no user agent"
    hit = agents.match(ua)
    if hit is not None:
        return "scanner", f"user agent contains {hit!r}"
    if not ua.startswith("Mozilla/"):
        return "scanner", "user agent is not a browser's"
    if not view.accept_language:
        return "scanner", "no Accept-Language"
    if view.sec_fetch_mode not in ("", "navigate"):
        return "scanner", f"Sec-Fetch-Mode {view.sec_fetch_mode}"
    if view.sec_fetch_mode != "navigate" and "text/html" not in view.accept \
            and "*/*" not in view.accept:
        return "scanner", "does not accept HTML"
    return "human", ""


IpMode = Literal["full", "truncate", "hash"]


def client_ip_for_log(ip: str, mode: IpMode, *, secret: bytes = b"") -> str:
    """See :func:`_ip_for_log`; remembered per address (clients click more than once)."""
    return ip if mode == "full" else _ip_for_log(ip, mode, secret)


@functools.lru_cache(maxsize=8192)
def _ip_for_log(ip: str, mode: IpMode, secret: bytes) -> str:
    """The client address as the click log keeps it.

    ``truncate`` keeps the network (IPv4 /24, IPv6 /48, as Google Analytics' IP anonymisation
    does for v4); ``hash`` keeps a keyed HMAC-SHA256 (16 hex digits), so the same address
    correlates across clicks without being stored. Unparsable input is kept as ``?``.
    """
    if mode == "full":
        return ip
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "?"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if mode == "hash":
        return hmac.new(secret, address.packed, hashlib.sha256).hexdigest()[:16]
    prefix = 24 if address.version == 4 else 48
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    return str(network)
