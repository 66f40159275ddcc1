"""Composition root: settings → files and adapters → the engine's inputs.

The only module that reads ``Settings``. Everything it builds is passed down as plain values.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from linkguard.mail import ContextFactory, MailPolicy
from linkguard.rewriter import RewriteContext
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


def build_mail(settings: Settings | None = None) -> MailSetup:
    """The mail policy and a rewrite context per copy. Raises ValueError without link keys."""
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
    return MailSetup(policy, contexts, settings.mail_listen, settings.mail_reinject,
                     settings.mail_reinject_timeout, settings.milter_socket,
                     settings.mail_shutdown_grace, max_bytes)
