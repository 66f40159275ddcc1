"""``NetworkFacts``: the facts port over RDAP, feeds and redirect resolution.

One click's facts, within its budget:

1. the redirect chain, when the link goes through a known shortener or open redirector (at most
   ``redirect_share`` of the budget, so the age lookup keeps some);
2. feed hits for every URL of the chain (local index: microseconds) — a listed shortener link
   counts as much as a listed destination;
3. the age of the final URL's registrable domain over RDAP, with what is left of the budget.

What is not known in time is reported as such (``DomainAge.unknown``, a chain that stops on the
redirector), never raised. Lookups cut off by the budget finish in the background and fill the
caches, and :meth:`NetworkFacts.prefetch` starts them at rewrite time, so most clicks find them
answered: the SMTP filter and the milter hand the destinations they sealed to a
:class:`RewritePrefetch`, and with a shared (Redis) RDAP cache the answers reach the gateway.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from linkguard.adapters.feeds import FeedStore
from linkguard.adapters.rdap import RdapClient
from linkguard.adapters.resolver import RedirectResolver
from linkguard.core.model import DomainAge, Facts, FeedHit
from linkguard.core.unwrap import unwrap
from linkguard.core.url import HostKind, ParsedUrl, parse_url

__all__ = ["NetworkFacts", "RewritePrefetch"]

log = logging.getLogger(__name__)


class NetworkFacts:
    """Implements :class:`linkguard.ports.FactsSource`. Any part may be None (switched off)."""

    def __init__(self, *, rdap: RdapClient | None = None, feeds: FeedStore | None = None,
                 resolver: RedirectResolver | None = None, budget_s: float = 0.8,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 redirect_share: float = 0.6, prefetch_budget_s: float = 10.0,
                 prefetch_limit: int = 64, prefetch_concurrency: int = 8,
                 prefetch_backlog: int = 256) -> None:
        self.rdap = rdap
        self.budget_s = budget_s  # the per-click budget the gateway passes to gather()
        self.feeds = feeds
        self.resolver = resolver
        self._clock = clock
        self.redirect_share = redirect_share
        self.prefetch_budget_s = prefetch_budget_s
        self.prefetch_limit = prefetch_limit
        self._prefetch_slots = prefetch_concurrency
        self.prefetch_backlog = prefetch_backlog  # batches waiting or running; more are dropped
        self._background: set[asyncio.Task[None]] = set()
        self._loop_lock = threading.Lock()
        self._own_loop: asyncio.AbstractEventLoop | None = None  # for callers without a loop
        self._own_thread: threading.Thread | None = None
        self._own_pending = 0

    async def gather(self, url: ParsedUrl, *, budget_s: float) -> Facts:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, budget_s)
        chain: tuple[str, ...] = (url.href,)
        final = url
        try:
            if self.resolver is not None and self.resolver.is_redirector(url):
                resolution = await self.resolver.resolve(
                    url, budget_s=max(0.0, budget_s * self.redirect_share))
                chain = resolution.chain
                last = parse_url(chain[-1])
                final = last if isinstance(last, ParsedUrl) else url
            hits = self._feed_hits(chain)
            age = await self._age(final, deadline - loop.time())
        except Exception as exc:  # the port promises facts, never an error
            log.exception("facts for %s", url.href[:200])
            return Facts(domain_age=DomainAge.unknown(f"facts lookup failed "
                                                      f"({type(exc).__name__})"),
                         redirect_chain=chain)
        return Facts(domain_age=age, feed_hits=hits, redirect_chain=chain)

    def _feed_hits(self, chain: Iterable[str]) -> tuple[FeedHit, ...]:
        if self.feeds is None:
            return ()
        hits: list[FeedHit] = []
        for href in chain:
            parsed = parse_url(href)
            if isinstance(parsed, ParsedUrl):
                hits.extend(h for h in self.feeds.lookup(parsed) if h not in hits)
        return tuple(hits)

    async def _age(self, url: ParsedUrl, remaining_s: float) -> DomainAge:
        # Names under a private suffix (alice.github.io) are not registrations: RDAP would
        # answer 404 for them and the link would look unregistered. Not consulted: silent.
        if self.rdap is None or url.host_kind is not HostKind.DOMAIN \
                or not url.registrable_domain or url.suffix_is_private:
            return DomainAge()
        now = self._clock()
        cached = self.rdap.cached(url.registrable_domain, now)
        if cached is not None:
            return cached
        if remaining_s <= 0:
            return DomainAge.unknown("no time left in the click budget")
        try:
            return await asyncio.wait_for(self.rdap.domain_age(url.registrable_domain, now),
                                          remaining_s)
        except TimeoutError:
            return DomainAge.unknown("RDAP did not answer within the click budget")

    # --- prefetch -----------------------------------------------------------------------

    def prefetch(self, urls: Iterable[ParsedUrl]) -> None:
        """Warm the caches for links just rewritten. Returns at once: on the caller's event
        loop when there is one, else on this object's own background loop (one daemon thread,
        started on first use: the milter's threads and the SMTP filter's worker threads).

        Bounded: at most ``prefetch_limit`` registrable domains per call, ``prefetch_concurrency``
        lookups at a time per call, ``prefetch_budget_s`` per lookup, and at most
        ``prefetch_backlog`` calls waiting or running (further ones are dropped: the click then
        looks the domain up itself)."""
        wanted: dict[str, ParsedUrl] = {}
        for url in urls:
            if url.is_http and url.host and len(wanted) < self.prefetch_limit:
                wanted.setdefault(url.registrable_domain or url.href, url)
        if not wanted or (self.rdap is None and self.resolver is None):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._prefetch_in_background(list(wanted.values()))
            return
        if len(self._background) >= self.prefetch_backlog:
            log.info("prefetch backlog full (%d): %d domain(s) left to the click",
                     len(self._background), len(wanted))
            return
        task = loop.create_task(self._warm_all(list(wanted.values())))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _prefetch_in_background(self, urls: list[ParsedUrl]) -> None:
        with self._loop_lock:
            if self._own_pending >= self.prefetch_backlog:
                log.info("prefetch backlog full (%d): %d domain(s) left to the click",
                         self._own_pending, len(urls))
                return
            loop = self._own_loop
            if loop is None or loop.is_closed():
                loop = asyncio.new_event_loop()
                self._own_thread = threading.Thread(target=loop.run_forever, daemon=True,
                                                    name="linkguard-prefetch")
                self._own_thread.start()
                self._own_loop = loop
            self._own_pending += 1
        future = asyncio.run_coroutine_threadsafe(self._warm_all(urls), loop)
        future.add_done_callback(self._background_done)

    def _background_done(self, future: concurrent.futures.Future[None]) -> None:
        with self._loop_lock:
            self._own_pending -= 1
        if not future.cancelled() and future.exception() is not None:
            log.error("prefetch failed", exc_info=future.exception())

    async def _warm_all(self, urls: list[ParsedUrl]) -> None:
        slots = asyncio.Semaphore(self._prefetch_slots)

        async def warm(url: ParsedUrl) -> None:
            async with slots:
                await self.gather(url, budget_s=self.prefetch_budget_s)

        await asyncio.gather(*(warm(u) for u in urls))

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the background loop of :meth:`prefetch`, if it was started (process exit of
        the SMTP filter and the milter). Lookups still running are abandoned."""
        with self._loop_lock:
            loop, self._own_loop = self._own_loop, None
            thread, self._own_thread = self._own_thread, None
        if loop is None or thread is None or loop.is_closed():
            return

        async def finish() -> None:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
            if self.rdap is not None:
                await self.rdap.aclose()

        try:
            asyncio.run_coroutine_threadsafe(finish(), loop).result(timeout_s)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError,
                RuntimeError):
            log.info("prefetch loop did not stop cleanly within %.1f s", timeout_s)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        if not thread.is_alive():
            loop.close()

    async def aclose(self) -> None:
        """Stop background prefetches and close this loop's connections (gateway shutdown)."""
        for task in list(self._background):
            task.cancel()
        if self.rdap is not None:
            await self.rdap.aclose()


class RewritePrefetch:
    """What the SMTP filter and the milter call with the links they just sealed.

    Takes the URLs as the rewriter saw them (``LinkRecord.url`` of the links it rewrote), peels
    other vendors' wrappers as the sealer did, so the destination the gateway will judge is the
    one warmed, and hands them to :meth:`NetworkFacts.prefetch`. Never raises and never waits:
    at most ``scan_limit`` distinct URLs are read per message (a few µs each); lookups run in
    the background.
    """

    def __init__(self, facts: NetworkFacts, *, scan_limit: int = 128) -> None:
        self.facts = facts
        self.scan_limit = scan_limit

    def __call__(self, sealed: Iterable[str]) -> None:
        try:
            urls: list[ParsedUrl] = []
            for href in itertools.islice(dict.fromkeys(sealed), self.scan_limit):
                parsed = parse_url(unwrap(href).url)
                if isinstance(parsed, ParsedUrl):
                    urls.append(parsed)
            self.facts.prefetch(urls)
        except Exception:  # mail never waits for, or fails because of, a prefetch
            log.exception("prefetch at rewrite time failed")

    def close(self) -> None:
        self.facts.close()
