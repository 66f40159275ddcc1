"""NonceStore contract: a nonce is consumed once or not at all, across threads and backends."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from linkguard.adapters.redis_stores import RedisNonceStore, make_redis
from linkguard.adapters.sql import SqlNonceStore, make_engine
from linkguard.ports import NonceStore, StoreUnavailableError
from tests.adapters.conftest import RedisServer, free_port

# Factories of the implementations under contract (fixtures in conftest.py).
NONCE_STORES = ["sqlite_nonce_store", "postgres_nonce_store", "redis_nonce_store",
                "memory_nonce_store"]
CONTRACT = [*NONCE_STORES]


@pytest.fixture(params=CONTRACT)
def nonces(request: pytest.FixtureRequest) -> NonceStore:
    store: NonceStore = request.getfixturevalue(request.param)
    return store


def fresh() -> str:
    return uuid.uuid4().hex


class TestNonceStoreContract:
    def test_consumed_exactly_once(self, nonces: NonceStore) -> None:
        nonce = fresh()
        nonces.issue(nonce, "alice@example.org", 60)
        assert nonces.consume(nonce, "alice@example.org") is True
        assert nonces.consume(nonce, "alice@example.org") is False

    def test_unknown_nonce(self, nonces: NonceStore) -> None:
        assert nonces.consume(fresh(), "alice@example.org") is False

    def test_another_subject_cannot_use_or_burn_it(self, nonces: NonceStore) -> None:
        nonce = fresh()
        nonces.issue(nonce, "alice@example.org", 60)
        assert nonces.consume(nonce, "mallory@example.org") is False
        assert nonces.consume(nonce, "") is False
        assert nonces.consume(nonce, "alice@example.org") is True

    def test_expired(self, nonces: NonceStore) -> None:
        nonce = fresh()
        nonces.issue(nonce, "alice@example.org", 0.2)
        time.sleep(0.35)
        assert nonces.consume(nonce, "alice@example.org") is False

    def test_concurrent_consumers_exactly_one_wins(self, nonces: NonceStore) -> None:
        for _ in range(3):
            nonce = fresh()
            nonces.issue(nonce, "alice@example.org", 60)
            start = threading.Barrier(8)

            def attempt(nonce: str = nonce, start: threading.Barrier = start) -> bool:
                start.wait()
                return nonces.consume(nonce, "alice@example.org")

            with ThreadPoolExecutor(8) as pool:
                results = list(pool.map(lambda _: attempt(), range(8)))
            assert results.count(True) == 1

    def test_ping(self, nonces: NonceStore) -> None:
        nonces.ping()


class TestSharedNonceStores:
    """What the SQL and Redis stores add to the contract: a nonce cannot be issued twice
    (a second issue would otherwise hand someone else's confirmation to a new subject)."""

    @pytest.fixture(params=NONCE_STORES)
    def nonces(self, request: pytest.FixtureRequest) -> NonceStore:
        store: NonceStore = request.getfixturevalue(request.param)
        return store

    def test_issuing_twice_is_refused(self, nonces: NonceStore) -> None:
        nonce = fresh()
        nonces.issue(nonce, "alice@example.org", 60)
        with pytest.raises(ValueError, match="already issued"):
            nonces.issue(nonce, "mallory@example.org", 60)
        assert nonces.consume(nonce, "alice@example.org") is True

    @pytest.mark.parametrize(("nonce", "ttl"), [("", 60.0), ("n", 0.0), ("n", -1.0)])
    def test_bad_arguments(self, nonces: NonceStore, nonce: str, ttl: float) -> None:
        with pytest.raises(ValueError, match="nonce"):
            nonces.issue(nonce, "alice@example.org", ttl)


class TestFailClosed:
    """An unreachable store raises StoreUnavailableError: never a silent True."""

    def test_redis_on_a_closed_port(self) -> None:
        store = RedisNonceStore(make_redis(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2))
        for call in (lambda: store.consume("n", "s"), lambda: store.issue("n", "s", 60),
                     store.ping):
            with pytest.raises(StoreUnavailableError, match="Redis unavailable"):
                call()

    def test_redis_that_goes_away_and_comes_back(self, redis_server: RedisServer) -> None:
        store = RedisNonceStore(make_redis(redis_server.url, timeout_s=0.3))
        store.issue("n1", "alice", 60)
        redis_server.stop()  # the pooled connection is now dead
        with pytest.raises(StoreUnavailableError):
            store.consume("n1", "alice")
        redis_server.start()  # a new, empty Redis on the same port (it keeps nothing)
        assert store.consume("n1", "alice") is False
        store.issue("n2", "alice", 60)
        assert store.consume("n2", "alice") is True

    def test_postgres_on_a_closed_port(self) -> None:
        engine = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/none")
        store = SqlNonceStore(engine)
        with pytest.raises(StoreUnavailableError, match="database unavailable"):
            store.consume("n", "s")
        with pytest.raises(StoreUnavailableError):
            store.issue("n", "s", 60)
        with pytest.raises(StoreUnavailableError):
            store.ping()

    def test_redis_server_error_is_unavailable_too(self, redis_session_client: redis.Redis,
                                                   redis_prefix: str) -> None:
        # A key of the wrong type makes the script fail on the server: still fail closed.
        redis_session_client.rpush(redis_prefix + "nonce:odd", "x")
        store = RedisNonceStore(redis_session_client, prefix=redis_prefix)
        with pytest.raises(StoreUnavailableError):
            store.consume("odd", "alice")
