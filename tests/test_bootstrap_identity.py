"""Settings → the confirm flow's parts: secrets, identity policy, IdP client, mailer."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from linkguard.adapters.mailcode import OutboxMailer, SmtpMailer, SmtpSecurity
from linkguard.bootstrap import (
    DEV_SESSION_SECRET_FILE,
    build_identity_policy,
    build_mail_codes,
    build_mailer,
    build_oidc,
    build_session_codec,
    load_session_secret,
    pending_cookie_params,
    session_cookie_params,
)
from linkguard.core.identity import BindingOutcome, Identity, NoRecipientPolicy, bind
from linkguard.settings import Settings
from tests.support.memory_ports import DictNonces, FixedWindowLimiter

GOOD_SECRET = "kQ8vN2xR7mT4pL9sW3yZ6bC1dF5gH0jA"  # noqa: S105 - test only


@pytest.mark.parametrize("secret", [
    "changeme-changeme-changeme-changeme", "short", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "this-is-my-example-session-key-0123456789", "my-secret-key-that-is-long-enough-123",
])
def test_placeholder_session_secrets_are_refused_outside_dev_mode(secret: str) -> None:
    with pytest.raises(ValidationError, match="LINKGUARD_SESSION_SECRET"):
        Settings(session_secret=SecretStr(secret))
    assert Settings(session_secret=SecretStr(secret), dev_mode=True).session_secret


def test_session_secret_is_required_outside_dev_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LINKGUARD_SESSION_SECRET"):
        load_session_secret(Settings(data_dir=tmp_path))
    assert load_session_secret(Settings(session_secret=SecretStr(GOOD_SECRET))) == GOOD_SECRET


def test_dev_mode_keeps_a_private_session_secret(tmp_path: Path) -> None:
    settings = Settings(dev_mode=True, data_dir=tmp_path)
    first = load_session_secret(settings)
    assert len(first) >= 32
    assert load_session_secret(settings) == first
    mode = (tmp_path / DEV_SESSION_SECRET_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_identity_policy_from_settings(tmp_path: Path) -> None:
    aliases = tmp_path / "aliases.txt"
    aliases.write_text("bob@corp.example = robert@corp.example\n", encoding="utf-8")
    policy = build_identity_policy(Settings(
        accepted_domains="corp.example, corp-mail.example",  # type: ignore[arg-type]
        identity_aliases="alice@corp.example=a.smith@corp.example",
        identity_aliases_file=aliases, no_recipient_policy="org_member"))
    assert policy.accepted_domains == {"corp.example", "corp-mail.example"}
    assert policy.no_recipient is NoRecipientPolicy.ORG_MEMBER
    assert bind("a.smith@corp.example", "alice@corp.example", policy).outcome is (
        BindingOutcome.MATCH)
    assert bind("robert@corp.example", "bob+x@corp.example", policy).outcome is (
        BindingOutcome.MATCH)


def test_oidc_is_optional_but_complete_when_configured() -> None:
    settings = Settings(session_secret=SecretStr(GOOD_SECRET))
    assert build_oidc(settings) is None
    with pytest.raises(ValueError, match="CLIENT_ID"):
        build_oidc(Settings(session_secret=SecretStr(GOOD_SECRET),
                            oidc_issuer="https://idp.corp.example"))
    with pytest.raises(ValueError, match="https"):
        build_oidc(Settings(session_secret=SecretStr(GOOD_SECRET),
                            oidc_issuer="http://idp.corp.example", oidc_client_id="x",
                            oidc_client_secret=SecretStr("y")))
    rp = build_oidc(Settings(session_secret=SecretStr(GOOD_SECRET),
                             oidc_issuer="https://idp.corp.example", oidc_client_id="gw",
                             oidc_client_secret=SecretStr("s"),
                             oidc_scopes="openid email groups",  # type: ignore[arg-type]
                             oidc_email_verified="reject_false"))
    assert rp is not None
    assert rp.config.scopes == ("openid", "email", "groups")
    assert rp.config.email_verified == "reject_false"


def test_mailer_kinds(tmp_path: Path) -> None:
    outbox = build_mailer(Settings(data_dir=tmp_path))
    assert isinstance(outbox, OutboxMailer)
    assert outbox.outbox == tmp_path / "outbox"
    smtp = build_mailer(Settings(mailer="smtp", smtp_host="relay.corp.example", smtp_port=465,
                                 smtp_security="tls", smtp_username="gw",
                                 smtp_password=SecretStr("pw")))
    assert isinstance(smtp, SmtpMailer)
    assert (smtp.host, smtp.port, smtp.security, smtp.password) == (
        "relay.corp.example", 465, SmtpSecurity.TLS, "pw")


def test_session_and_codes_share_the_secret_but_not_their_values(tmp_path: Path) -> None:
    settings = Settings(session_secret=SecretStr(GOOD_SECRET), data_dir=tmp_path,
                        base_url="https://links.corp.example")
    codec = build_session_codec(settings)
    value = codec.dumps(Identity("alice", "alice@corp.example"))
    assert codec.loads(value) == Identity("alice", "alice@corp.example")
    codes = build_mail_codes(settings, limiter=FixedWindowLimiter(), nonces=DictNonces())
    assert codes.verify(value, "123456", client_ip="192.0.2.1").code == "invalid"  # type: ignore[union-attr]
    assert session_cookie_params(settings).key == "__Host-linkguard_session"
    assert pending_cookie_params(settings).max_age == 600
