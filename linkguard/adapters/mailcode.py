"""Confirmation without an IdP: a one-time code mailed to the link's recipient.

For small deployments and the embedded default (issue 5): the gateway mails a 6-digit code to
the recipient the link was sealed for, and whoever types it back within 10 minutes has shown
they read that mailbox. The recipient always comes from the sealed token, never from the
clicker: a code sent to an address the clicker chose would prove nothing.

Where the state lives, so that any replica can check a code (DESIGN.md, "stateless click"):

- the *challenge* is a signed, timestamped value the browser keeps (a cookie or a hidden form
  field): challenge id, recipient, and HMAC-SHA256(server key, id | recipient | code). The code
  itself is stored nowhere; the keyed hash cannot be brute-forced offline without the server
  key, and the signature's timestamp bounds its life;
- the attempt counter is the shared ``RateLimiter`` port (``attempts per challenge id``), so five
  wrong guesses are five across all replicas;
- single use is the shared ``NonceStore`` port: the challenge id is issued when the code is
  mailed and consumed by the one successful check.

Codes come from ``secrets`` (uniform over 000000-999999) and are compared in constant time
(``hmac.compare_digest``). Sending is limited per recipient and per client IP, checking per
client IP, each through the ``RateLimiter`` port. With 5 codes an hour per recipient and 5
attempts per code, a guesser's chance is at most 25 in a million per recipient and hour.

Mailers: :class:`SmtpMailer` (the configured relay, timeouts, STARTTLS or implicit TLS) and
:class:`OutboxMailer`, which only writes the message into a folder and says so in the log: it is
for a developer's machine, never for users.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import re
import secrets
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Final, Protocol

from linkguard.adapters.session import SignedValues
from linkguard.core.identity import Identity, canonical_address
from linkguard.ports import NonceStore, RateLimiter, StoreUnavailableError

__all__ = [
    "Challenge",
    "CodeError",
    "CodeErrorCode",
    "Limit",
    "MailCodes",
    "Mailer",
    "MailerError",
    "OutboxMailer",
    "SmtpMailer",
    "SmtpSecurity",
]

log = logging.getLogger(__name__)

CODE_DIGITS: Final = 6


# --- mailers --------------------------------------------------------------------------------


class MailerError(RuntimeError):
    """The message could not be handed to the relay (or written)."""


class Mailer(Protocol):
    """Hands one message on. Synchronous, like the storage ports: call it from a worker thread."""

    def send(self, message: EmailMessage) -> None:
        """Deliver or queue ``message``; raise MailerError when that failed."""


class SmtpSecurity(enum.StrEnum):
    STARTTLS = "starttls"  # submission port 587: plain connect, then STARTTLS (RFC 3207)
    TLS = "tls"  # implicit TLS, port 465 (RFC 8314)
    NONE = "none"  # a relay on localhost or a trusted segment only


class SmtpMailer:
    """The configured SMTP relay. Certificates are verified; every call has a timeout."""

    def __init__(self, host: str, port: int, *, security: SmtpSecurity = SmtpSecurity.STARTTLS,
                 username: str | None = None, password: str | None = None,
                 timeout_s: float = 10.0, ssl_context: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout_s = username, password, timeout_s
        self.ssl_context = ssl_context or ssl.create_default_context()

    def send(self, message: EmailMessage) -> None:
        try:
            if self.security is SmtpSecurity.TLS:
                client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port,
                                                        timeout=self.timeout_s,
                                                        context=self.ssl_context)
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with client:
                client.ehlo()
                if self.security is SmtpSecurity.STARTTLS:
                    client.starttls(context=self.ssl_context)
                    client.ehlo()
                if self.username:
                    client.login(self.username, self.password or "")
                refused = client.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:  # OSError: refused, timeout, TLS
            raise MailerError(f"SMTP relay {self.host}:{self.port}: {exc}") from exc
        if refused:
            raise MailerError(f"SMTP relay refused {', '.join(refused)}")


class OutboxMailer:
    """LOCAL DEVELOPMENT ONLY: writes each message to ``outbox/`` instead of sending it."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def send(self, message: EmailMessage) -> None:
        name = f"{time.time_ns()}-{secrets.token_hex(4)}.eml"
        try:
            self.outbox.mkdir(parents=True, exist_ok=True)
            (self.outbox / name).write_bytes(message.as_bytes())
        except OSError as exc:
            raise MailerError(f"cannot write to the outbox {self.outbox}: {exc}") from exc
        log.warning("local-only mailer: the message to %s was written to %s and NOT sent; "
                    "configure an SMTP relay for real use", message["To"], self.outbox / name)


# --- codes ----------------------------------------------------------------------------------


class CodeErrorCode(enum.StrEnum):
    NO_RECIPIENT = "no_recipient"  # the link names no (usable) recipient to mail
    RATE_LIMITED = "rate_limited"
    MAIL_FAILED = "mail_failed"
    STORE_UNAVAILABLE = "store_unavailable"  # fail closed: no code is accepted unchecked
    INVALID = "invalid"  # no challenge, or a changed one
    EXPIRED = "expired"
    WRONG_CODE = "wrong_code"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    USED = "used"  # the code already worked once


_STATUS: Final = {
    CodeErrorCode.NO_RECIPIENT: 400, CodeErrorCode.RATE_LIMITED: 429,
    CodeErrorCode.MAIL_FAILED: 502, CodeErrorCode.STORE_UNAVAILABLE: 503,
    CodeErrorCode.INVALID: 400, CodeErrorCode.EXPIRED: 400, CodeErrorCode.WRONG_CODE: 403,
    CodeErrorCode.TOO_MANY_ATTEMPTS: 429, CodeErrorCode.USED: 409,
}


@dataclass(frozen=True, slots=True)
class CodeError:
    code: CodeErrorCode
    message: str
    retry_after_s: float | None = None  # for RATE_LIMITED / TOO_MANY_ATTEMPTS

    @property
    def status(self) -> int:
        return _STATUS[self.code]


@dataclass(frozen=True, slots=True)
class Challenge:
    value: str  # keep in the browser (cookie or hidden field) until the code is typed
    expires_at: float  # unix seconds


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    window_s: float


# Defaults: codes mailed per recipient and per client IP, and checks per client IP.
PER_RECIPIENT: Final = Limit(5, 3600.0)
PER_IP: Final = Limit(20, 3600.0)
CHECKS_PER_IP: Final = Limit(30, 600.0)
_NOT_DIGITS: Final = re.compile(r"[\s-]")


class MailCodes:
    """Send a code to a recipient; check a typed code against the browser's challenge."""

    def __init__(self, *, secret: str, mailer: Mailer, limiter: RateLimiter,
                 nonces: NonceStore, sender: str, clock: Callable[[], float] = time.time,
                 lifetime_s: int = 600, max_attempts: int = 5,
                 per_recipient: Limit = PER_RECIPIENT, per_ip: Limit = PER_IP,
                 checks_per_ip: Limit = CHECKS_PER_IP, product: str = "linkguard") -> None:
        self.mailer, self.limiter, self.nonces = mailer, limiter, nonces
        self.sender, self.clock, self.product = sender, clock, product
        self.lifetime_s, self.max_attempts = lifetime_s, max_attempts
        self.per_recipient, self.per_ip, self.checks_per_ip = per_recipient, per_ip, checks_per_ip
        self._challenges = SignedValues(secret, purpose="mailcode", max_age_s=lifetime_s,
                                        clock=clock)
        self._mac_key = hashlib.sha256(b"linkguard.mailcode-mac\0" + secret.encode()).digest()

    def _mac(self, challenge_id: str, recipient: str, code: str) -> str:
        message = "\0".join((challenge_id, recipient, code)).encode()
        return hmac.new(self._mac_key, message, hashlib.sha256).hexdigest()

    def _limited(self, key: str, limit: Limit) -> float | None:
        return self.limiter.hit(key, limit=limit.count, window_s=limit.window_s)

    def send(self, recipient: str | None, *, client_ip: str) -> Challenge | CodeError:
        """Mail a fresh code to ``recipient`` (the token's, never the clicker's choice)."""
        canonical = canonical_address(recipient or "", separator="")
        if recipient is None or canonical is None:
            return CodeError(CodeErrorCode.NO_RECIPIENT,
                             "this link does not say who it was sent to, so no code can be mailed")
        for key, limit in ((f"mailcode:send:rcpt:{canonical}", self.per_recipient),
                           (f"mailcode:send:ip:{client_ip}", self.per_ip)):
            wait = self._limited(key, limit)
            if wait is not None:
                return CodeError(CodeErrorCode.RATE_LIMITED,
                                 "too many codes were requested; please wait", wait)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        challenge_id = secrets.token_urlsafe(16)
        now = self.clock()
        try:
            self.nonces.issue(challenge_id, canonical, self.lifetime_s)
        except StoreUnavailableError:
            return CodeError(CodeErrorCode.STORE_UNAVAILABLE,
                             "codes cannot be issued right now; please try again later")
        try:
            self.mailer.send(self._message(recipient.strip(), code, now))
        except MailerError as exc:
            log.error("mailing a confirmation code failed: %s", exc)
            return CodeError(CodeErrorCode.MAIL_FAILED,
                             "the code could not be mailed; please try again later")
        value = self._challenges.dumps({"i": challenge_id, "r": recipient.strip(),
                                        "m": self._mac(challenge_id, canonical, code)})
        return Challenge(value, now + self.lifetime_s)

    def verify(self, challenge: str | None, code: str, *, client_ip: str) -> Identity | CodeError:
        """The recipient's identity when ``code`` is right, else why not. Works once."""
        state = self._challenges.loads(challenge)
        if state is None:
            if self._challenges.expired(challenge):
                return CodeError(CodeErrorCode.EXPIRED, "the code has expired; ask for a new one")
            return CodeError(CodeErrorCode.INVALID, "no code was requested in this browser")
        challenge_id, recipient, mac = state.get("i"), state.get("r"), state.get("m")
        if not (isinstance(challenge_id, str) and isinstance(recipient, str)
                and isinstance(mac, str)):
            return CodeError(CodeErrorCode.INVALID, "the code request is incomplete")
        canonical = canonical_address(recipient, separator="") or ""
        wait = self._limited(f"mailcode:check:ip:{client_ip}", self.checks_per_ip)
        if wait is not None:
            return CodeError(CodeErrorCode.RATE_LIMITED, "too many attempts; please wait", wait)
        # Counted before the comparison, right or wrong: the sixth try never reaches it.
        wait = self._limited(f"mailcode:attempt:{challenge_id}",
                             Limit(self.max_attempts, float(self.lifetime_s)))
        if wait is not None:
            return CodeError(CodeErrorCode.TOO_MANY_ATTEMPTS,
                             "too many wrong codes; ask for a new one", wait)
        typed = _NOT_DIGITS.sub("", code)
        if not (len(typed) == CODE_DIGITS and typed.isascii() and typed.isdigit()):
            typed = "-"  # still compared below, so a malformed code costs the same time
        if not hmac.compare_digest(self._mac(challenge_id, canonical, typed), mac):
            return CodeError(CodeErrorCode.WRONG_CODE, "that code is not right")
        try:
            if not self.nonces.consume(challenge_id, canonical):
                return CodeError(CodeErrorCode.USED, "this code was already used")
        except StoreUnavailableError:
            return CodeError(CodeErrorCode.STORE_UNAVAILABLE,
                             "codes cannot be checked right now; please try again later")
        return Identity(subject=f"mailto:{canonical}", email=recipient, method="mailcode")

    def _message(self, recipient: str, code: str, now: float) -> EmailMessage:
        minutes = self.lifetime_s // 60
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = recipient
        message["Subject"] = f"Your {self.product} confirmation code"
        message["Date"] = format_datetime(datetime.fromtimestamp(now, UTC))
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
        message.set_content(
            f"Your confirmation code is {code[:3]} {code[3:]}\n\n"
            f"Type it on the page that asked for it. It works once, for {minutes} minutes.\n\n"
            "You get this mail because a link in a message to you was opened and needs your\n"
            "confirmation. If that was not you, ignore this mail: nothing happens without the\n"
            "code. Nobody will ever ask you to read this code out or forward it.\n")
        return message
