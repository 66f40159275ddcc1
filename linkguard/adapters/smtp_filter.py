"""The SMTP content filter: Postfix hands us each message, we hand back the rewritten copies.

The after-queue ``content_filter`` pattern of Postfix's FILTER_README ("advanced content
filter", as amavis does it): Postfix's queue manager delivers to us over SMTP (port 10025 by
default), we rewrite and submit the result to a second Postfix smtpd (port 10026) that has
``content_filter`` switched off, and only then answer Postfix. The message is Postfix's until we
answer 250, so every failure on our side is a 4xx: Postfix keeps the message in its queue
(deferred) and tries again. We never answer 5xx for our own faults; a 5xx comes only when the
re-injection server itself refused the whole message for good (it is Postfix's own answer).

Answers (RFC 3463 enhanced status codes)::

    250 2.0.0  every copy was accepted by the re-injection server
    451 4.3.0  internal error while rewriting (the rewriter reported internal.error)
    451 4.3.5  no rewrite context: keys unreadable or other misconfiguration
    451 4.4.1  re-injection server unreachable, or it answered 4xx, or refused some recipients
    5xx        the re-injection server's own permanent refusal of a single-copy message
    421 4.3.2  shutting down (on a new transaction while draining)

Once every copy is accepted, the links sealed in them go to the ``prefetch`` hook (when there
is one), which starts their domain-age lookups in the background. It cannot delay or change the
answer: it returns at once, and an exception from it is logged and dropped.

A message split per recipient goes back as several submissions. If one is accepted and a later
one fails, we still answer 4xx and Postfix retries them all: the first recipients may get the
message twice, which beats losing it.

aiosmtpd answers some faults with 5xx of its own (an exception in a hook gives ``500``, a line
over 1,001 octets ``500``, data over its size limit ``552``): the size limit is off, the line
limit raised, and every exception is caught and mapped here.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import smtplib
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from linkguard.mail import (
    ContextFactory,
    Copy,
    MailPolicy,
    Prefetch,
    TemporaryFailure,
    plan,
    sealed_links,
)

log = logging.getLogger("linkguard.smtp_filter")

# MAIL FROM parameters handed on to the re-injection server. SIZE is left out (the size changed);
# DSN parameters are not announced by aiosmtpd, so Postfix does not send them.
_FORWARDED_MAIL_OPTIONS = ("BODY=", "SMTPUTF8")


def parse_hostport(value: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``"127.0.0.1:10025"``, ``"[::1]:10025"`` or ``"10025"`` → (host, port)."""
    text = value.strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = default_host, text
    host = host.strip("[]") or default_host
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not host:port: {value!r}")
    return host, int(port)


class Rejected(Exception):  # noqa: N818 - an answer, not a fault of ours
    """The re-injection server refused the message for good: pass its answer on."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


@dataclass(frozen=True, slots=True)
class Reinjector:
    """Submits copies to the MTA's re-injection port with smtplib (blocking: run in a thread)."""

    host: str
    port: int
    timeout: float = 60.0
    local_hostname: str = "localhost"

    def send(self, sender: str, copies: Sequence[Copy], mail_options: Sequence[str]) -> None:
        options = [o for o in mail_options if o.upper().startswith(_FORWARDED_MAIL_OPTIONS)]
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout,
                              local_hostname=self.local_hostname) as client:
                for copy in copies:
                    refused = client.sendmail(sender, list(copy.recipients), copy.content,
                                              mail_options=options)
                    if refused:
                        raise TemporaryFailure("4.4.1", f"re-injection refused "
                                                        f"{len(refused)} recipient(s)")
        except TemporaryFailure:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            if len(copies) == 1 and all(code >= 500 for code in codes):
                code, text = next(iter(exc.recipients.values()))
                raise Rejected(code, text.decode("utf-8", "replace")) from exc
            raise TemporaryFailure("4.4.1", "re-injection refused recipients") from exc
        except smtplib.SMTPResponseException as exc:
            if len(copies) == 1 and exc.smtp_code >= 500:
                raise Rejected(exc.smtp_code, _text(exc.smtp_error)) from exc
            raise TemporaryFailure("4.4.1", f"re-injection answered {exc.smtp_code}") from exc
        except (OSError, smtplib.SMTPException) as exc:  # refused, reset, timed out …
            raise TemporaryFailure("4.4.1", f"re-injection failed: "
                                            f"{type(exc).__name__}") from exc


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


Deliver = Callable[[str, Sequence[Copy], Sequence[str]], None]


class FilterHandler:
    """The aiosmtpd handler: rewrite per policy, re-inject, answer."""

    def __init__(self, policy: MailPolicy, contexts: ContextFactory, deliver: Deliver,
                 prefetch: Prefetch | None = None) -> None:
        self.policy = policy
        self.contexts = contexts
        self.deliver = deliver
        self.prefetch = prefetch
        self.draining = False

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        mail_options: list[str],
    ) -> str:
        del server, session
        if self.draining:
            return "421 4.3.2 linkguard: shutting down, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope,
    ) -> str:
        del server, session
        try:
            # Rewriting is CPU work and smtplib blocks: a thread keeps the other sessions
            # answering while one message is being handled.
            return await asyncio.to_thread(self._handle, envelope)
        except Exception:  # the last line of defence: never a 5xx for our own fault
            log.exception("unexpected error handling a message")
            return "451 4.3.0 linkguard: internal error, try again later"

    def _handle(self, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        sender = envelope.mail_from or ""
        try:
            copies = plan(raw, sender, tuple(envelope.rcpt_tos), self.policy, self.contexts)
            self.deliver(sender, copies, envelope.mail_options)
        except TemporaryFailure as exc:
            log.warning("deferred: %s (from=<%s>, %d rcpt)", exc, sender,
                        len(envelope.rcpt_tos))
            return f"451 {exc.status} linkguard: {exc.detail}, try again later"
        except Rejected as exc:
            log.warning("re-injection refused: %s (from=<%s>)", exc, sender)
            return f"{exc.code} {exc.text}"
        self._prefetch(copies)
        rewritten = sum(1 for c in copies if c.header is not None)
        return f"250 2.0.0 OK: {len(copies)} cop{'y' if len(copies) == 1 else 'ies'}, " \
               f"{rewritten} rewritten"

    def _prefetch(self, copies: Sequence[Copy]) -> None:
        if self.prefetch is None:
            return
        try:
            sealed = sealed_links(copies)
            if sealed:
                self.prefetch(sealed)
        except Exception:  # the message is delivered: nothing here may change the answer
            log.exception("prefetch of sealed links failed (mail unaffected)")

    async def handle_exception(self, error: Exception) -> str:
        log.error("SMTP session error: %r", error)
        return "421 4.3.0 linkguard: internal error, closing connection"


class _FilterSMTP(SMTP):
    # Postfix may send lines longer than RFC 5321's 1,000 octets (smtp_line_length_limit
    # wraps them at 999 by default, but it can be switched off): accept them rather than
    # answer aiosmtpd's permanent "500 Line too long".
    line_length_limit = 1 << 20

    def __init__(self, handler: FilterHandler, tracker: _InFlight, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._tracker = tracker

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._tracker.sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._tracker.sessions.discard(self)
        super().connection_lost(error)

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's command name
        # From DATA to the answer written: this is what a graceful shutdown waits for.
        self._tracker.count += 1
        try:
            await super().smtp_DATA(arg)
        finally:
            self._tracker.count -= 1
            self._tracker.changed.set()


class _InFlight:
    def __init__(self) -> None:
        self.count = 0
        self.changed = asyncio.Event()
        self.sessions: set[SMTP] = set()  # open connections, closed at the end of a drain


class FilterServer:
    """The listening filter: ``await start()``, then ``await stop()`` drains and closes."""

    def __init__(self, handler: FilterHandler, host: str, port: int,
                 hostname: str = "linkguard") -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.hostname = hostname
        self._server: asyncio.Server | None = None
        self._tracker = _InFlight()

    def _protocol(self) -> SMTP:
        # data_size_limit=None: the size limit is Postfix's (message_size_limit); over-size
        # mail for us passes unchanged rather than bouncing with 552.
        return _FilterSMTP(self.handler, self._tracker, data_size_limit=None,
                           enable_SMTPUTF8=True, hostname=self.hostname)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port,
                                                family=socket.AF_UNSPEC, reuse_address=True)
        sock = self._server.sockets[0].getsockname()
        self.port = int(sock[1])

    @property
    def in_flight(self) -> int:
        return self._tracker.count

    async def stop(self, grace: float = 30.0) -> int:
        """Stop listening, let messages in flight finish (up to ``grace`` s), close the rest.

        Returns the number of messages still in flight when the grace ran out (0 normally):
        Postfix sees those connections drop before our answer, so it keeps them queued.
        """
        self.handler.draining = True
        if self._server is not None:
            self._server.close()
        tracker = self._tracker
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while tracker.count and loop.time() < deadline:
            tracker.changed.clear()
            try:
                await asyncio.wait_for(tracker.changed.wait(), deadline - loop.time())
            except TimeoutError:
                break
        left = tracker.count
        for session in list(tracker.sessions):
            if session.transport is not None:
                session.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
        return left


async def serve(server: FilterServer, grace: float,
                ready: Callable[[FilterServer], None] | None = None) -> int:
    """Run until SIGTERM or SIGINT, then drain. Returns messages left in flight (0: clean)."""
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready(server)
    await stop.wait()
    log.info("stopping: %d message(s) in flight", server.in_flight)
    return await server.stop(grace)
