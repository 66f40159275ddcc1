"""Domain age over RDAP: bootstrap, query, cache.

* The server for a domain comes from the IANA bootstrap registry for DNS (RFC 9224 §4): the
  longest TLD entry matching the name, HTTPS base URLs preferred. A partial snapshot ships in
  ``linkguard/data/rdap/dns.json``; ``linkguard rdap update-bootstrap`` installs the full one.
* Query ``<base>domain/<a-label name>`` (RFC 9082 §3.1.3) with ``Accept: application/rdap+json``
  (RFC 7480 §4.2), following redirects (RFC 7480 §5.2: thin registries send clients on).
* The creation date is the ``eventDate`` of the ``registration`` event (RFC 9083 §4.5, event
  actions from the IANA "RDAP JSON Values" registry). Registries write it differently
  (``…Z``, ``…+00:00``, ``….000+0000``); all are ISO 8601 and read here.
* 404 means "no such object" (RFC 7480 §5.3): the domain is not registered. 429 means the server
  rate-limits us (RFC 7480 §5.5): that server is left alone until its ``Retry-After``.

Answers are cached: a registration date for long (the date never changes, and the age is
computed from it at each click, so it only grows), "not registered" for minutes (someone may
register it — often the sender), failures for seconds. The cache is in process and, when a
``shared`` cache is given (the ``rdap`` namespace of the Redis-backed ``TieredCache``), also
shared: an answer found by the mail filter's prefetch or by one gateway replica serves every
other process, with the time it has left to live. Shared entries are JSON (the date in ISO 8601);
trouble with the shared cache (down, slow, an unreadable entry) is a miss, never an error.
Concurrent lookups of one domain share one request. Every request has connect/read/write/pool
timeouts; the per-click budget is the caller's (``NetworkFacts``), and a lookup cut off by it
goes on in the background to fill the caches for the next click.

Errors never escape: every outcome is a :class:`DomainAge` (``unknown`` with a detail on failure).
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import cachetools
import httpx

from linkguard.core.model import AgeState, DomainAge
from linkguard.ports import Cache

__all__ = [
    "DEFAULT_BOOTSTRAP_FILE",
    "IANA_DNS_BOOTSTRAP_URL",
    "BootstrapError",
    "RdapBootstrap",
    "RdapClient",
    "RdapTimeouts",
    "parse_registration",
]

DEFAULT_BOOTSTRAP_FILE: Final = Path(__file__).resolve().parent.parent / "data" / "rdap" / \
    "dns.json"
IANA_DNS_BOOTSTRAP_URL: Final = "https://data.iana.org/rdap/dns.json"
MAX_ANSWER_BYTES: Final = 1 << 20  # domain objects are a few KiB; more is not an answer
MAX_BOOTSTRAP_BYTES: Final = 8 << 20
SHARED_KEY_PREFIX: Final = "v1:"  # key in the shared cache: the entry format's version, domain

log = logging.getLogger(__name__)


class BootstrapError(ValueError):
    """A bootstrap file that is not in the RFC 9224 shape."""


@dataclass(frozen=True, slots=True)
class RdapBootstrap:
    """TLD (or longer suffix) → RDAP base URLs, from an RFC 9224 ``dns.json``."""

    servers: Mapping[str, tuple[str, ...]]
    publication: str = ""

    @classmethod
    def parse(cls, text: str | bytes, source: str = "bootstrap") -> RdapBootstrap:
        try:
            data: object = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise BootstrapError(f"{source}: not JSON: {exc}") from None
        services = data.get("services") if isinstance(data, dict) else None
        if not isinstance(services, list):
            raise BootstrapError(f"{source}: no 'services' array (RFC 9224 §4)")
        servers: dict[str, tuple[str, ...]] = {}
        for number, service in enumerate(services):
            if not (isinstance(service, list) and len(service) >= 2
                    and all(isinstance(part, list) for part in service[:2])):
                raise BootstrapError(f"{source}: service {number} is not [[names], [urls]]")
            names, urls = service[0], service[1]
            bases = [u for u in urls if isinstance(u, str) and u.startswith(("https://",
                                                                              "http://"))]
            # RFC 9224 §3: clients prefer HTTPS when several transports are listed.
            bases.sort(key=lambda u: not u.startswith("https://"))
            if not bases:
                continue
            for name in names:
                if isinstance(name, str) and name.strip(". "):
                    servers[name.strip(". ").lower()] = tuple(
                        b if b.endswith("/") else b + "/" for b in bases)
        if not servers:
            raise BootstrapError(f"{source}: no usable service entry")
        published = data.get("publication") if isinstance(data, dict) else None
        return cls(servers, published if isinstance(published, str) else "")

    @classmethod
    def load(cls, path: Path) -> RdapBootstrap:
        try:
            return cls.parse(path.read_bytes(), str(path))
        except OSError as exc:
            raise BootstrapError(f"cannot read {path}: {exc.strerror}") from None

    def servers_for(self, domain: str) -> tuple[str, ...]:
        """Base URLs for ``domain``: the longest matching entry (RFC 9224 §4)."""
        labels = domain.lower().rstrip(".").split(".")
        for start in range(1, len(labels)):
            found = self.servers.get(".".join(labels[start:]))
            if found:
                return found
        return ()


def parse_registration(body: bytes) -> datetime | str:
    """The registration date of an RFC 9083 domain object, or why there is none."""
    try:
        data: object = json.loads(body)
    except (ValueError, RecursionError):
        return "malformed RDAP answer (not JSON)"
    if not isinstance(data, dict):
        return "malformed RDAP answer (not an object)"
    events = data.get("events")
    if not isinstance(events, list):
        return "RDAP answer without events"
    for event in events:
        if not isinstance(event, dict):
            continue
        action = event.get("eventAction")
        if isinstance(action, str) and action.strip().lower() == "registration":
            when = _parse_date(event.get("eventDate"))
            return when if when is not None else "unreadable registration date"
    return "RDAP answer without a registration event"


def _parse_date(value: object) -> datetime | None:
    if not isinstance(value, str) or not 8 <= len(value) <= 64:
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RdapTimeouts:
    """Per-request limits. Longer than a click's budget on purpose: a lookup the click stops
    waiting for goes on to fill the cache."""

    connect_s: float = 2.0
    read_s: float = 4.0
    registration_ttl_s: float = 7 * 86400.0
    missing_ttl_s: float = 600.0
    failure_ttl_s: float = 60.0
    default_backoff_s: float = 60.0
    max_backoff_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class _Answer:
    registered: datetime | None = None
    missing: bool = False
    error: str = ""


def _answer_json(answer: _Answer, until: float) -> dict[str, object]:
    """The shared-cache form of an answer: JSON types only, the date in ISO 8601 (with its
    offset), and the wall-clock time (Unix seconds) the entry stops being valid."""
    return {"registered": None if answer.registered is None else answer.registered.isoformat(),
            "missing": answer.missing, "error": answer.error[:500], "until": until}


def _answer_from_json(data: object) -> tuple[_Answer, float] | None:
    """(answer, valid-until) from a shared entry; None for anything not in the expected shape."""
    if not isinstance(data, dict):
        return None
    registered, missing = data.get("registered"), data.get("missing")
    error, until = data.get("error"), data.get("until")
    if not (isinstance(missing, bool) and isinstance(error, str)
            and isinstance(until, int | float) and not isinstance(until, bool)
            and math.isfinite(until)):
        return None
    if registered is None:
        when = None
    elif isinstance(registered, str):
        when = _parse_date(registered)
        if when is None:
            return None
    else:
        return None
    if when is not None and missing:
        return None
    return _Answer(registered=when, missing=missing, error=error[:500]), float(until)


class RdapClient:
    """Registration dates by domain, cached; see the module docstring."""

    def __init__(self, bootstrap: RdapBootstrap, *, limits: RdapTimeouts | None = None,
                 cache_size: int = 100_000, clock: Callable[[], float] = time.monotonic,
                 transport: httpx.AsyncBaseTransport | None = None,
                 max_redirects: int = 3, shared: Cache | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.bootstrap = bootstrap
        self.limits = limits or RdapTimeouts()
        self.shared = shared
        self._clock = clock
        self._wall_clock = wall_clock  # for shared entries: other processes' clocks differ
        self._transport = transport
        self._max_redirects = max_redirects

        def time_to_use(_key: str, held: tuple[_Answer, float], now: float) -> float:
            return now + held[1]

        # domain → (answer, seconds it is valid from when it was stored here)
        self._cache: cachetools.TLRUCache[str, tuple[_Answer, float]] = cachetools.TLRUCache(
            maxsize=cache_size, ttu=time_to_use, timer=clock)
        self._lock = threading.Lock()  # the cache is shared with prefetch threads
        self._backoff: dict[str, float] = {}  # server host → clock value it may be asked again
        self._inflight: dict[str, asyncio.Task[_Answer]] = {}
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                 httpx.AsyncClient] = weakref.WeakKeyDictionary()
        self.requests = 0  # answers asked of servers (for tests and health)
        self.shared_hits = 0  # answers found in the shared cache (for tests and health)

    # --- public -------------------------------------------------------------------------

    def cached(self, domain: str, now: datetime) -> DomainAge | None:
        """The answer this process holds, without any I/O (the shared cache is read by
        :meth:`domain_age`, off the event loop)."""
        answer = self._local(domain)
        return None if answer is None else _age(answer, now)

    async def domain_age(self, domain: str, now: datetime) -> DomainAge:
        """The domain's age at ``now``. Never raises; cancelling the caller leaves the lookup
        running to completion in the background (it fills the caches)."""
        answer = self._local(domain)
        if answer is not None:
            return _age(answer, now)
        task = self._inflight.get(domain)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.get_running_loop().create_task(self._lookup(domain))
            self._inflight[domain] = task
            task.add_done_callback(functools.partial(self._forget, domain))
        return _age(await asyncio.shield(task), now)

    async def aclose(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def _ttl_for(self, answer: _Answer) -> float:
        if answer.registered is not None:
            return self.limits.registration_ttl_s
        return self.limits.missing_ttl_s if answer.missing else self.limits.failure_ttl_s

    # --- caches -------------------------------------------------------------------------

    def _local(self, domain: str) -> _Answer | None:
        with self._lock:
            held = self._cache.get(domain)
        return None if held is None else held[0]

    def _keep(self, domain: str, answer: _Answer, ttl_s: float) -> None:
        with self._lock:
            self._cache[domain] = (answer, ttl_s)

    def _shared_get(self, domain: str) -> tuple[_Answer, float] | None:
        """(answer, seconds left) from the shared cache; None on a miss or any trouble."""
        if self.shared is None:
            return None
        try:
            raw = self.shared.get(SHARED_KEY_PREFIX + domain)
            if raw is None:
                return None
            found = _answer_from_json(json.loads(raw))
        except Exception as exc:  # a cache is never a reason to fail a lookup
            log.warning("RDAP shared cache read for %s failed: %r", domain[:100], exc)
            return None
        if found is None:
            log.info("RDAP shared cache: unreadable entry for %s ignored", domain[:100])
            return None
        answer, until = found
        left = min(until - self._wall_clock(), self._ttl_for(answer))
        return (answer, left) if left > 0 else None

    def _shared_set(self, domain: str, answer: _Answer, ttl_s: float) -> None:
        if self.shared is None:
            return
        try:
            value = json.dumps(_answer_json(answer, self._wall_clock() + ttl_s),
                               separators=(",", ":")).encode("utf-8")
            self.shared.set(SHARED_KEY_PREFIX + domain, value, ttl_s)
        except Exception as exc:  # a cache is never a reason to fail a lookup
            log.warning("RDAP shared cache write for %s failed: %r", domain[:100], exc)

    # --- lookup -------------------------------------------------------------------------

    def _forget(self, domain: str, task: asyncio.Task[_Answer]) -> None:
        if self._inflight.get(domain) is task:
            del self._inflight[domain]

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            limits = self.limits
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(limits.read_s, connect=limits.connect_s),
                follow_redirects=True, max_redirects=self._max_redirects,
                headers={"Accept": "application/rdap+json, application/json;q=0.8",
                         "User-Agent": "linkguard-rdap"},
                transport=self._transport, trust_env=False)
            self._clients[loop] = client
        return client

    async def _lookup(self, domain: str) -> _Answer:
        if self.shared is not None:
            # The shared cache's client blocks (Redis): read it off the event loop.
            found = await asyncio.to_thread(self._shared_get, domain)
            if found is not None:
                self.shared_hits += 1
                self._keep(domain, *found)
                return found[0]
        try:
            answer = await self._ask(domain)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed lookup is a signal, never an error
            answer = _Answer(error=f"RDAP lookup failed ({type(exc).__name__})")
        ttl_s = self._ttl_for(answer)
        self._keep(domain, answer, ttl_s)
        if self.shared is not None:
            await asyncio.to_thread(self._shared_set, domain, answer, ttl_s)
        return answer

    async def _ask(self, domain: str) -> _Answer:
        servers = self.bootstrap.servers_for(domain)
        if not servers:
            tld = domain.rsplit(".", 1)[-1]
            return _Answer(error=f"no RDAP server for .{tld} in the bootstrap file")
        base = servers[0]
        server = urlsplit(base).netloc
        wait = self._backoff.get(server, 0.0) - self._clock()
        if wait > 0:
            return _Answer(error=f"{server} asked us to slow down (retry in {wait:.0f} s)")
        self.requests += 1
        try:
            async with self._client().stream("GET", f"{base}domain/{domain}") as response:
                if response.status_code == 404:
                    return _Answer(missing=True)
                if response.status_code == 429:
                    delay = _retry_after(response.headers.get("Retry-After"),
                                         self.limits.default_backoff_s)
                    delay = min(max(delay, 1.0), self.limits.max_backoff_s)
                    self._backoff[server] = self._clock() + delay
                    return _Answer(error=f"{server} is rate limiting (HTTP 429)")
                if response.status_code != 200:
                    return _Answer(error=f"{server} answered HTTP {response.status_code}")
                body = await _read_capped(response, MAX_ANSWER_BYTES)
        except httpx.TimeoutException:
            return _Answer(error=f"{server} did not answer in time")
        except httpx.TooManyRedirects:
            return _Answer(error=f"{server} redirected too many times")
        except httpx.HTTPError as exc:
            return _Answer(error=f"{server} unreachable ({type(exc).__name__})")
        if body is None:
            return _Answer(error=f"{server} sent an answer over {MAX_ANSWER_BYTES} bytes")
        found = parse_registration(body)
        return _Answer(registered=found) if isinstance(found, datetime) else _Answer(error=found)


async def _read_capped(response: httpx.Response, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _retry_after(value: str | None, default: float) -> float:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value[:7])
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - datetime.now(UTC)).total_seconds()


def _age(answer: _Answer, now: datetime) -> DomainAge:
    if answer.missing:
        return DomainAge(AgeState.KNOWN, registered_missing=True)
    if answer.registered is None:
        return DomainAge.unknown(answer.error or "lookup failed")
    days = max(0, (now - answer.registered).days)
    return DomainAge.known(days, answer.registered)
