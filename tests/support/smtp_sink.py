"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session


class Sink:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
            self, server: SMTP, session: Session,  # noqa: ARG002 - aiosmtpd's signature
            envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def smtp_sink(*, tls_context: ssl.SSLContext | None = None, require_starttls: bool = False,
              credentials: tuple[str, str] | None = None) -> Iterator[tuple[Sink, int]]:
    """Run a sink on a free loopback port; yields (sink, port)."""
    sink = Sink()
    extra: dict[str, Any] = {}
    if tls_context is not None:
        extra |= {"tls_context": tls_context, "require_starttls": require_starttls}
    if credentials is not None:
        def authenticate(  # aiosmtpd's authenticator signature; only auth_data matters here
                server: SMTP, session: Session, envelope: Envelope,  # noqa: ARG001
                mechanism: str, auth_data: Any) -> AuthResult:  # noqa: ARG001
            ok = (auth_data.login.decode(), auth_data.password.decode()) == credentials
            return AuthResult(success=ok)
        extra |= {"authenticator": authenticate, "auth_require_tls": True}
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), **extra)
    controller.start()
    try:
        yield sink, controller.port
    finally:
        controller.stop()
