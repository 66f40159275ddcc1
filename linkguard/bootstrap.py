"""Composition root: settings → files and adapters → the engine's inputs.

The only module that reads ``Settings``. Everything it builds is passed down as plain values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from linkguard.adapters.catalog_files import load_catalog, load_confusables, read_text
from linkguard.core.catalog import Catalog, own_brand, parse_host_lines
from linkguard.core.checks import Check, default_checks
from linkguard.core.engine import evaluate
from linkguard.core.listfile import ListFileError, Problem
from linkguard.core.model import OFFLINE, Decision, Facts, LinkContext
from linkguard.core.policy import Policy, PolicyError
from linkguard.core.tokens import KeyRing, TokenError, generate_key_spec, open_token
from linkguard.core.unwrap import OwnLinks, is_wrapped, unwrap
from linkguard.core.url import ParsedUrl, parse_url
from linkguard.rewriter.sealer import TokenSealer
from linkguard.settings import Settings


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


def load_policy(path: Path | None) -> Policy:
    if path is None:
        return Policy()
    text = read_text(path)
    try:
        config: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ListFileError([Problem(str(path), 1, f"not valid YAML: {exc}")]) from None
    try:
        return Policy.from_config(config if isinstance(config, dict) else None)
    except PolicyError as exc:
        raise ListFileError([Problem(str(path), 1, str(exc))]) from None


def build_judge(settings: Settings | None = None) -> Judge:
    settings = settings or Settings()
    own = own_brand(settings.org_domains, settings.org_name)
    catalog = load_catalog(settings.shipped_lists_dir, list_files=settings.list_files,
                           brand_files=settings.brand_files, own=own)
    checks = default_checks(catalog, load_confusables(), frozenset(settings.disabled_checks))
    return Judge(catalog, checks, load_policy(settings.policy_file), own_links(settings))


def build_sealer(*, base_url: str | None, recipient: str | None, issued_at: int,
                 settings: Settings | None = None) -> TokenSealer:
    """The sealer for rewriting mail. Refuses to work without configured keys."""
    settings = settings or Settings()
    keys = load_keys(settings)
    if keys is None:
        raise ValueError("no link keys: set LINKGUARD_LINK_KEYS (see 'linkguard keys new'), "
                         "or LINKGUARD_DEV_MODE=true for a local key on this machine only")
    exempt = {h.lower().rstrip(".") for h in settings.do_not_rewrite}
    for path in settings.do_not_rewrite_files:
        exempt |= parse_host_lines(read_text(path), str(path))
    return TokenSealer(keys=keys, base_url=base_url or settings.base_url, issued_at=issued_at,
                       recipient=recipient, do_not_rewrite=frozenset(exempt))


DEV_KEY_FILE = "dev-link-keys"


def load_keys(settings: Settings) -> KeyRing | None:
    """The configured link keys; in dev mode without them, a key kept in the data directory.

    Placeholder or malformed keys raise KeyConfigError (a ValueError): refusing to start beats
    sealing links anyone could forge.
    """
    if settings.link_keys is not None:
        return KeyRing.parse(settings.link_keys.get_secret_value())
    if not settings.dev_mode:
        return None
    path = settings.data_dir / DEV_KEY_FILE
    if path.exists():
        return KeyRing.parse(path.read_text(encoding="utf-8").strip())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    spec = generate_key_spec("dev")
    # Created with 0600 before the key is written: the key never sits in a readable file.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(spec + "\n")
    return KeyRing.parse(spec)


def own_links(settings: Settings) -> OwnLinks:
    """Our own links: recognised by the base URL, opened when keys are configured."""
    base = settings.base_url.rstrip("/") + "/r/"
    keys = load_keys(settings) if settings.link_keys is not None or (
        settings.dev_mode and (settings.data_dir / DEV_KEY_FILE).exists()) else None
    if keys is None:
        return OwnLinks.from_bases([base])

    def opener(link: str) -> str | None:
        token = link[len(base):] if link.startswith(base) else link.rsplit("/", 1)[-1]
        claims = open_token(token.split("?", 1)[0].split("#", 1)[0], keys)
        return None if isinstance(claims, TokenError) else claims.url

    return OwnLinks.from_bases([base], opener)


# --- storage (SQL database, Redis) ----------------------------------------------------------
# The gateway's lifespan calls build_storage() once (one engine, one Redis client), passes the
# Storage to the store builders below and closes it at shutdown. Each builder also works
# without one (it then builds its own, for one-off commands). Nothing connects at import time;
# SQLAlchemy, Alembic and redis load only when a builder runs (+0.4 s), so commands that use
# no store stay fast.

if TYPE_CHECKING:
    from collections.abc import Callable

    from redis import Redis
    from sqlalchemy import Engine

    from linkguard.adapters.redis_stores import TieredCache
    from linkguard.adapters.sql import ListWatcher
    from linkguard.core.lists import ListEntry
    from linkguard.ports import (
        ApiKeyStore,
        AuditLog,
        ClickLog,
        Health,
        ListStore,
        NonceStore,
        RateLimiter,
    )


@dataclass(slots=True)
class Storage:
    """The shared connections: the SQL engine and, when configured, the Redis client."""

    engine: Engine
    redis: Redis | None = None

    def health(self) -> list[Health]:
        """For /readyz: the database must answer; Redis down is *degraded* (clicks go on with
        local limits and caches) but confirmations then fail closed, as the detail says."""
        from linkguard.adapters.sql import SqlClickLog  # noqa: PLC0415 - loaded on use
        from linkguard.ports import Health, StoreUnavailableError  # noqa: PLC0415 - loaded on use

        found: list[Health] = []
        try:
            SqlClickLog(self.engine).ping()
            found.append(Health("database", ok=True, extra={"backend": self.engine.dialect.name}))
        except StoreUnavailableError as exc:
            found.append(Health("database", ok=False, detail=str(exc)))
        if self.redis is not None:
            import redis as redis_lib  # noqa: PLC0415 - loaded on use

            try:
                self.redis.ping()
                found.append(Health("redis", ok=True))
            except redis_lib.RedisError as exc:
                found.append(Health("redis", ok=True, degraded=True,
                                    detail=f"Redis unavailable ({exc}): limits and caches are "
                                           "local, confirmations fail closed"))
        return found

    def close(self) -> None:
        self.engine.dispose()
        if self.redis is not None:
            self.redis.close()


def database_url(settings: Settings) -> str:
    from linkguard.adapters.sql import default_database_url  # noqa: PLC0415 - loaded on use

    if settings.database_url is None:
        return default_database_url(settings.data_dir)
    return settings.database_url.get_secret_value()


def build_engine(settings: Settings | None = None, *, upgrade: bool | None = None) -> Engine:
    """The SQL engine; with ``database_auto_upgrade`` (or ``upgrade=True``) the schema is
    brought to the newest revision first."""
    from linkguard.adapters.sql import ensure_schema, make_engine  # noqa: PLC0415 - loaded on use

    settings = settings or Settings()
    engine = make_engine(database_url(settings))
    if settings.database_auto_upgrade if upgrade is None else upgrade:
        ensure_schema(engine)
    return engine


def build_redis(settings: Settings) -> Redis | None:
    """The Redis client when LINKGUARD_REDIS_URL is set (connects lazily), else None."""
    from linkguard.adapters.redis_stores import make_redis  # noqa: PLC0415 - loaded on use

    if settings.redis_url is None:
        return None
    return make_redis(settings.redis_url.get_secret_value(), timeout_s=settings.redis_timeout_s)


def build_storage(settings: Settings | None = None) -> Storage:
    """The engine (schema migrated unless LINKGUARD_DATABASE_AUTO_UPGRADE=false) and Redis."""
    settings = settings or Settings()
    return Storage(build_engine(settings), build_redis(settings))


def build_click_log(settings: Settings, storage: Storage | None = None) -> ClickLog:
    from linkguard.adapters.sql import SqlClickLog  # noqa: PLC0415 - loaded on use

    return SqlClickLog((storage or build_storage(settings)).engine)


def build_nonce_store(settings: Settings, storage: Storage | None = None) -> NonceStore:
    """Redis when configured (shared by replicas), else the SQL database: a nonce must be
    usable once in the whole deployment, so never process memory when there are replicas."""
    from linkguard.adapters.redis_stores import RedisNonceStore  # noqa: PLC0415 - loaded on use
    from linkguard.adapters.sql import SqlNonceStore  # noqa: PLC0415 - loaded on use

    storage = storage or build_storage(settings)
    if storage.redis is not None:
        return RedisNonceStore(storage.redis, prefix=settings.redis_prefix)
    return SqlNonceStore(storage.engine)


def build_rate_limiter(settings: Settings, local: RateLimiter,
                       storage: Storage | None = None) -> RateLimiter:
    """``local`` (the in-process limiter) alone without Redis; with Redis, shared counters
    that fall back to ``local`` while Redis is down (its ``.health()`` says so)."""
    from linkguard.adapters.redis_stores import (  # noqa: PLC0415 - loaded on use
        FallbackRateLimiter,
        RedisRateLimiter,
    )

    redis = storage.redis if storage is not None else build_redis(settings)
    if redis is None:
        return local
    return FallbackRateLimiter(RedisRateLimiter(redis, prefix=settings.redis_prefix), local,
                               retry_s=settings.redis_retry_s)


def build_cache(settings: Settings, namespace: str,
                storage: Storage | None = None) -> TieredCache:
    """A verdict or RDAP cache ("verdicts", "rdap"): in-process, in front of Redis if set."""
    from linkguard.adapters.redis_stores import TieredCache  # noqa: PLC0415 - loaded on use

    redis = storage.redis if storage is not None else build_redis(settings)
    return TieredCache(redis, namespace=namespace, prefix=settings.redis_prefix,
                       local_size=settings.cache_local_size,
                       local_ttl_s=settings.cache_local_ttl_s, retry_s=settings.redis_retry_s)


def build_list_store(settings: Settings, storage: Storage | None = None) -> ListStore:
    """With Redis, every committed change is also published, so watchers reload at once."""
    from linkguard.adapters.redis_stores import RedisListNotifier  # noqa: PLC0415 - loaded on use
    from linkguard.adapters.sql import SqlListStore  # noqa: PLC0415 - loaded on use

    storage = storage or build_storage(settings)
    if storage.redis is None:
        return SqlListStore(storage.engine)
    notifier = RedisListNotifier(storage.redis, prefix=settings.redis_prefix,
                                 retry_s=settings.redis_retry_s)
    return SqlListStore(storage.engine, on_commit=notifier.publish)


def build_api_key_store(settings: Settings, storage: Storage | None = None) -> ApiKeyStore:
    from linkguard.adapters.sql import SqlApiKeyStore  # noqa: PLC0415 - loaded on use

    return SqlApiKeyStore((storage or build_storage(settings)).engine)


def build_audit_log(settings: Settings, storage: Storage | None = None) -> AuditLog:
    from linkguard.adapters.sql import SqlAuditLog  # noqa: PLC0415 - loaded on use

    return SqlAuditLog((storage or build_storage(settings)).engine)


def build_list_watcher(settings: Settings, store: ListStore,
                       on_change: Callable[[list[ListEntry]], None],
                       storage: Storage | None = None) -> ListWatcher:
    """Polls the list version every ``list_poll_s`` (and, with Redis, reloads at once on a
    published change); ``.start()`` in the lifespan (it loads once before returning),
    ``.stop()`` at shutdown, ``.health()`` for /readyz."""
    from linkguard.adapters.redis_stores import RedisListNotifier  # noqa: PLC0415 - loaded on use
    from linkguard.adapters.sql import ListWatcher  # noqa: PLC0415 - loaded on use

    redis = storage.redis if storage is not None else None
    subscribe = None if redis is None else RedisListNotifier(
        redis, prefix=settings.redis_prefix, retry_s=settings.redis_retry_s).subscribe
    return ListWatcher(store, on_change, poll_s=settings.list_poll_s, subscribe=subscribe)
