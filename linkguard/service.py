"""Use cases over the core and the ports: judge a URL, open a click, record what happened.

Imports ``core`` and ``ports`` only; the composition root (``bootstrap``) builds these objects
from settings and adapters, and the web layer and the CLI call them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from cachetools import TTLCache

from linkguard.core.catalog import Catalog
from linkguard.core.checks import Check
from linkguard.core.checks.lists import ListCheck
from linkguard.core.engine import evaluate
from linkguard.core.lists import ListEntry, ListIndex
from linkguard.core.model import OFFLINE, Decision, Facts, LinkContext
from linkguard.core.policy import Policy
from linkguard.core.tokens import KeyRing, LinkClaims, TokenError, open_token, token_id
from linkguard.core.unwrap import OwnLinks, is_wrapped, unwrap
from linkguard.core.url import ParsedUrl, parse_url
from linkguard.ports import ClickEvent, ClickLog, FactsSource, StoreUnavailableError

log = logging.getLogger("linkguard.service")


@dataclass(frozen=True, slots=True)
class Judge:
    """Everything needed to judge a URL, built once per process."""

    catalog: Catalog
    checks: list[Check]
    policy: Policy
    own_links: OwnLinks | None = None

    def judge(self, url: str | ParsedUrl, *, context: LinkContext | None = None,
              facts: Facts = OFFLINE, now: datetime | None = None) -> Decision:
        """Judge the innermost URL: other vendors' wrappers (and ours) are peeled first."""
        layers: tuple[str, ...] = ()
        if isinstance(url, str):
            parsed = parse_url(url)
            if isinstance(parsed, ParsedUrl) and parsed.is_http and not is_wrapped(
                    parsed, self.own_links):
                url = parsed  # the common case: one parse, nothing to peel
            else:
                unwrapped = unwrap(url, own=self.own_links)
                if unwrapped.layers:
                    layers = (url,)
                    url = unwrapped.url
        decision = evaluate(url, checks=self.checks, policy=self.policy,
                            now=now or datetime.now(UTC), context=context, facts=facts)
        return replace(decision, unwrapped_from=layers) if layers else decision

    def judge_with_facts(self, first: Decision, url: ParsedUrl, facts: Facts, *,
                         context: LinkContext | None = None,
                         now: datetime | None = None) -> Decision:
        """Judge the link again with what was learnt outside; behind a redirect chain, judge
        where it ends too and keep the stricter verdict, so an admin entry for the link itself
        (a blocked shortener code) still counts."""
        here = self.judge(url, context=context, facts=facts, now=now)
        if len(facts.redirect_chain) > 1:
            there = self.judge(facts.redirect_chain[-1], context=context, facts=facts, now=now)
            if (there.verdict, there.score) >= (here.verdict, here.score):
                here = there
        return replace(here, unwrapped_from=first.unwrapped_from)

    def with_entries(self, extra: Iterable[ListEntry]) -> Judge:
        """This judge with admin list entries added (from the database: synced files and the
        admin API). Only the list check is rebuilt; the brand index and the rest are shared."""
        index = ListIndex.build([*self.catalog.lists.entries(), *extra])
        checks = [ListCheck(index) if isinstance(c, ListCheck) else c for c in self.checks]
        return replace(self, catalog=replace(self.catalog, lists=index), checks=checks)


# --- the click path ------------------------------------------------------------------------

ClickState = Literal["ok", "invalid", "expired"]


@dataclass(frozen=True, slots=True)
class Click:
    """What a sealed link says and what linkguard thinks of its destination now."""

    state: ClickState
    token_id: str
    claims: LinkClaims | None = None
    decision: Decision | None = None
    error: TokenError | None = None


class Gateway:
    """Opens sealed links and judges their destinations, with a short verdict cache.

    The cache key is everything the verdict depends on besides time (URL, display text,
    recipient, profile); entries live ``cache_ttl_s`` seconds so list changes and new facts
    reach cached destinations quickly, and :meth:`invalidate` drops them at once when lists
    are reloaded.
    """

    def __init__(self, judge: Judge, keys: KeyRing, *, facts: FactsSource | None = None,
                 facts_budget_s: float = 0.8, max_link_age_s: int = 0,
                 cache_ttl_s: float = 30.0, cache_size: int = 20_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.judge = judge
        self.keys = keys
        self.facts = facts
        self.facts_budget_s = facts_budget_s
        self.max_link_age_s = max_link_age_s
        self.clock = clock
        self._cache: TTLCache[Hashable, Decision] = TTLCache(
            maxsize=cache_size, ttl=cache_ttl_s, timer=time.monotonic)
        # Opened links with their verdicts, for the same time: scanners and people open the
        # same link within seconds, and a token's claims never change (the AEAD tag was checked
        # the first time). Cleared with the verdicts when lists change.
        self._opened: TTLCache[str, Click] = TTLCache(
            maxsize=cache_size, ttl=cache_ttl_s, timer=time.monotonic)
        self._lock = threading.Lock()
        self._generation = 0  # bumped by invalidate(): verdicts judged before it are not kept

    def replace_judge(self, judge: Judge) -> None:
        """Swap in a judge built from fresh lists and drop cached verdicts."""
        self.judge = judge
        self.invalidate()

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()
            self._opened.clear()
            self._generation += 1

    async def open(self, token: str) -> Click:
        with self._lock:
            known = self._opened.get(token)
            generation = self._generation
        if known is not None and known.state != "expired" and not self._too_old(known):
            return known  # the same link again within the cache time (scanners, then people)
        tid = token_id(token)
        claims = open_token(token, self.keys)
        if isinstance(claims, TokenError):
            click = Click("invalid", tid, error=claims)
        elif self._too_old_claims(claims):
            click = Click("expired", tid, claims=claims)
        else:
            context = LinkContext(display_text=claims.display_text, recipient=claims.recipient,
                                  profile=claims.profile)
            decision = await self.decide(claims.url, context)
            click = Click("ok", tid, claims=claims, decision=decision)
        with self._lock:
            if generation == self._generation:  # not judged across a list reload
                self._opened[token] = click
        return click

    def _too_old(self, click: Click) -> bool:
        return click.claims is not None and self._too_old_claims(click.claims)

    def _too_old_claims(self, claims: LinkClaims) -> bool:
        return bool(self.max_link_age_s) and self.clock() - claims.issued_at > self.max_link_age_s

    async def decide(self, url: str, context: LinkContext | None = None) -> Decision:
        """The verdict for ``url`` now: cached, else judged (with outside facts when wired)."""
        ctx = context or LinkContext()
        key = (url, ctx.display_text, ctx.recipient, ctx.profile)
        with self._lock:
            cached = self._cache.get(key)
            generation = self._generation
        if cached is not None:
            return cached
        decision = self.judge.judge(url, context=ctx)
        if self.facts is not None and decision.url is not None and decision.url.is_http:
            facts = await self.facts.gather(decision.url, budget_s=self.facts_budget_s)
            if facts is not OFFLINE:
                decision = self.judge.judge_with_facts(decision, decision.url, facts,
                                                       context=ctx)
        with self._lock:
            # Lists reloaded while this was judged (another thread, or during the facts'
            # await): the verdict may come from the old lists, so answer it once but do not
            # keep it, or it would outlive the change by the cache's lifetime.
            if generation == self._generation:
                self._cache[key] = decision
        return decision



# --- the click log, off the hot path --------------------------------------------------------


@dataclass(slots=True)
class RecorderStats:
    accepted: int = 0
    written: int = 0
    dropped: int = 0  # queue full: the click was served, its log entry lost
    failed: int = 0  # the store refused a batch after retries
    batches: int = 0
    last_error: str = ""
    last_flush: float = field(default=0.0)


class ClickRecorder:
    """A bounded in-process queue flushed in batches to the click log by one thread.

    ``record`` never blocks the click: when the queue is full the entry is dropped and counted.
    ``close`` (called at shutdown, e.g. on SIGTERM) drains everything accepted before it returns,
    so a replica that stops loses no entry it had accepted unless the store itself is down.
    """

    def __init__(self, store: ClickLog, *, max_queue: int = 10_000, batch_size: int = 500,
                 flush_interval_s: float = 0.5, retries: int = 3,
                 on_drop: Callable[[], None] | None = None,
                 on_written: Callable[[int], None] | None = None) -> None:
        self.store = store
        self.stats = RecorderStats()
        self._stats_lock = threading.Lock()
        self._queue: queue.Queue[ClickEvent] = queue.Queue(maxsize=max_queue)
        self._batch = batch_size
        self._interval = flush_interval_s
        self._retries = retries
        self.on_drop = on_drop
        self.on_written = on_written
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="click-log", daemon=True)
            self._thread.start()

    def record(self, event: ClickEvent) -> bool:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.stats.dropped += 1
            if self.on_drop is not None:
                self.on_drop()
            return False
        with self._stats_lock:
            self.stats.accepted += 1
        return True

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the thread after writing everything queued."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self.flush()  # whatever arrived after the thread's last pass

    def flush(self, timeout_s: float = 10.0) -> int:
        """Write everything queued now and wait for batches the flusher thread is writing;
        returns the entries this call wrote."""
        total = 0
        while True:
            batch = self._take(block=False)
            if not batch:
                break
            self._write(batch)
            total += len(batch)
        deadline = time.monotonic() + timeout_s
        while self.stats.written + self.stats.failed < self.stats.accepted \
                and time.monotonic() < deadline:
            time.sleep(0.005)
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._take(block=True)
            if batch:
                self._write(batch)

    def _take(self, *, block: bool) -> list[ClickEvent]:
        batch: list[ClickEvent] = []
        deadline = time.monotonic() + self._interval
        while len(batch) < self._batch:
            try:
                if block and not batch:
                    batch.append(self._queue.get(timeout=self._interval))
                else:
                    batch.append(self._queue.get_nowait())
            except queue.Empty:
                if not block or not batch or time.monotonic() >= deadline \
                        or self._stop.is_set():
                    break
                time.sleep(0.005)
        return batch

    def _write(self, batch: list[ClickEvent]) -> None:
        for attempt in range(self._retries):
            try:
                self.store.write_batch(batch)
            except Exception as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("click log write failed (attempt %d): %s", attempt + 1, exc)
                time.sleep(0.05 * (attempt + 1))
                continue
            with self._stats_lock:
                self.stats.written += len(batch)
                self.stats.batches += 1
            self.stats.last_flush = time.time()
            if self.on_written is not None:
                self.on_written(len(batch))
            return
        with self._stats_lock:
            self.stats.failed += len(batch)
        log.error("click log: %d entries lost after %d attempts", len(batch), self._retries)


# --- API keys from settings -------------------------------------------------------------------

API_SCOPES = frozenset({"verdict", "admin:read", "admin:write"})


class ClickRetention:
    """Deletes clicks older than ``days``, once at start and then every ``interval_s``
    (``start`` and ``stop`` in the app's lifespan). Every replica runs one: deleting rows that
    another replica deleted a moment ago deletes nothing, so no coordination is needed."""

    def __init__(self, store: ClickLog, *, days: int, interval_s: float = 3600.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if days < 1:
            raise ValueError("retention needs at least one day (0 in settings: keep forever)")
        self.store, self.days, self.interval_s, self._clock = store, days, interval_s, clock
        self.deleted = 0
        self._task: asyncio.Task[None] | None = None

    def run_once(self) -> int:
        """One pass (blocking); the number of clicks deleted. Store errors are logged: the
        next pass tries again."""
        cutoff = self._clock() - timedelta(days=self.days)
        try:
            deleted = self.store.prune(cutoff)
        except StoreUnavailableError as exc:
            log.warning("click retention: %s; trying again in %.0f s", exc, self.interval_s)
            return 0
        if deleted:
            log.info("click retention: deleted %d clicks older than %s", deleted,
                     cutoff.isoformat(timespec="seconds"))
        self.deleted += deleted
        return deleted

    async def _loop(self) -> None:
        while True:
            await asyncio.to_thread(self.run_once)
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(),
                                                                name="click-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None


@dataclass(frozen=True, slots=True)
class ApiPrincipal:
    name: str
    scopes: frozenset[str]


class ApiKeyRing:
    """Bearer keys configured as ``name:secret[:scope+scope]``; only SHA-256 digests are kept.

    Lookup is by digest, so comparing is not a byte-by-byte race on the secret (the digest of an
    unknown key reveals nothing about a known one).
    """

    MIN_SECRET_CHARS = 24

    def __init__(self, principals: dict[bytes, ApiPrincipal] | None = None) -> None:
        self._by_digest = dict(principals or {})

    @classmethod
    def parse(cls, spec: str) -> ApiKeyRing:
        by_digest: dict[bytes, ApiPrincipal] = {}
        for position, raw in enumerate(spec.split(","), start=1):
            entry = raw.strip()
            if not entry:
                continue
            parts = entry.split(":", 2)
            if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
                raise ValueError(f"API key entry {position} is not name:secret[:scope+scope]")
            name, secret = parts[0], parts[1]
            if len(secret) < cls.MIN_SECRET_CHARS:
                raise ValueError(f"API key {name!r} is shorter than {cls.MIN_SECRET_CHARS} "
                                 "characters; create one with 'linkguard keys new'")
            scopes = frozenset(parts[2].split("+")) if len(parts) == 3 else frozenset({"verdict"})
            unknown = scopes - API_SCOPES
            if unknown:
                raise ValueError(f"API key {name!r}: unknown scope(s) {sorted(unknown)}; "
                                 f"known: {sorted(API_SCOPES)}")
            by_digest[_digest(secret)] = ApiPrincipal(name, scopes)
        return cls(by_digest)

    def verify(self, secret: str) -> ApiPrincipal | None:
        return self._by_digest.get(_digest(secret))

    def __len__(self) -> int:
        return len(self._by_digest)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()
