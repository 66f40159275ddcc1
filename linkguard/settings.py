"""One settings object, read from ``LINKGUARD_*`` environment variables (and ``.env``).

Only ``bootstrap`` reads it; everything else receives plain values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
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
                     "do_not_rewrite", "do_not_rewrite_files", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
