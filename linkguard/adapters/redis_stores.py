"""Redis-backed shared state for several replicas: nonces, rate limits, caches.

What may degrade and what may not (DESIGN.md, "Embedded default, real scale-out"):

* Nonces never degrade. A confirmation nonce is usable once or not at all; when Redis cannot
  answer, ``RedisNonceStore`` raises ``StoreUnavailableError`` and the confirmation fails closed.
* Rate limits degrade: ``FallbackRateLimiter`` counts in-process while Redis is down (each
  replica then limits on its own), reports itself degraded, and goes back to Redis when it
  answers again.
* Caches degrade: ``TieredCache`` keeps serving from its in-process cachetools layer.

Every Redis call has a timeout (socket connect and read); a Redis failure of any kind is
translated to ``StoreUnavailableError`` at this boundary.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import redis
from cachetools import TTLCache
from redis.backoff import NoBackoff
from redis.retry import Retry

from linkguard.ports import Cache, Health, RateLimiter, StoreUnavailableError

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "linkguard:"
T = TypeVar("T")


def make_redis(url: str, *, timeout_s: float = 0.5) -> redis.Redis:
    """A client that connects lazily. One retry on a fresh connection, no backoff: it gets
    past a pooled connection that died with a Redis restart, and fails fast when Redis is
    really down (a click must not wait for exponential backoff)."""
    return redis.Redis.from_url(url, socket_timeout=timeout_s,
                                socket_connect_timeout=timeout_s,
                                retry=Retry(NoBackoff(), 1), health_check_interval=30)


@contextmanager
def _unavailable(what: str) -> Iterator[None]:
    try:
        yield
    except redis.RedisError as error:
        raise StoreUnavailableError(f"{what}: Redis unavailable: {error}") from error


# Atomic on the server: GET and DEL run with no other command in between (Redis runs a script
# to completion before serving anyone else), so two consumers cannot both see the nonce.
_CONSUME = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


class RedisNonceStore:
    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = prefix + "nonce:"
        self._consume = client.register_script(_CONSUME)

    def issue(self, nonce: str, subject: str, ttl_s: float) -> None:
        if not nonce or ttl_s <= 0:
            raise ValueError("a nonce needs a value and a positive time to live")
        with _unavailable("nonce store"):
            created = self._client.set(self._prefix + nonce, subject.encode("utf-8"),
                                       px=max(1, int(ttl_s * 1000)), nx=True)
        if not created:
            raise ValueError("nonce already issued")

    def consume(self, nonce: str, subject: str) -> bool:
        with _unavailable("nonce store"):
            return bool(self._consume(keys=[self._prefix + nonce],
                                      args=[subject.encode("utf-8")]))

    def ping(self) -> None:
        with _unavailable("nonce store"):
            self._client.ping()


# Fixed window that starts at a key's first hit: INCR, and set the expiry on the first one.
# The window lives on the server (PEXPIRE), so replicas with skewed clocks still agree. A key
# that somehow lost its expiry gets one again rather than counting forever.
_HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RedisRateLimiter:
    """Fixed-window counters shared by every replica. A fixed window admits at most twice the
    limit across a window boundary; for abuse limits on clicks and API calls that is fine and
    costs one key per client instead of a sorted set of timestamps."""

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._prefix = prefix + "rate:"
        self._client = client
        self._hit = client.register_script(_HIT)

    def hit(self, key: str, *, limit: int, window_s: float) -> float | None:
        window_ms = max(1, int(window_s * 1000))
        with _unavailable("rate limiter"):
            count, ttl_ms = self._hit(keys=[self._prefix + key], args=[window_ms])
        return None if int(count) <= limit else max(int(ttl_ms), 1) / 1000

    def ping(self) -> None:
        with _unavailable("rate limiter"):
            self._client.ping()


class _Outage:
    """Tracks whether Redis is down for one user of it, and when to try it again.

    While down, only one call per ``retry_s`` goes to Redis (the others are answered locally),
    so an outage costs one timeout per interval, not one per request.
    """

    def __init__(self, name: str, retry_s: float, clock: Callable[[], float]) -> None:
        self._name = name
        self._retry_s = retry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._retry_at: float | None = None  # None: Redis believed up
        self.detail = ""

    @property
    def down(self) -> bool:
        return self._retry_at is not None

    def should_try(self) -> bool:
        now = self._clock()
        with self._lock:
            if self._retry_at is None:
                return True
            if now < self._retry_at:
                return False
            self._retry_at = now + self._retry_s  # this call is the one retry
            return True

    def failed(self, error: Exception) -> None:
        with self._lock:
            if self._retry_at is None:
                log.warning("%s: Redis down, continuing on local state: %s", self._name, error)
            self._retry_at = self._clock() + self._retry_s
            self.detail = f"Redis unavailable: {error}"

    def recovered(self) -> None:
        with self._lock:
            if self._retry_at is not None:
                log.info("%s: Redis is back", self._name)
            self._retry_at = None
            self.detail = ""

    def health(self) -> Health:
        return Health(self._name, ok=True, degraded=self.down, detail=self.detail)


class FallbackRateLimiter:
    """Redis when it answers, an in-process limiter when it does not (each replica then
    limits on its own); back to Redis when it answers again."""

    def __init__(self, shared: RateLimiter, local: RateLimiter, *, retry_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._shared = shared
        self._local = local
        self._outage = _Outage("rate_limits", retry_s, clock)

    @property
    def degraded(self) -> bool:
        return self._outage.down

    def hit(self, key: str, *, limit: int, window_s: float) -> float | None:
        if self._outage.should_try():
            try:
                result = self._shared.hit(key, limit=limit, window_s=window_s)
            except StoreUnavailableError as error:
                self._outage.failed(error)
            else:
                self._outage.recovered()
                return result
        return self._local.hit(key, limit=limit, window_s=window_s)

    def health(self) -> Health:
        # A replica without traffic would report the outage until its next request: the
        # readiness probe itself tries Redis again (at most once per retry interval).
        ping = getattr(self._shared, "ping", None)
        if self._outage.down and callable(ping) and self._outage.should_try():
            try:
                ping()
            except StoreUnavailableError as error:
                self._outage.failed(error)
            else:
                self._outage.recovered()
        return self._outage.health()


class TieredCache:
    """A cachetools TTLCache in front of Redis (or alone, with ``client=None``).

    Reads try the process first, then Redis; writes go to both. An entry lives locally for at
    most ``local_ttl_s`` (so a value replaced on another replica is seen within that time) and
    never longer than its own ``ttl_s``. Redis errors degrade to local-only, retried every
    ``retry_s`` seconds; they are never raised: a miss is always an acceptable answer.
    """

    def __init__(self, client: redis.Redis | None, *, namespace: str,
                 prefix: str = DEFAULT_PREFIX, local_size: int = 10_000,
                 local_ttl_s: float = 60.0, retry_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._prefix = f"{prefix}cache:{namespace}:"
        self._local: TTLCache[str, tuple[float, bytes]] = TTLCache(
            maxsize=local_size, ttl=local_ttl_s, timer=clock)
        self._local_ttl_s = local_ttl_s
        self._clock = clock
        self._lock = threading.Lock()  # cachetools caches are not thread-safe
        self._outage = _Outage(f"cache:{namespace}", retry_s, clock)

    def get(self, key: str) -> bytes | None:
        now = self._clock()
        with self._lock:
            held = self._local.get(key)
        if held is not None and now < held[0]:
            return held[1]
        found = self._remote(self._remote_get, key)
        if found is None:
            return None
        value, ttl_ms = found
        remaining = ttl_ms / 1000 if ttl_ms > 0 else self._local_ttl_s
        with self._lock:
            self._local[key] = (now + min(remaining, self._local_ttl_s), value)
        return value

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        with self._lock:
            self._local[key] = (self._clock() + min(ttl_s, self._local_ttl_s), value)
        self._remote(lambda client, k: client.set(self._prefix + k, value,
                                                  px=max(1, int(ttl_s * 1000))), key)

    def delete(self, key: str) -> None:
        with self._lock:
            self._local.pop(key, None)
        self._remote(lambda client, k: client.delete(self._prefix + k), key)

    def health(self) -> Health:
        return self._outage.health()

    def _remote_get(self, client: redis.Redis, key: str) -> tuple[bytes, int] | None:
        pipe = client.pipeline(transaction=False)
        pipe.get(self._prefix + key)
        pipe.pttl(self._prefix + key)
        value, ttl_ms = pipe.execute()
        return None if value is None else (bytes(value), int(ttl_ms))

    def _remote(self, call: Callable[[redis.Redis, str], T], key: str) -> T | None:
        """``call`` on Redis, or None when there is none or it is (believed) down."""
        if self._client is None or not self._outage.should_try():
            return None
        try:
            result = call(self._client, key)
        except redis.RedisError as error:
            self._outage.failed(error)
            return None
        self._outage.recovered()
        return result


class RedisListNotifier:
    """Faster list propagation over Redis pub/sub; the version poll remains the guarantee.

    ``publish`` goes in ``SqlListStore(on_commit=…)``; ``subscribe`` goes in
    ``ListWatcher(subscribe=…)``. A message lost while Redis is down costs nothing but speed:
    the next poll finds the new version anyway.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX,
                 retry_s: float = 5.0) -> None:
        self._client = client
        self._channel = prefix + "lists"
        self._retry_s = retry_s

    def publish(self, version: int) -> None:
        try:
            self._client.publish(self._channel, str(version))
        except redis.RedisError as error:
            log.info("list change not published (replicas will poll): %s", error)

    def subscribe(self, nudge: Callable[[], None]) -> Callable[[], None]:
        """Call ``nudge`` on every message, from a daemon thread; returns the stop function."""
        stop = threading.Event()
        thread = threading.Thread(target=self._listen, args=(nudge, stop), daemon=True,
                                  name="linkguard-list-notifier")
        thread.start()

        def unsubscribe() -> None:
            stop.set()
            thread.join(5)

        return unsubscribe

    def _listen(self, nudge: Callable[[], None], stop: threading.Event) -> None:
        while not stop.is_set():
            # redis-py leaves pubsub() unannotated; it returns redis.client.PubSub.
            pubsub = self._client.pubsub(  # type: ignore[no-untyped-call]
                ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self._channel)
                while not stop.is_set():
                    if pubsub.get_message(timeout=0.5) is not None:
                        nudge()
            except redis.RedisError as error:
                log.info("list notifications paused (polling continues): %s", error)
                stop.wait(self._retry_s)
            finally:
                pubsub.close()


def get_json(cache: Cache, key: str) -> Any:
    """The JSON value under ``key``, or None (also for bytes that are not JSON)."""
    raw = cache.get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def set_json(cache: Cache, key: str, value: Any, ttl_s: float) -> None:
    cache.set(key, json.dumps(value, separators=(",", ":")).encode("utf-8"), ttl_s)
