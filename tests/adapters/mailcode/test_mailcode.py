"""Mailed one-time codes, delivered through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import logging
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from linkguard.adapters.mailcode import (
    Challenge,
    CodeError,
    CodeErrorCode,
    Limit,
    MailCodes,
    MailerError,
    OutboxMailer,
    SmtpMailer,
    SmtpSecurity,
)
from linkguard.core.identity import Identity
from tests.support.memory_ports import DictNonces, FixedWindowLimiter
from tests.support.smtp_sink import Sink, free_port, smtp_sink

SECRET = "test-signing-secret-0123456789abcdef0123"  # noqa: S105 - test only
RECIPIENT = "Alice@corp.example"
IP = "192.0.2.10"  # documentation range (RFC 5737): only a rate-limit key here


@dataclass
class Rig:
    codes: MailCodes
    sink: Sink
    nonces: DictNonces
    now: list[float]

    def send(self, recipient: str | None = RECIPIENT, ip: str = IP) -> Challenge:
        challenge = self.codes.send(recipient, client_ip=ip)
        assert isinstance(challenge, Challenge), challenge
        return challenge

    def mailed_code(self) -> str:
        body = self.sink.messages[-1].get_content()
        match = re.search(r"code is (\d{3}) (\d{3})", body)
        assert match, body
        return match[1] + match[2]


@pytest.fixture
def rig() -> Iterator[Rig]:
    now = [1_800_000_000.0]
    with smtp_sink() as (sink, port):
        nonces = DictNonces(clock=lambda: now[0])
        codes = MailCodes(
            secret=SECRET, mailer=SmtpMailer("127.0.0.1", port, security=SmtpSecurity.NONE,
                                             timeout_s=5.0),
            limiter=FixedWindowLimiter(clock=lambda: now[0]), nonces=nonces,
            sender="linkguard@corp.example", clock=lambda: now[0],
            per_recipient=Limit(3, 3600), per_ip=Limit(4, 3600), checks_per_ip=Limit(12, 600))
        yield Rig(codes, sink, nonces, now)


def expect(result: Identity | Challenge | CodeError, code: CodeErrorCode) -> CodeError:
    assert isinstance(result, CodeError), result
    assert result.code is code, result
    return result


def test_right_code_proves_the_recipient(rig: Rig) -> None:
    challenge = rig.send()
    message = rig.sink.messages[-1]
    assert message["To"] == RECIPIENT
    assert message["Auto-Submitted"] == "auto-generated"
    assert rig.sink.envelopes[-1] == ("linkguard@corp.example", [RECIPIENT])
    assert challenge.expires_at == rig.now[0] + 600
    code = rig.mailed_code()
    assert code not in challenge.value  # the browser's challenge does not carry the code
    identity = rig.codes.verify(challenge.value, code, client_ip=IP)
    assert identity == Identity("mailto:alice@corp.example", RECIPIENT, (), "mailcode")


@pytest.mark.parametrize("typed", ["{a} {b}", "{a}-{b}", " {a}{b} "])
def test_code_may_be_typed_with_spaces_or_a_dash(rig: Rig, typed: str) -> None:
    challenge = rig.send()
    code = rig.mailed_code()
    typed_code = typed.format(a=code[:3], b=code[3:])
    assert isinstance(rig.codes.verify(challenge.value, typed_code, client_ip=IP), Identity)


def test_wrong_code_then_right_code(rig: Rig) -> None:
    challenge = rig.send()
    code = rig.mailed_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    expect(rig.codes.verify(challenge.value, wrong, client_ip=IP), CodeErrorCode.WRONG_CODE)
    expect(rig.codes.verify(challenge.value, "12345x", client_ip=IP), CodeErrorCode.WRONG_CODE)
    assert isinstance(rig.codes.verify(challenge.value, code, client_ip=IP), Identity)


def test_code_works_once(rig: Rig) -> None:
    challenge = rig.send()
    code = rig.mailed_code()
    assert isinstance(rig.codes.verify(challenge.value, code, client_ip=IP), Identity)
    expect(rig.codes.verify(challenge.value, code, client_ip=IP), CodeErrorCode.USED)


def test_five_attempts_then_even_the_right_code_is_refused(rig: Rig) -> None:
    challenge = rig.send()
    code = rig.mailed_code()
    wrong = f"{(int(code) + 7) % 10**6:06d}"
    for _ in range(5):
        expect(rig.codes.verify(challenge.value, wrong, client_ip=IP), CodeErrorCode.WRONG_CODE)
    error = expect(rig.codes.verify(challenge.value, code, client_ip=IP),
                   CodeErrorCode.TOO_MANY_ATTEMPTS)
    assert error.retry_after_s is not None
    assert error.status == 429


def test_code_expires_after_ten_minutes(rig: Rig) -> None:
    challenge = rig.send()
    code = rig.mailed_code()
    rig.now[0] += 601
    expect(rig.codes.verify(challenge.value, code, client_ip=IP), CodeErrorCode.EXPIRED)


@pytest.mark.parametrize("value", [None, "", "nonsense", "eyJpIjoiYSJ9.AAAA.BBBB"])
def test_missing_or_forged_challenge(rig: Rig, value: str | None) -> None:
    expect(rig.codes.verify(value, "123456", client_ip=IP), CodeErrorCode.INVALID)


def test_challenge_of_another_deployment_is_refused(rig: Rig) -> None:
    other = MailCodes(secret=SECRET + "-other", mailer=rig.codes.mailer,
                      limiter=FixedWindowLimiter(), nonces=DictNonces(), sender="x@corp.example")
    challenge = other.send(RECIPIENT, client_ip=IP)
    assert isinstance(challenge, Challenge)
    expect(rig.codes.verify(challenge.value, rig.mailed_code(), client_ip=IP),
           CodeErrorCode.INVALID)


def test_sending_is_limited_per_recipient(rig: Rig) -> None:
    for index in range(3):
        rig.send(ip=f"192.0.2.{index}")
    error = expect(rig.codes.send(RECIPIENT, client_ip="192.0.2.99"), CodeErrorCode.RATE_LIMITED)
    assert error.status == 429
    assert error.retry_after_s is not None
    assert len(rig.sink.messages) == 3
    rig.now[0] += 3600
    rig.send(ip="192.0.2.99")


def test_sending_is_limited_per_ip(rig: Rig) -> None:
    for index in range(4):
        rig.send(recipient=f"user{index}@corp.example")
    expect(rig.codes.send("user9@corp.example", client_ip=IP), CodeErrorCode.RATE_LIMITED)
    rig.send(recipient="user9@corp.example", ip="192.0.2.200")


def test_checking_is_limited_per_ip(rig: Rig) -> None:
    challenges = [rig.send(recipient=f"user{index}@corp.example", ip=f"192.0.2.{index}")
                  for index in range(3)]
    for challenge in challenges:  # 12 checks from one address across three challenges
        for _ in range(4):
            expect(rig.codes.verify(challenge.value, "000000x", client_ip=IP),
                   CodeErrorCode.WRONG_CODE)
    expect(rig.codes.verify(challenges[0].value, "000000", client_ip=IP),
           CodeErrorCode.RATE_LIMITED)


@pytest.mark.parametrize("recipient", [None, "", "not an address"])
def test_no_recipient_no_code(rig: Rig, recipient: str | None) -> None:
    expect(rig.codes.send(recipient, client_ip=IP), CodeErrorCode.NO_RECIPIENT)
    assert rig.sink.messages == []


def test_nonce_store_down_fails_closed(rig: Rig) -> None:
    challenge = rig.send()
    rig.nonces.down = True
    expect(rig.codes.verify(challenge.value, rig.mailed_code(), client_ip=IP),
           CodeErrorCode.STORE_UNAVAILABLE)
    expect(rig.codes.send(RECIPIENT, client_ip="192.0.2.1"), CodeErrorCode.STORE_UNAVAILABLE)


def test_relay_down_is_a_mail_failure() -> None:
    codes = MailCodes(secret=SECRET, mailer=SmtpMailer("127.0.0.1", free_port(),
                                                       security=SmtpSecurity.NONE, timeout_s=2),
                      limiter=FixedWindowLimiter(), nonces=DictNonces(),
                      sender="linkguard@corp.example")
    error = expect(codes.send(RECIPIENT, client_ip=IP), CodeErrorCode.MAIL_FAILED)
    assert error.status == 502


def test_codes_are_six_digits_and_vary(rig: Rig) -> None:
    seen = set()
    for index in range(4):
        rig.send(recipient=f"user{index}@corp.example", ip=f"192.0.2.{index}")
        code = rig.mailed_code()
        assert re.fullmatch(r"\d{6}", code)
        seen.add(code)
    assert len(seen) > 1


# --- mailers --------------------------------------------------------------------------------


def _self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh certificate for 127.0.0.1, and a client that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress  # noqa: PLC0415 - only the certificate needs it

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@corp.example", "b@corp.example", "t"
    message.set_content("hello")
    return message


def test_starttls_and_login(tmp_path: Path) -> None:
    server, client = _self_signed(tmp_path)
    with smtp_sink(tls_context=server, require_starttls=True,
                   credentials=("relay-user", "relay-pass")) as (sink, port):
        SmtpMailer("127.0.0.1", port, security=SmtpSecurity.STARTTLS, username="relay-user",
                   password="relay-pass",  # noqa: S106 - the sink's test credentials
                   ssl_context=client, timeout_s=5).send(_message())
        assert [m["Subject"] for m in sink.messages] == ["t"]
        with pytest.raises(MailerError):  # a wrong password is a failure, not a silent drop
            SmtpMailer("127.0.0.1", port, username="relay-user",
                       password="nope",  # noqa: S106 - a wrong test password
                       ssl_context=client, timeout_s=5).send(_message())
        with pytest.raises(MailerError):  # the relay insists on STARTTLS
            SmtpMailer("127.0.0.1", port, security=SmtpSecurity.NONE,
                       timeout_s=5).send(_message())


def test_starttls_checks_the_certificate(tmp_path: Path) -> None:
    server, _ = _self_signed(tmp_path)
    with smtp_sink(tls_context=server, require_starttls=True) as (sink, port):
        with pytest.raises(MailerError):  # the default context does not trust this cert
            SmtpMailer("127.0.0.1", port, timeout_s=5).send(_message())
        assert sink.messages == []


def test_outbox_mailer_writes_and_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="linkguard.adapters.mailcode"):
        OutboxMailer(tmp_path / "outbox").send(_message())
    written = list((tmp_path / "outbox").glob("*.eml"))
    assert len(written) == 1
    assert b"hello" in written[0].read_bytes()
    assert "local-only" in caplog.text
    assert "NOT sent" in caplog.text
