"""Composition root: settings → files and adapters → the engine's inputs.

The only module that reads ``Settings``. Everything it builds is passed down as plain values.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import yaml
from fastapi import FastAPI

from linkguard.adapters.catalog_files import load_catalog, load_confusables, read_text
from linkguard.adapters.facts import NetworkFacts, RewritePrefetch
from linkguard.adapters.feeds import FeedStore, parse_feed_sources, start_refresh_task
from linkguard.adapters.mailcode import MailCodes, Mailer, OutboxMailer, SmtpMailer, SmtpSecurity
from linkguard.adapters.memory import (
    MemoryRateLimiter,
)
from linkguard.adapters.notify import AccessNotifier
from linkguard.adapters.oidc import EmailVerifiedPolicy, OidcConfig, OidcRelyingParty
from linkguard.adapters.rdap import DEFAULT_BOOTSTRAP_FILE, RdapBootstrap, RdapClient, RdapTimeouts
from linkguard.adapters.resolver import RedirectResolver
from linkguard.adapters.session import (
    PENDING_COOKIE,
    SESSION_COOKIE,
    CookieParams,
    SessionCodec,
    SignedValues,
    cookie_params,
)
from linkguard.core.catalog import Catalog, own_brand, parse_host_lines
from linkguard.core.checks import default_checks
from linkguard.core.clients import DEFAULT_SCANNER_AGENTS, ScannerAgents
from linkguard.core.identity import IdentityPolicy, parse_alias_groups
from linkguard.core.listfile import ListFileError, Problem
from linkguard.core.policy import Policy, PolicyError
from linkguard.core.redirects import OpenRedirects, parse_open_redirect_lines
from linkguard.core.tokens import KeyRing, TokenError, generate_key_spec, open_token
from linkguard.core.unwrap import OwnLinks
from linkguard.mail import ContextFactory, MailPolicy, Prefetch
from linkguard.ports import ClickLog, NonceStore, RateLimiter
from linkguard.rewriter import RewriteContext
from linkguard.rewriter.sealer import TokenSealer
from linkguard.service import ApiKeyRing, ClickRecorder, ClickRetention, Gateway, Judge
from linkguard.settings import Settings, parse_rate
from linkguard.web import AppState, Branding, create_app
from linkguard.web.state import AdminParts, IdentityParts


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


# --- the gateway ---------------------------------------------------------------------------


def build_state(settings: Settings | None = None) -> AppState:
    """Settings → the gateway's parts: judge, keys, stores, branding.

    The embedded default keeps the click log, nonces and list entries in SQLite in the data
    directory; LINKGUARD_DATABASE_URL points them at PostgreSQL and LINKGUARD_REDIS_URL shares
    nonces and rate limits between replicas.
    """
    settings = settings or Settings()
    keys = load_keys(settings)
    if keys is None:
        raise ValueError("no link keys: set LINKGUARD_LINK_KEYS (see 'linkguard keys new'), "
                         "or LINKGUARD_DEV_MODE=true for a local key on this machine only")
    storage = build_storage(settings)
    judge = build_judge(settings)
    facts = build_facts(settings, catalog=judge.catalog, storage=storage) \
        if settings.facts_enabled else None
    gateway = Gateway(judge, keys, facts=facts,
                      facts_budget_s=facts.budget_s if facts else 0.0,
                      max_link_age_s=settings.link_max_age_days * 86_400,
                      cache_ttl_s=settings.verdict_cache_s)
    recorder = ClickRecorder(build_click_log(settings, storage),
                             max_queue=settings.click_queue_size,
                             batch_size=settings.click_batch_size)
    api_keys = ApiKeyRing.parse(settings.api_keys.get_secret_value()) \
        if settings.api_keys else ApiKeyRing()
    limiter = build_rate_limiter(settings, MemoryRateLimiter(), storage)
    state = AppState(
        gateway=gateway, recorder=recorder, limiter=limiter,
        nonces=build_nonce_store(settings, storage), api_keys=api_keys,
        base_url=settings.base_url,
        branding=Branding(org_name=settings.org_name, logo_url=settings.brand_logo_url,
                          color=settings.brand_color, support_contact=settings.support_contact,
                          support_url=settings.support_url),
        csrf_secret=keys.derive("csrf"), ip_secret=keys.derive("client-ip"),
        ip_mode=settings.client_ip_mode,
        scanner_agents=ScannerAgents((*DEFAULT_SCANNER_AGENTS, *settings.scanner_agents)),
        click_rate=parse_rate(settings.rate_limit_clicks),
        ops_allow=None if "*" in settings.ops_allow else tuple(
            ipaddress.ip_network(n, strict=False) for n in settings.ops_allow),
        api_rate=parse_rate(settings.rate_limit_api),
    )
    state.on_stop.append(storage.close)  # first in, last out: after everything using it
    if settings.click_retention_days:
        retention = ClickRetention(recorder.store, days=settings.click_retention_days,
                                   interval_s=settings.click_prune_interval_s)
        state.on_start.append(retention.start)
        state.on_stop.append(retention.stop)
    state.probes.append(storage.health)
    limiter_health = getattr(limiter, "health", None)
    if callable(limiter_health):
        state.probes.append(limiter_health)
    # Admin list entries in the database (synced from git, or made through the API) reach the
    # click path through memory: the watcher reloads them when their version changes.
    list_store = build_list_store(settings, storage)
    watcher = build_list_watcher(
        settings, list_store,
        lambda entries: gateway.replace_judge(judge.with_entries(entries)), storage)
    state.on_start.append(watcher.start)
    state.probes.append(watcher.health)
    state.on_stop.append(watcher.stop)
    _add_identity(state, settings, storage)
    _add_admin(state, settings, storage, list_store, watcher)
    if facts is not None:
        _run_facts_beside_app(state, facts, settings.feed_refresh_s)
    return state


def _run_facts_beside_app(state: AppState, facts: NetworkFacts, refresh_s: float) -> None:
    tasks: list[asyncio.Task[None]] = []
    feeds = facts.feeds
    if feeds is not None and refresh_s:
        state.on_start.append(lambda: tasks.append(start_refresh_task(feeds, refresh_s)))

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await facts.aclose()

    state.on_stop.append(stop)


def build_app(settings: Settings | None = None) -> FastAPI:
    """The ASGI app for uvicorn (``linkguard serve``; ``uvicorn --factory
    linkguard.bootstrap:build_app``)."""
    return create_app(build_state(settings))


# --- facts from outside (RDAP, feeds, redirects) ------------------------------------------


def build_facts(settings: Settings | None = None, *, catalog: Catalog | None = None,
                storage: Storage | None = None) -> NetworkFacts:
    """The facts source for the click path (``linkguard.ports.FactsSource``).

    Pass the judge's catalog to avoid reading the lists twice, and the gateway's storage to
    reuse its Redis client for the shared RDAP cache. Nothing connects here: RDAP and
    redirect clients open connections on first use; feeds load from files and the download
    cache (call ``facts.feeds.refresh()`` or :func:`linkguard.adapters.feeds.start_refresh_task`
    to download). With ``LINKGUARD_FACTS_ENABLED=false`` every part is off and every click gets
    "not consulted" facts.
    """
    settings = settings or Settings()
    budget_s = settings.rdap_budget_ms / 1000
    if not settings.facts_enabled:
        return NetworkFacts(budget_s=budget_s)
    if catalog is None:
        catalog = load_catalog(settings.shipped_lists_dir, list_files=settings.list_files,
                               brand_files=settings.brand_files)
    rdap = build_rdap(settings, storage) if settings.rdap_enabled else None
    resolver = None
    if settings.resolve_redirects:
        path = settings.shipped_lists_dir / "open_redirects.txt"
        rules = parse_open_redirect_lines(read_text(path), str(path)) if path.exists() else []
        resolver = RedirectResolver(shorteners=catalog.shorteners,
                                    open_redirects=OpenRedirects.build(rules),
                                    max_hops=settings.max_redirect_hops)
    feeds = None
    if settings.feed_sources:
        shared = shared_hosts(catalog)
        feeds = FeedStore(parse_feed_sources(settings.feed_sources),
                          cache_dir=settings.data_dir / "feeds",
                          shared_host=lambda host: _under_any(host, shared))
        feeds.load_local()
    return NetworkFacts(rdap=rdap, feeds=feeds, resolver=resolver, budget_s=budget_s)


def build_rdap(settings: Settings, storage: Storage | None = None) -> RdapClient:
    """The RDAP client; with LINKGUARD_REDIS_URL its answers are shared through the "rdap"
    cache, so the mail filter's prefetch and every gateway replica profit from one lookup."""
    bootstrap = RdapBootstrap.load(rdap_bootstrap_path(settings))
    redis = storage.redis if storage is not None else None
    shared = build_cache(settings, "rdap", storage) \
        if redis is not None or (storage is None and settings.redis_url is not None) else None
    return RdapClient(bootstrap, limits=RdapTimeouts(read_s=settings.rdap_timeout_s),
                      shared=shared)


def build_prefetch(settings: Settings) -> RewritePrefetch | None:
    """What the mail filter and the milter call with the links they sealed (domain age over
    RDAP only: feeds are local to the gateway, and redirects are followed at click time).
    None when LINKGUARD_PREFETCH_AT_REWRITE, LINKGUARD_FACTS_ENABLED or
    LINKGUARD_RDAP_ENABLED is false."""
    if not (settings.prefetch_at_rewrite and settings.facts_enabled and settings.rdap_enabled):
        return None
    facts = NetworkFacts(rdap=build_rdap(settings), budget_s=settings.rdap_budget_ms / 1000)
    return RewritePrefetch(facts)


def rdap_bootstrap_path(settings: Settings) -> Path:
    """The configured bootstrap file, else the one 'rdap update-bootstrap' wrote, else the
    shipped snapshot."""
    if settings.rdap_bootstrap_file is not None:
        return settings.rdap_bootstrap_file
    installed = settings.data_dir / "rdap" / "dns.json"
    return installed if installed.exists() else DEFAULT_BOOTSTRAP_FILE


def shared_hosts(catalog: Catalog) -> frozenset[str]:
    """Hosts where many people publish: a feed never lists one of them whole."""
    hosts = {platform.host for platform in catalog.platforms} | set(catalog.shorteners)
    for brand in catalog.brands:
        hosts.update(brand.domains)
    return frozenset(hosts)


def _under_any(host: str, names: frozenset[str]) -> bool:
    name = host
    while name:
        if name in names:
            return True
        _, _, name = name.partition(".")
    return False
# --- mail (SMTP filter and milter)


@dataclass(frozen=True, slots=True)
class MailSetup:
    """What `linkguard smtp-filter` and `linkguard milter` run with."""

    policy: MailPolicy
    contexts: ContextFactory
    listen: str
    reinject: str
    reinject_timeout: float
    milter_socket: str
    shutdown_grace: float
    max_bytes: int
    prefetch: Prefetch | None = None  # called with the links sealed in each accepted message
    close: Callable[[], None] | None = None  # at exit: stops the prefetch's background loop


def build_mail(settings: Settings | None = None) -> MailSetup:
    """The mail policy, a rewrite context per copy and the prefetch of sealed links' facts.
    Raises ValueError without link keys (or with an unreadable RDAP bootstrap file)."""
    settings = settings or Settings()
    base = build_sealer(base_url=None, recipient=None, issued_at=0, settings=settings)
    max_bytes = settings.mail_max_bytes

    def contexts(recipient: str | None, message_id: str | None) -> RewriteContext:
        sealer = replace(base, recipient=recipient, message_id=message_id,
                         issued_at=int(time.time()))
        return RewriteContext(sealer=sealer, is_sealed=sealer.is_sealed, max_bytes=max_bytes)

    domains = frozenset(d.strip().lower().rstrip(".") for d in settings.mail_recipient_domains)
    policy = MailPolicy(domains=domains, outbound=settings.mail_rewrite_outbound,
                        internal=settings.mail_rewrite_internal,
                        per_recipient=settings.mail_per_recipient)
    prefetch = build_prefetch(settings)
    return MailSetup(policy, contexts, settings.mail_listen, settings.mail_reinject,
                     settings.mail_reinject_timeout, settings.milter_socket,
                     settings.mail_shutdown_grace, max_bytes, prefetch,
                     prefetch.close if prefetch is not None else None)
# --- identity-bound confirmation (OIDC, mailed codes) ---------------------------------------
# Builders for the confirm flow's parts; the web layer holds them for the process's life
# (``OidcRelyingParty.aclose`` at shutdown).

DEV_SESSION_SECRET_FILE = "dev-session-secret"  # noqa: S105 - a file name, not a secret


def load_session_secret(settings: Settings) -> str:
    """The configured session secret; in dev mode without one, a secret kept in data_dir.

    Outside dev mode a missing secret is a ValueError (placeholders are refused by Settings).
    """
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    if not settings.dev_mode:
        raise ValueError("no session secret: set LINKGUARD_SESSION_SECRET to 32+ random "
                         "characters, or LINKGUARD_DEV_MODE=true for a local one")
    path = settings.data_dir / DEV_SESSION_SECRET_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    # Created with 0600 before the secret is written, like the dev link key.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret


def build_identity_policy(settings: Settings) -> IdentityPolicy:
    """Accepted domains, aliases (inline and file) and the no-recipient policy."""
    separator = settings.subaddress_separator
    text = settings.identity_aliases.replace(";", "\n")
    if settings.identity_aliases_file is not None:
        text += "\n" + read_text(settings.identity_aliases_file)
    source = str(settings.identity_aliases_file or "LINKGUARD_IDENTITY_ALIASES")
    aliases = parse_alias_groups(text, source, separator=separator)
    return IdentityPolicy.build(accepted_domains=settings.accepted_domains, aliases=aliases,
                                no_recipient=settings.no_recipient_policy,
                                subaddress_separator=separator)


def build_session_codec(settings: Settings) -> SessionCodec:
    return SessionCodec(load_session_secret(settings), lifetime_s=settings.session_lifetime_s)


def session_cookie_params(settings: Settings) -> CookieParams:
    return cookie_params(settings.base_url, name=SESSION_COOKIE,
                         max_age_s=settings.session_lifetime_s)


def pending_cookie_params(settings: Settings) -> CookieParams:
    """The cookie that carries a started sign-in (or a mailed-code challenge) to its end."""
    return cookie_params(settings.base_url, name=PENDING_COOKIE, max_age_s=600)


def build_oidc(settings: Settings, *,
               transport: httpx.AsyncBaseTransport | None = None) -> OidcRelyingParty | None:
    """The relying party for the configured IdP; None when no issuer is configured."""
    if not settings.oidc_issuer:
        return None
    if not settings.oidc_client_id or settings.oidc_client_secret is None:
        raise ValueError("LINKGUARD_OIDC_ISSUER needs LINKGUARD_OIDC_CLIENT_ID and "
                         "LINKGUARD_OIDC_CLIENT_SECRET")
    config = OidcConfig(
        issuer=settings.oidc_issuer, client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value(),
        scopes=tuple(settings.oidc_scopes), email_claim=settings.oidc_email_claim,
        groups_claim=settings.oidc_groups_claim,
        email_verified=EmailVerifiedPolicy(settings.oidc_email_verified),
        timeout_s=settings.oidc_timeout_s)
    return OidcRelyingParty(config, secret=load_session_secret(settings), transport=transport)


def build_mailer(settings: Settings) -> Mailer:
    if settings.mailer == "smtp":
        return SmtpMailer(settings.smtp_host, settings.smtp_port,
                          security=SmtpSecurity(settings.smtp_security),
                          username=settings.smtp_username,
                          password=settings.smtp_password.get_secret_value()
                          if settings.smtp_password else None,
                          timeout_s=settings.smtp_timeout_s)
    return OutboxMailer(settings.data_dir / "outbox")


def build_access_requests(settings: Settings,
                          storage: Storage | None = None) -> AccessRequestStore:
    from linkguard.adapters.sql import SqlAccessRequests  # noqa: PLC0415 - loaded on use

    return SqlAccessRequests((storage or build_storage(settings)).engine)


def build_access_notifier(settings: Settings) -> AccessNotifier | None:
    """Mail to LINKGUARD_ACCESS_NOTIFY for each new access request; None when unset."""
    if not settings.access_notify:
        return None
    return AccessNotifier(build_mailer(settings), sender=settings.mail_from,
                          recipients=settings.access_notify,
                          admin_url=settings.base_url.rstrip("/") + "/admin/access",
                          org_name=settings.org_name)


def build_mail_codes(settings: Settings, *, limiter: RateLimiter,
                     nonces: NonceStore) -> MailCodes:
    """Mailed one-time codes over the shared rate limiter and nonce store."""
    return MailCodes(secret=load_session_secret(settings), mailer=build_mailer(settings),
                     limiter=limiter, nonces=nonces, sender=settings.mail_from)
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
        AccessRequestStore,
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


# --- identity-bound confirmation: the gateway's parts ---------------------------------------


def build_identity(settings: Settings, *, limiter: RateLimiter,
                   nonces: NonceStore) -> IdentityParts | None:
    """Sign-in for confirm links: OIDC when an issuer is configured, else codes mailed to the
    recipient. None without a session secret outside dev mode (confirm links then explain
    that confirmation is not set up)."""
    if not settings.oidc_issuer and settings.session_secret is None and not settings.dev_mode:
        return None
    oidc = build_oidc(settings)
    codes = None if oidc else build_mail_codes(settings, limiter=limiter, nonces=nonces)
    return IdentityParts(
        policy=build_identity_policy(settings), sessions=build_session_codec(settings),
        session_cookie=session_cookie_params(settings),
        pending_cookie=pending_cookie_params(settings), oidc=oidc, codes=codes,
        codes_local_only=codes is not None and settings.mailer == "file")


def _add_identity(state: AppState, settings: Settings, storage: Storage) -> None:
    state.identity = build_identity(settings, limiter=state.limiter, nonces=state.nonces)
    state.audit = build_audit_log(settings, storage)
    # Access requests need to know who asks: without sign-in, blocked links offer none.
    if state.identity is not None:
        state.access = build_access_requests(settings, storage)
        state.approval_hours = settings.access_approval_hours
        state.notify_access = build_access_notifier(settings)
    oidc = state.identity.oidc if state.identity else None
    if isinstance(oidc, OidcRelyingParty):
        state.on_stop.append(oidc.aclose)
# --- admin (API and page) ------------------------------------------------------------------
# The admin API works on the stores; the admin page also needs a signing secret for its
# session cookie (the session secret: configured, or dev mode's local one).

ADMIN_COOKIE = "linkguard_admin"


def build_admin_parts(settings: Settings) -> AdminParts | None:
    """The admin page's sign-in; None without a session secret outside dev mode."""
    if settings.session_secret is None and not settings.dev_mode:
        return None
    lifetime = settings.admin_session_lifetime_s
    cookie = cookie_params(settings.base_url, name=ADMIN_COOKIE, max_age_s=lifetime)
    # Strict: no request from another site (a link in a mail included) carries the session.
    return AdminParts(
        sessions=SignedValues(load_session_secret(settings), purpose="admin-session",
                              max_age_s=lifetime),
        cookie=replace(cookie, samesite="strict"), group=settings.admin_group,
        lifetime_s=lifetime)


def _add_admin(state: AppState, settings: Settings, storage: Storage,
               list_store: ListStore, watcher: ListWatcher) -> None:
    state.list_store = list_store
    state.api_key_store = build_api_key_store(settings, storage)
    state.reload_lists = watcher.poll_once
    state.admin = build_admin_parts(settings)
