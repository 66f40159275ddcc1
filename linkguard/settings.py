"""One settings object, read from ``LINKGUARD_*`` environment variables (and ``.env``).

Only ``bootstrap`` reads it; everything else receives plain values.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_REPO_LISTS = Path(__file__).resolve().parent.parent / "allowlists"
_PACKAGED_LISTS = Path(__file__).resolve().parent / "data" / "allowlists"


def default_shipped_lists_dir() -> Path:
    """The shipped lists: the repository's ``allowlists/`` in a checkout, else the packaged copy."""
    return _REPO_LISTS if _REPO_LISTS.is_dir() else _PACKAGED_LISTS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINKGUARD_", env_file=".env", extra="ignore")

    shipped_lists_dir: Path = Field(default_factory=default_shipped_lists_dir)
    # Admin allow/block list files (YAML, the allowlists/README.md format), comma separated.
    list_files: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    # Extra brand files in the brands.yaml format.
    brand_files: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    # The organisation's own registrable domains, protected against lookalikes like a brand.
    org_domains: Annotated[list[str], NoDecode] = Field(default_factory=list)
    org_name: str = "our organisation"
    # YAML with {"weights": {code: n}, "thresholds": {"warn": n, "confirm": n, "block": n}}.
    policy_file: Path | None = None
    disabled_checks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Where rewritten links point: https://links.example.com/r/<token>.
    base_url: str = "http://127.0.0.1:8080"
    # Link-sealing keys, newest first: "k2:<base64url 32 bytes>,k1:<…>" (linkguard keys new).
    link_keys: SecretStr | None = None
    # Hosts (with their subdomains) whose links are never rewritten, comma separated, and
    # files of such hosts (one per line, '#' comments), for lists kept in git.
    do_not_rewrite: Annotated[list[str], NoDecode] = Field(default_factory=list)
    do_not_rewrite_files: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    # Local development only: without LINKGUARD_LINK_KEYS, generate a key and keep it in
    # data_dir (never for production: links die with the file).
    dev_mode: bool = False
    data_dir: Path = Path("var")

    # --- the gateway (click path, pages, verdict API)
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # Links sealed longer ago than this answer 410 (0: links never expire; they are judged anew
    # at every click either way).
    link_max_age_days: int = Field(default=0, ge=0)
    # How the click log keeps client addresses: full, truncate (/24, /48) or hash (keyed HMAC).
    client_ip_mode: Literal["full", "truncate", "hash"] = "truncate"
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's
    # forwarded_allow_ips): addresses or CIDRs, comma separated; "*" trusts every peer.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Who may read /metrics and /readyz (addresses or CIDRs; "*" everyone): the probes and
    # the scraper run inside the network, the people clicking links do not. Others get 404.
    ops_allow: Annotated[list[str], NoDecode] = Field(default_factory=lambda: [
        "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
        "100.64.0.0/10", "fc00::/7", "fe80::/10"])
    # Extra User-Agent substrings of mail scanners and link previews (added to the built-in list).
    scanner_agents: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Per-client request limits: "<count>/<seconds>".
    rate_limit_clicks: str = "120/60"
    rate_limit_api: str = "600/60"
    # Verdict API keys until the key store exists: "name:secret[:scope+scope]", comma separated;
    # the default scope is "verdict".
    api_keys: SecretStr | None = None
    verdict_cache_s: float = Field(default=30.0, ge=0)
    click_queue_size: int = Field(default=10_000, ge=1)
    click_batch_size: int = Field(default=500, ge=1)
    # Clicks older than this are deleted (recipients and client addresses are personal data);
    # 0 keeps them forever. Checked every click_prune_interval_s by each replica.
    click_retention_days: int = Field(default=180, ge=0)
    click_prune_interval_s: float = Field(default=3600.0, ge=1)
    # Branding of the pages people see.
    brand_logo_url: str | None = None
    brand_color: str = "#1f4e8c"
    support_contact: str = "your IT security team"
    support_url: str | None = None
    # --- storage (SQL database, Redis)
    # sqlite:///path/file.db (default: linkguard.db in data_dir) or postgresql://user@host/db.
    database_url: SecretStr | None = None
    # Upgrade the schema at start (replicas take turns under a PostgreSQL advisory lock).
    database_auto_upgrade: bool = True
    # redis://host:6379/0: shared nonces, rate limits and caches for several replicas.
    redis_url: SecretStr | None = None
    redis_timeout_s: float = Field(default=0.5, gt=0)  # per Redis command and connect
    redis_retry_s: float = Field(default=5.0, gt=0)  # while Redis is down: one try per interval
    redis_prefix: str = "linkguard:"  # key prefix, to share one Redis between deployments
    # How often each replica checks the list version (a change is live everywhere within this).
    list_poll_s: float = Field(default=5.0, gt=0)
    cache_local_size: int = Field(default=10_000, gt=0)  # entries per in-process cache
    cache_local_ttl_s: float = Field(default=60.0, gt=0)  # bound on staleness across replicas

    @field_validator("list_files", "brand_files", "org_domains", "disabled_checks",
                     "do_not_rewrite", "do_not_rewrite_files", "trusted_proxies",
                     "scanner_agents", "ops_allow", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    # --- facts from outside (RDAP, feeds, redirects)
    # Master switch. false: nothing is looked up outside the process (no RDAP, no redirect
    # fetches, no feeds): domain age is "not consulted" and silent, as in `check --offline`.
    facts_enabled: bool = True
    # Domain age over RDAP. The bootstrap file defaults to $data_dir/rdap/dns.json when
    # 'linkguard rdap update-bootstrap' has written one, else the partial snapshot shipped in
    # linkguard/data/rdap/ (a few common TLDs; others report domain.age_unknown).
    rdap_enabled: bool = True
    rdap_bootstrap_file: Path | None = None
    rdap_bootstrap_url: str = "https://data.iana.org/rdap/dns.json"
    # Total time a click waits for facts (redirects + RDAP); later answers still fill caches.
    rdap_budget_ms: int = Field(default=800, ge=0, le=30_000)
    rdap_timeout_s: float = Field(default=4.0, gt=0, le=60)  # one RDAP request, read timeout
    # `linkguard smtp-filter` and `linkguard milter` look up the domain age of every link they
    # seal, in the background, so clicks find it cached. It reaches the gateway through Redis
    # (LINKGUARD_REDIS_URL, the "rdap" cache); without Redis only the mail process would gain.
    # Off whenever facts or RDAP are off.
    prefetch_at_rewrite: bool = True
    # Reputation feeds, comma separated, kind:location (kinds: openphish, urlhaus, phishtank,
    # phishtank_tsv; location: a file path or an http(s) URL). Downloads go to $data_dir/feeds.
    feed_sources: Annotated[list[str], NoDecode] = Field(default_factory=list)
    feed_refresh_s: float = Field(default=3600.0, ge=0)  # 0: no background refresh
    # Follow known shorteners, decode open redirectors (allowlists/); judge the final URL.
    resolve_redirects: bool = True
    max_redirect_hops: int = Field(default=5, ge=1, le=20)

    @field_validator("feed_sources", mode="before")
    @classmethod
    def _split_feed_sources(cls, value: object) -> object:
        return cls._split_commas(value)

    # --- mail (SMTP filter and milter)
    # `linkguard smtp-filter` (Postfix content_filter): listens here, hands the rewritten mail
    # back to Postfix there (the amavis pattern), waiting at most mail_reinject_timeout seconds.
    mail_listen: str = "127.0.0.1:10025"
    mail_reinject: str = "127.0.0.1:10026"
    mail_reinject_timeout: float = 60.0
    # `linkguard milter` (Postfix smtpd_milters): a libmilter socket, inet:port@host or unix:path.
    milter_socket: str = "inet:10030@127.0.0.1"
    # Our domains, comma separated (subdomains included): mail to recipients there is rewritten.
    # Empty: every recipient counts as ours.
    mail_recipient_domains: Annotated[list[str], NoDecode] = Field(default_factory=list)
    mail_rewrite_outbound: bool = False  # recipients outside mail_recipient_domains too
    mail_rewrite_internal: bool = True  # from our domains to our domains
    # Seal each recipient's links with that recipient (the filter splits the message per
    # recipient; the milter binds only a message with a single rewritten recipient).
    mail_per_recipient: bool = True
    # Larger messages pass unchanged (X-LinkGuard: passthrough=mime.too_large).
    mail_max_bytes: int = 25 * 1024 * 1024
    # On SIGTERM, messages in flight get this many seconds to finish before the process exits.
    mail_shutdown_grace: float = 30.0

    @field_validator("mail_recipient_domains", mode="before")
    @classmethod
    def _split_mail_domains(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    # --- identity-bound confirmation (OIDC, mailed codes)
    # The organisation's OpenID Provider (discovery at <issuer>/.well-known/openid-configuration).
    # Without an issuer, confirmation falls back to codes mailed to the recipient.
    oidc_issuer: str | None = None
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["openid", "email"])
    oidc_email_claim: str = "email"  # e.g. "upn" or "preferred_username" at some IdPs
    oidc_groups_claim: str = "groups"
    # "require": email_verified must be true; "reject_false": only an explicit false is refused
    # (IdPs such as Entra ID omit the claim); "ignore".
    oidc_email_verified: Literal["require", "reject_false", "ignore"] = "require"
    oidc_timeout_s: float = 5.0
    # Domains whose addresses may confirm links, comma separated; empty = any domain.
    accepted_domains: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Addresses of one person, "alice@corp.example=a.smith@corp.example; bob@…=robert@…",
    # and/or a file with one such group per line ('#' comments).
    identity_aliases: str = ""
    identity_aliases_file: Path | None = None
    # "alice+news@" is "alice@" ("" where '+' belongs to distinct mailbox names).
    subaddress_separator: str = "+"
    # Links sealed without a recipient: any signed-in member of accepted_domains, or refuse.
    no_recipient_policy: Literal["org_member", "refuse"] = "refuse"
    # Signs session cookies, sign-in state and code challenges: 32+ random characters
    # (e.g. `python -c "import secrets; print(secrets.token_urlsafe(32))"`).
    session_secret: SecretStr | None = None
    session_lifetime_s: int = Field(default=900, ge=60, le=86400)
    # Mailed codes: "file" writes them to data_dir/outbox and sends nothing (local only).
    mailer: Literal["file", "smtp"] = "file"
    mail_from: str = "linkguard@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = 10.0

    # --- access requests (out-of-band approval of blocked links the policy lets admins
    # override; the policy file's access_requests section says which)
    # How long an approval opens the link, unless the admin gives another time.
    access_approval_hours: int = Field(default=72, ge=1, le=24 * 90)
    # Addresses told of each new request (through the mailer above), comma separated.
    access_notify: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # --- admin (API and page)
    # OIDC group (a value of oidc_groups_claim) whose members may use /admin; "": the page
    # takes admin API keys only (scopes admin:read, admin:write).
    admin_group: str = ""
    # How long an admin page sign-in lasts (the signed, SameSite=Strict session cookie).
    admin_session_lifetime_s: int = Field(default=3600, ge=60, le=86400)

    @field_validator("oidc_scopes", "accepted_domains", "access_notify", mode="before")
    @classmethod
    def _split_identity_lists(cls, value: object) -> object:
        if isinstance(value, str):  # scopes are space separated in OAuth, commas in our lists
            return [part for part in value.replace(",", " ").split() if part]
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_session_secret(self) -> Settings:
        if self.session_secret is not None and not self.dev_mode:
            problem = session_secret_problem(self.session_secret.get_secret_value())
            if problem:
                raise ValueError(f"LINKGUARD_SESSION_SECRET {problem}")
        return self

    @field_validator("ops_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            if item != "*":
                ipaddress.ip_network(item, strict=False)  # ValueError names the bad one
        return value

    @field_validator("brand_color")
    @classmethod
    def _css_color(cls, value: str) -> str:
        # Only #rgb / #rrggbb: the value is written into a style sheet.
        if not re.fullmatch(r"#(?:[0-9a-fA-F]{3}){1,2}", value):
            raise ValueError("brand_color must be #rgb or #rrggbb")
        return value

    @field_validator("rate_limit_clicks", "rate_limit_api")
    @classmethod
    def _rate(cls, value: str) -> str:
        parse_rate(value)
        return value


def parse_rate(text: str) -> tuple[int, float]:
    """``"120/60"`` → (120 requests, 60 seconds)."""
    count, sep, window = text.partition("/")
    try:
        result = int(count), float(window)
    except ValueError:
        result = (0, 0.0)
    if not sep or result[0] < 1 or result[1] <= 0:
        raise ValueError(f"rate limit {text!r} must be <count>/<seconds>, e.g. 120/60")
    return result


_PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "placeholder", "replaceme",
                      "example", "secret", "password", "insecure", "dummy", "xxxx")


def session_secret_problem(secret: str) -> str | None:
    """Why ``secret`` cannot sign sessions outside dev mode, or None when it can."""
    lowered = secret.lower()
    for word in _PLACEHOLDER_WORDS:
        if word in lowered:
            return f"is a placeholder ({word!r}); generate a random one"
    if len(secret) < 32:
        return "is shorter than 32 characters; generate a random one"
    if len(set(secret)) < 12:  # a pattern ("aaaa…", "abcabc…"), not randomness
        return "has too few distinct characters to be random"
    return None
