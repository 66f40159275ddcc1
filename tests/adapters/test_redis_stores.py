"""Rate limits and caches on Redis: shared across instances, degrading to local state."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from linkguard.adapters.redis_stores import (
    FallbackRateLimiter,
    RedisRateLimiter,
    TieredCache,
    get_json,
    make_redis,
    set_json,
)
from linkguard.ports import RateLimiter, StoreUnavailableError
from tests.adapters.conftest import RedisServer, free_port

RATE_LIMITERS = ["redis_rate_limiter", "memory_rate_limiter"]


@pytest.fixture(params=RATE_LIMITERS)
def limiter(request: pytest.FixtureRequest) -> RateLimiter:
    found: RateLimiter = request.getfixturevalue(request.param)
    return found


class TestRateLimiterContract:
    def test_limit_within_a_window(self, limiter: RateLimiter) -> None:
        results = [limiter.hit("ip:192.0.2.1", limit=3, window_s=10) for _ in range(5)]
        assert results[:3] == [None, None, None]
        for wait in results[3:]:
            assert wait is not None
            assert 0 < wait <= 10

    def test_keys_are_independent(self, limiter: RateLimiter) -> None:
        assert limiter.hit("a", limit=1, window_s=10) is None
        assert limiter.hit("a", limit=1, window_s=10) is not None
        assert limiter.hit("b", limit=1, window_s=10) is None

    def test_window_ends(self, limiter: RateLimiter) -> None:
        assert limiter.hit("k", limit=1, window_s=0.2) is None
        assert limiter.hit("k", limit=1, window_s=0.2) is not None
        time.sleep(0.3)
        assert limiter.hit("k", limit=1, window_s=0.2) is None

    def test_concurrent_hits_admit_exactly_the_limit(self, limiter: RateLimiter) -> None:
        start = threading.Barrier(10)

        def burst(_: int) -> list[float | None]:
            start.wait()
            return [limiter.hit("burst", limit=25, window_s=30) for _ in range(5)]

        with ThreadPoolExecutor(10) as pool:
            results = [r for rs in pool.map(burst, range(10)) for r in rs]
        assert results.count(None) == 25


class Counting:
    """A stand-in local limiter that admits everything and counts what reached it."""

    def __init__(self) -> None:
        self.calls = 0

    def hit(self, key: str, *, limit: int, window_s: float) -> float | None:
        del key, limit, window_s
        self.calls += 1
        return None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestFallbackRateLimiter:
    def test_redis_down_from_the_start(self) -> None:
        shared = RedisRateLimiter(make_redis(f"redis://127.0.0.1:{free_port()}/0",
                                             timeout_s=0.2))
        local, clock = Counting(), Clock()
        limiter = FallbackRateLimiter(shared, local, retry_s=5, clock=clock)
        for _ in range(3):
            assert limiter.hit("k", limit=1, window_s=10) is None
        assert local.calls == 3
        health = limiter.health()
        assert health.ok
        assert health.degraded
        assert "Redis unavailable" in health.detail

    def test_only_one_try_per_interval_while_down(self) -> None:
        attempts = 0

        class Down:
            def hit(self, key: str, *, limit: int, window_s: float) -> float | None:
                del key, limit, window_s
                nonlocal attempts
                attempts += 1
                raise StoreUnavailableError("down")

        clock = Clock()
        limiter = FallbackRateLimiter(Down(), Counting(), retry_s=5, clock=clock)
        for _ in range(10):
            limiter.hit("k", limit=1, window_s=10)
        assert attempts == 1
        clock.now += 5
        for _ in range(10):
            limiter.hit("k", limit=1, window_s=10)
        assert attempts == 2

    def test_degrades_and_recovers(self, redis_server: RedisServer) -> None:
        client = make_redis(redis_server.url, timeout_s=0.3)
        local, clock = Counting(), Clock()
        limiter = FallbackRateLimiter(RedisRateLimiter(client), local, retry_s=5, clock=clock)
        assert limiter.hit("k", limit=1, window_s=60) is None
        assert limiter.hit("k", limit=1, window_s=60) is not None  # shared counter says no
        assert not limiter.health().degraded

        redis_server.stop()
        assert limiter.hit("k", limit=1, window_s=60) is None  # local limiter answered
        assert local.calls == 1
        assert limiter.health().degraded

        redis_server.start()
        assert limiter.hit("k", limit=1, window_s=60) is None  # still within retry interval
        assert local.calls == 2
        clock.now += 5
        assert limiter.hit("k", limit=1, window_s=60) is None  # Redis again (a new, empty one)
        assert local.calls == 2
        assert not limiter.health().degraded
        assert limiter.hit("k", limit=1, window_s=60) is not None
        client.close()

    def test_an_idle_replica_sees_redis_return(self, redis_server: RedisServer) -> None:
        client = make_redis(redis_server.url, timeout_s=0.3)
        local, clock = Counting(), Clock()
        limiter = FallbackRateLimiter(RedisRateLimiter(client), local, retry_s=5, clock=clock)
        redis_server.stop()
        limiter.hit("k", limit=1, window_s=60)
        assert limiter.health().degraded
        redis_server.start()
        assert limiter.health().degraded  # within the retry interval: not asked yet
        clock.now += 5
        assert not limiter.health().degraded  # the probe asked Redis: no request needed
        assert local.calls == 1
        assert limiter.hit("k", limit=1, window_s=60) is None  # counted in Redis again
        assert local.calls == 1
        client.close()


class TestTieredCache:
    @pytest.fixture(params=["local", "redis"])
    def cache(self, request: pytest.FixtureRequest, redis_prefix: str,
              redis_session_client: redis.Redis) -> TieredCache:
        client = redis_session_client if request.param == "redis" else None
        return TieredCache(client, namespace="verdicts", prefix=redis_prefix)

    def test_get_set_delete(self, cache: TieredCache) -> None:
        assert cache.get("k") is None
        cache.set("k", b"\x00value", 60)
        assert cache.get("k") == b"\x00value"
        cache.delete("k")
        assert cache.get("k") is None
        assert cache.health().ok
        assert not cache.health().degraded

    def test_json(self, cache: TieredCache) -> None:
        set_json(cache, "j", {"verdict": "warn", "reasons": ["domain.young"]}, 60)
        assert get_json(cache, "j") == {"verdict": "warn", "reasons": ["domain.young"]}
        cache.set("raw", b"\xff not json", 60)
        assert get_json(cache, "raw") is None
        assert get_json(cache, "missing") is None

    def test_entries_expire(self, cache: TieredCache) -> None:
        cache.set("k", b"v", 0.2)
        time.sleep(0.3)
        assert cache.get("k") is None
        cache.set("zero", b"v", 0)
        assert cache.get("zero") is None

    def test_shared_between_instances(self, redis_session_client: redis.Redis,
                                      redis_prefix: str) -> None:
        one = TieredCache(redis_session_client, namespace="rdap", prefix=redis_prefix)
        two = TieredCache(redis_session_client, namespace="rdap", prefix=redis_prefix)
        other = TieredCache(redis_session_client, namespace="verdicts", prefix=redis_prefix)
        one.set("example.com", b"created 1995", 60)
        assert two.get("example.com") == b"created 1995"
        assert other.get("example.com") is None  # namespaces do not mix

    def test_local_copy_lives_at_most_local_ttl(self, redis_session_client: redis.Redis,
                                                redis_prefix: str) -> None:
        clock = Clock()
        one = TieredCache(redis_session_client, namespace="v", prefix=redis_prefix,
                          local_ttl_s=10, clock=clock)
        two = TieredCache(redis_session_client, namespace="v", prefix=redis_prefix)
        one.set("k", b"old", 600)
        two.set("k", b"new", 600)
        assert one.get("k") == b"old"  # its own local copy
        clock.now += 11
        assert one.get("k") == b"new"

    def test_redis_down_degrades_to_local(self) -> None:
        clock = Clock()
        cache = TieredCache(make_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2),
                            namespace="v", clock=clock)
        cache.set("k", b"v", 60)  # no exception
        assert cache.get("k") == b"v"
        assert cache.get("missing") is None
        cache.delete("k")
        assert cache.get("k") is None
        assert cache.health().degraded
        assert cache.health().ok

    def test_degrades_and_recovers(self, redis_server: RedisServer) -> None:
        clock = Clock()
        client = make_redis(redis_server.url, timeout_s=0.3)
        cache = TieredCache(client, namespace="v", local_ttl_s=1, retry_s=5, clock=clock)
        cache.set("k", b"v", 600)
        redis_server.stop()
        assert cache.get("k") == b"v"  # local copy still fresh
        clock.now += 2
        assert cache.get("k") is None  # local expired, Redis down: a miss, not an error
        assert cache.health().degraded
        redis_server.start()
        clock.now += 5
        cache.set("k2", b"w", 600)
        assert not cache.health().degraded
        direct = redis.Redis.from_url(redis_server.url)
        assert direct.get("linkguard:cache:v:k2") == b"w"
        direct.close()
        client.close()
