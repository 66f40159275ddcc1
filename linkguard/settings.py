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

    @field_validator("list_files", "brand_files", "org_domains", "disabled_checks",
                     "do_not_rewrite", "do_not_rewrite_files", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

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
