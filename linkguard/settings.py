"""One settings object, read from ``LINKGUARD_*`` environment variables (and ``.env``).

Only ``bootstrap`` reads it; everything else receives plain values.
"""

from __future__ import annotations

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

    @field_validator("list_files", "brand_files", "org_domains", "disabled_checks",
                     "do_not_rewrite", "do_not_rewrite_files", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
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

    @field_validator("oidc_scopes", "accepted_domains", mode="before")
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
