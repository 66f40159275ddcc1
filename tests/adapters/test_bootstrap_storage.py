"""The storage builders the gateway uses: backends chosen by settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from linkguard import bootstrap
from linkguard.adapters.redis_stores import FallbackRateLimiter, RedisNonceStore, TieredCache
from linkguard.adapters.sql import SqlListStore, SqlNonceStore
from linkguard.adapters.sql.migrate import current_revision, head_revision
from linkguard.core.lists import ListEntry
from linkguard.settings import Settings
from tests.adapters.conftest import REDIS_URL, RedisServer, free_port


class Local:
    def hit(self, key: str, *, limit: int, window_s: float) -> float | None:
        del key, limit, window_s
        return None


def test_embedded_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    storage = bootstrap.build_storage(settings)
    try:
        assert (tmp_path / "linkguard.db").exists()
        assert current_revision(storage.engine) == head_revision()
        assert storage.redis is None
        assert isinstance(bootstrap.build_nonce_store(settings, storage), SqlNonceStore)
        local = Local()
        assert bootstrap.build_rate_limiter(settings, local, storage) is local
        cache = bootstrap.build_cache(settings, "verdicts", storage)
        cache.set("k", b"v", 10)
        assert cache.get("k") == b"v"
        store = bootstrap.build_list_store(settings, storage)
        seen: list[list[ListEntry]] = []
        watcher = bootstrap.build_list_watcher(settings, store, seen.append, storage)
        assert watcher.poll_once()
        assert seen == [[]]
        bootstrap.build_click_log(settings, storage).ping()
        assert bootstrap.build_api_key_store(settings, storage).list() == []
        assert bootstrap.build_audit_log(settings, storage).recent() == []
        (database,) = storage.health()
        assert (database.name, database.ok, database.extra) == (
            "database", True, {"backend": "sqlite"})
    finally:
        storage.close()


def test_builders_work_without_a_shared_storage(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert isinstance(bootstrap.build_list_store(settings), SqlListStore)
    assert bootstrap.build_rate_limiter(settings, local := Local()) is local


def test_no_auto_upgrade(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_auto_upgrade=False)
    engine = bootstrap.build_engine(settings)
    assert current_revision(engine) is None
    engine.dispose()


def test_with_redis(tmp_path: Path, redis_session_client: object) -> None:
    del redis_session_client  # only here to skip when Redis is unreachable
    settings = Settings(data_dir=tmp_path, redis_url=SecretStr(REDIS_URL), redis_prefix="lgt:")
    storage = bootstrap.build_storage(settings)
    try:
        assert storage.redis is not None
        assert isinstance(bootstrap.build_nonce_store(settings, storage), RedisNonceStore)
        limiter = bootstrap.build_rate_limiter(settings, Local(), storage)
        assert isinstance(limiter, FallbackRateLimiter)
        assert isinstance(bootstrap.build_cache(settings, "rdap", storage), TieredCache)
        assert [h.name for h in storage.health() if h.ok and not h.degraded] == [
            "database", "redis"]
    finally:
        storage.close()


def test_health_when_redis_is_down(tmp_path: Path, redis_server: RedisServer) -> None:
    settings = Settings(data_dir=tmp_path, redis_url=SecretStr(redis_server.url))
    storage = bootstrap.build_storage(settings)
    try:
        redis_server.stop()
        redis = {h.name: h for h in storage.health()}["redis"]
        assert redis.ok
        assert redis.degraded
        assert "confirmations fail closed" in redis.detail
    finally:
        storage.close()


def test_health_when_the_database_is_down(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_auto_upgrade=False, database_url=SecretStr(
        f"postgresql://postgres@127.0.0.1:{free_port()}/none"))
    storage = bootstrap.build_storage(settings)
    try:
        (database,) = storage.health()
        assert not database.ok
        assert "database unavailable" in database.detail
    finally:
        storage.close()


def test_database_url_setting(tmp_path: Path) -> None:
    assert bootstrap.database_url(Settings(data_dir=tmp_path)) == \
        f"sqlite:///{tmp_path}/linkguard.db"
    settings = Settings(database_url=SecretStr("postgresql://u:pw-9f3k@db/x"))
    assert bootstrap.database_url(settings) == "postgresql://u:pw-9f3k@db/x"
    assert "pw-9f3k" not in repr(settings)


@pytest.mark.parametrize("field", ["list_poll_s", "redis_timeout_s", "cache_local_size"])
def test_intervals_must_be_positive(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: 0})
