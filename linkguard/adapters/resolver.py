"""Where a shortened or redirected link really goes: the redirect chain, fetched safely.

Only links through known redirectors are followed, never an arbitrary site (fetching the
attacker's page would tell them the mail was delivered and let a page decide what we see):

* hosts of ``allowlists/open_redirects.txt`` are decoded offline (:mod:`linkguard.core.redirects`);
* hosts of ``allowlists/shorteners.txt`` (and their subdomains) are asked over HTTP: ``HEAD``,
  and ``GET`` without reading the body when the server refuses ``HEAD``; the ``Location`` header
  is the next hop. The chain stops at the first URL that is neither, after ``max_hops`` hops, or
  when the time budget runs out (the chain so far is returned).

A server fetch is a server-side request forgery risk (the gateway sits inside the network), so
every hop is made like this:

1. resolve the name ourselves (an IP literal, in any spelling the WHATWG parser accepts — decimal,
   hex, octal — is already normalised by :func:`linkguard.core.url.parse_url`);
2. refuse the hop unless *every* address is public (:func:`is_public`: no loopback, private,
   link-local, shared CGN, multicast, reserved, documentation or unspecified address, and no IPv6
   form that embeds an IPv4 address: IPv4-mapped, 6to4, Teredo, NAT64);
3. connect to the address that was checked — the request goes to ``scheme://<ip>:port`` with the
   ``Host`` header and TLS SNI (httpcore's ``sni_hostname`` extension, so the certificate is still
   verified against the name) set to the original host. There is no second DNS lookup, so a name
   that answers "public" to the check and "private" to the connection (DNS rebinding) cannot
   slip through.

Requests go straight to an httpx transport, not through a client: no cookie jar (nothing
stored or sent), no credentials from the URL, no proxy from the environment, no keep-alive (a
connection made for one name is never reused for another on the same address). Errors never
escape: :meth:`RedirectResolver.resolve` returns the chain it has and says why it stopped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Final

import ada_url
import cachetools
import httpx

from linkguard.core.redirects import OpenRedirects
from linkguard.core.url import HostKind, ParsedUrl, listed_parent, parse_url

__all__ = [
    "AddressPolicy",
    "RedirectResolver",
    "Resolution",
    "Resolve",
    "is_public",
    "system_resolve",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str, int], Awaitable[list[str]]]

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
# Answers to HEAD that mean "ask with GET" (servers that only implement GET).
HEAD_REFUSED: Final = frozenset({400, 403, 404, 405, 501})

# IPv6 ranges that carry an IPv4 address inside (RFC 3056 6to4, RFC 4380 Teredo, RFC 6052
# NAT64): a gateway or translator would deliver the packet to the embedded, possibly private,
# IPv4 address. Python's ``is_global`` calls some of them global.
_EMBEDDING_IPV4: Final = (ipaddress.ip_network("2002::/16"), ipaddress.ip_network("2001::/32"),
                          ipaddress.ip_network("64:ff9b::/96"),
                          ipaddress.ip_network("64:ff9b:1::/48"))


def is_public(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses (IANA special-purpose registries)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None or any(address in n for n in _EMBEDDING_IPV4):
            return False
        if address.is_site_local:
            return False
    return address.is_global and not (address.is_multicast or address.is_reserved
                                      or address.is_loopback or address.is_link_local
                                      or address.is_unspecified)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses a hop may connect to. ``allow_loopback`` exists for tests that run
    servers on 127.0.0.1; production code never sets it."""

    allow_loopback: bool = False

    def allows(self, address: IPAddress) -> bool:
        if self.allow_loopback and address.is_loopback and (
                not isinstance(address, ipaddress.IPv6Address) or address.ipv4_mapped is None):
            return True
        return is_public(address)


async def system_resolve(host: str, port: int) -> list[str]:
    """The system resolver (getaddrinfo), addresses in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True, slots=True)
class Resolution:
    chain: tuple[str, ...]  # original, hop 1, …, final (just the original when nothing moved)
    complete: bool  # False: stopped on a redirector (hops, time, refusal or error)
    detail: str = ""


@dataclass(slots=True)
class _Progress:
    chain: list[str] = field(default_factory=list)
    detail: str = ""


class RedirectResolver:
    def __init__(self, *, shorteners: Collection[str], open_redirects: OpenRedirects,
                 max_hops: int = 5, policy: AddressPolicy | None = None,
                 resolve: Resolve = system_resolve, connect_s: float = 2.0, read_s: float = 3.0,
                 cache_ttl_s: float = 600.0, cache_size: int = 50_000,
                 clock: Callable[[], float] = time.monotonic,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.shorteners = frozenset(shorteners)
        self.open_redirects = open_redirects
        self.max_hops = max_hops
        self.policy = policy or AddressPolicy()
        self._resolve = resolve
        self._timeout = httpx.Timeout(read_s, connect=connect_s)
        self._transport = transport
        # Shortener targets can be edited by their owner: remembered for minutes, not days.
        self._cache: cachetools.TTLCache[str, Resolution] = cachetools.TTLCache(
            maxsize=cache_size, ttl=cache_ttl_s, timer=clock)
        self.fetches = 0  # HTTP requests made (for tests and health)

    def is_redirector(self, url: ParsedUrl) -> bool:
        return self.open_redirects.listed(url) or self._is_shortener(url)

    def cached(self, href: str) -> Resolution | None:
        return self._cache.get(href)

    async def resolve(self, url: ParsedUrl, *, budget_s: float) -> Resolution:
        """The redirect chain of ``url`` within ``budget_s``. Never raises."""
        if not self.is_redirector(url):
            return Resolution((url.href,), True)
        cached = self._cache.get(url.href)
        if cached is not None:
            return cached
        progress = _Progress([url.href])
        try:
            async with asyncio.timeout(budget_s):
                complete = await self._follow(url, progress)
        except TimeoutError:
            return Resolution(tuple(progress.chain), False, "time budget exhausted")
        except Exception as exc:  # hostile input: stop, keep the chain so far
            return Resolution(tuple(progress.chain), False,
                              f"redirect lookup failed ({type(exc).__name__})")
        result = Resolution(tuple(progress.chain), complete, progress.detail)
        if complete:
            self._cache[url.href] = result
        return result

    async def _follow(self, url: ParsedUrl, progress: _Progress) -> bool:
        current = url
        async with self._connection() as connection:
            for _ in range(self.max_hops):
                if not self.is_redirector(current):
                    return True
                target = self.open_redirects.decode(current)
                if target is None:
                    if not self._is_shortener(current):
                        return True  # a listed redirector link without a destination
                    outcome = await self._fetch(connection, current)
                    if isinstance(outcome, _Stop):
                        progress.detail = outcome.reason
                        return outcome.complete
                    target = outcome
                parsed = parse_url(target)
                if not isinstance(parsed, ParsedUrl):
                    progress.detail = f"unusable redirect target ({parsed.code})"
                    return False
                progress.chain.append(parsed.href)
                current = parsed
                if not parsed.is_http:
                    return True  # javascript:, data: … the chain ends; the engine judges it
        if self.is_redirector(current):
            progress.detail = f"more than {self.max_hops} hops"
            return False
        return True

    def _is_shortener(self, url: ParsedUrl) -> bool:
        return listed_parent(url.host, self.shorteners) is not None

    def _connection(self) -> httpx.AsyncBaseTransport:
        # The transport itself, not a client: no cookie jar, no redirect handling (httpx's
        # client would build the next request from Location and choke on javascript:), no
        # proxy or credentials from the environment, and no keep-alive.
        return self._transport or httpx.AsyncHTTPTransport(
            retries=0, limits=httpx.Limits(max_keepalive_connections=0))

    async def _ask(self, connection: httpx.AsyncBaseTransport, method: str, target: httpx.URL,
                   headers: dict[str, str], extensions: dict[str, object]) -> httpx.Response:
        self.fetches += 1
        request = httpx.Request(method, target, headers=headers, extensions=extensions)
        response = await connection.handle_async_request(request)
        await response.aclose()  # headers are all we want: the body is never read
        return response

    async def _fetch(self, connection: httpx.AsyncBaseTransport,
                     url: ParsedUrl) -> str | _Stop:
        if not url.is_http or url.host_kind not in (HostKind.DOMAIN, HostKind.IPV4,
                                                    HostKind.IPV6):
            return _Stop("not an http(s) link", complete=True)
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await self._checked_address(url, port)
        if isinstance(address, _Stop):
            return address
        pinned = httpx.URL(url.href).copy_with(host=address, username=None, password=None,
                                               fragment=None)
        host_header = url.host if url.host_kind is not HostKind.IPV6 else f"[{url.host}]"
        if url.port is not None:
            host_header += f":{url.port}"
        extensions: dict[str, object] = {"timeout": self._timeout.as_dict()}
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host
        headers = {"Host": host_header, "User-Agent": "linkguard-redirect-check",
                   "Accept": "*/*"}
        try:
            response = await self._ask(connection, "HEAD", pinned, headers, extensions)
            if response.status_code in HEAD_REFUSED:
                response = await self._ask(connection, "GET", pinned, headers, extensions)
        except httpx.TimeoutException:
            return _Stop(f"{url.host} did not answer in time")
        except httpx.HTTPError as exc:
            return _Stop(f"{url.host} unreachable ({type(exc).__name__})")
        location = response.headers.get("Location")
        if response.status_code not in REDIRECT_STATUSES or not location:
            return _Stop(f"{url.host} answered HTTP {response.status_code} without a redirect")
        try:
            # Relative Location values resolve against the URL asked (RFC 9110 §10.2.2), with
            # the WHATWG parser the browser will use.
            return str(ada_url.join_url(url.href, location[:8192]))
        except ValueError:
            return _Stop(f"{url.host} sent an unusable Location header")

    async def _checked_address(self, url: ParsedUrl, port: int) -> str | _Stop:
        if url.host_kind in (HostKind.IPV4, HostKind.IPV6):
            answers = [url.host]
        else:
            try:
                answers = await self._resolve(url.host, port)
            except (OSError, UnicodeError) as exc:
                return _Stop(f"{url.host} does not resolve ({type(exc).__name__})")
        addresses: list[IPAddress] = []
        for answer in answers:
            try:
                addresses.append(ipaddress.ip_address(answer.split("%", 1)[0]))
            except ValueError:
                return _Stop(f"{url.host} resolved to something that is not an address")
        if not addresses:
            return _Stop(f"{url.host} has no address")
        refused = [a for a in addresses if not self.policy.allows(a)]
        if refused:
            # One private answer among public ones is how rebinding and internal-name attacks
            # look: refuse the hop rather than pick the public one.
            return _Stop(f"{url.host} resolves to a non-public address ({refused[0]})")
        return str(addresses[0])


@dataclass(frozen=True, slots=True)
class _Stop:
    reason: str
    complete: bool = False
