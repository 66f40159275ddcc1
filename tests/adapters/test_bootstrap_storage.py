"""The storage builders the gateway uses: backends chosen by settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from linkguard import bootstrap
from linkguard.adapters.redis_stores import FallbackRateLimiter, RedisNonceStore, TieredCache
from linkguard.adapters.sql import SqlNonceStore
from linkguard.adapters.sql.migrate import current_revision, head_revision
from linkguard.core.lists import ListEntry
from linkguard.settings import Settings
from tests.adapters.conftest import REDIS_URL


class Local:
    def hit(self, key: str, *, limit: int, window_s: float) -> float | None:
        del key, limit, window_s
        return None


def test_embedded_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    engine = bootstrap.build_engine(settings)
    try:
        assert (tmp_path / "linkguard.db").exists()
        assert current_revision(engine) == head_revision()
        assert bootstrap.build_redis(settings) is None
        assert isinstance(bootstrap.build_nonce_store(settings, engine, None), SqlNonceStore)
        local = Local()
        assert bootstrap.build_rate_limiter(settings, None, local) is local
        cache = bootstrap.build_cache(settings, None, "verdicts")
        cache.set("k", b"v", 10)
        assert cache.get("k") == b"v"
        store = bootstrap.build_list_store(settings, engine, None)
        seen: list[list[ListEntry]] = []
        watcher = bootstrap.build_list_watcher(settings, store, seen.append)
        assert watcher.poll_once()
        assert seen == [[]]
        bootstrap.build_click_log(engine).ping()
        assert bootstrap.build_api_key_store(engine).list() == []
        assert bootstrap.build_audit_log(engine).recent() == []
    finally:
        engine.dispose()


def test_no_auto_upgrade(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_auto_upgrade=False)
    engine = bootstrap.build_engine(settings)
    assert current_revision(engine) is None
    engine.dispose()


def test_with_redis(tmp_path: Path, redis_session_client: object) -> None:
    del redis_session_client  # only here to skip when Redis is unreachable
    settings = Settings(data_dir=tmp_path, redis_url=SecretStr(REDIS_URL), redis_prefix="lgt:")
    client = bootstrap.build_redis(settings)
    assert client is not None
    try:
        engine = bootstrap.build_engine(settings, upgrade=False)
        assert isinstance(bootstrap.build_nonce_store(settings, engine, client),
                          RedisNonceStore)
        limiter = bootstrap.build_rate_limiter(settings, client, Local())
        assert isinstance(limiter, FallbackRateLimiter)
        assert isinstance(bootstrap.build_cache(settings, client, "rdap"), TieredCache)
        engine.dispose()
    finally:
        client.close()


def test_database_url_setting(tmp_path: Path) -> None:
    assert bootstrap.database_url(Settings(data_dir=tmp_path)) == \
        f"sqlite:///{tmp_path}/linkguard.db"
    settings = Settings(database_url=SecretStr("postgresql://u:secret@db/x"))
    assert bootstrap.database_url(settings) == "postgresql://u:secret@db/x"
    assert "secret" not in repr(settings)


@pytest.mark.parametrize("field", ["list_poll_s", "redis_timeout_s", "cache_local_size"])
def test_intervals_must_be_positive(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: 0})
