"""Composition root: settings → files and adapters → the engine's inputs.

The only module that reads ``Settings``. Everything it builds is passed down as plain values.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from linkguard.adapters.catalog_files import load_catalog, load_confusables, read_text
from linkguard.adapters.mailcode import MailCodes, Mailer, OutboxMailer, SmtpMailer, SmtpSecurity
from linkguard.adapters.oidc import EmailVerifiedPolicy, OidcConfig, OidcRelyingParty
from linkguard.adapters.session import (
    PENDING_COOKIE,
    SESSION_COOKIE,
    CookieParams,
    SessionCodec,
    cookie_params,
)
from linkguard.core.catalog import Catalog, own_brand, parse_host_lines
from linkguard.core.checks import Check, default_checks
from linkguard.core.engine import evaluate
from linkguard.core.identity import IdentityPolicy, parse_alias_groups
from linkguard.core.listfile import ListFileError, Problem
from linkguard.core.model import OFFLINE, Decision, Facts, LinkContext
from linkguard.core.policy import Policy, PolicyError
from linkguard.core.tokens import KeyRing, TokenError, generate_key_spec, open_token
from linkguard.core.unwrap import OwnLinks, is_wrapped, unwrap
from linkguard.core.url import ParsedUrl, parse_url
from linkguard.ports import NonceStore, RateLimiter
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


def build_mail_codes(settings: Settings, *, limiter: RateLimiter,
                     nonces: NonceStore) -> MailCodes:
    """Mailed one-time codes over the shared rate limiter and nonce store."""
    return MailCodes(secret=load_session_secret(settings), mailer=build_mailer(settings),
                     limiter=limiter, nonces=nonces, sender=settings.mail_from)
