"""The milter: Postfix's smtpd asks us about each message before it answers the sender.

Built on pymilter, the Python binding of libmilter (Sendmail's milter library, the reference
implementation of the protocol Postfix speaks; Debian: libmilter-dev). The pure-Python
alternatives on PyPI are at version 0.0.x and unmaintained; libmilter is what OpenDKIM and
OpenDMARC use, so it is the most exercised code on this path.

What we do at end of message: rebuild the message from the header fields and body chunks
Postfix sent, rewrite it, then replace the body (``smfi_replacebody``) and apply the header
changes (``smfi_chgheader`` / ``smfi_addheader``): drop any ``X-LinkGuard`` that came from
outside, add ours, and change ``Content-Transfer-Encoding`` when a single-part message had to
be re-encoded. Every other field stays as Postfix has it, so Authentication-Results written
by an earlier milter (OpenDKIM, OpenDMARC) survives.

Per-recipient binding cannot split a message in a milter: a milter changes the one message
all its recipients get. With ``per_recipient`` on, a message with exactly one rewritten
recipient is bound to that recipient; with several, links are sealed without a recipient
(the gateway then cannot ask the clicker to sign in as the recipient). A message with no
recipient that the policy wants is left alone; with some, the whole message is rewritten.

After the changes are applied, the links sealed go to the ``prefetch`` hook (when there is one),
which starts their domain-age lookups in the background; it returns at once, and an exception
from it is logged and dropped, never a change to the answer.

Every failure of ours answers TEMPFAIL (451): the sender keeps the message and retries. If
the milter is not running, Postfix applies ``milter_default_action`` (tempfail, which the
README sets). Messages over the size limit are not buffered further and pass unchanged with
``X-LinkGuard: passthrough=mime.too_large``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import Milter

from linkguard.mail import ContextFactory, MailPolicy, Prefetch, TemporaryFailure, rewrite_copy

log = logging.getLogger("linkguard.milter")

_CHUNK = 65535  # libmilter's MILTER_CHUNK_SIZE: replacebody in pieces no larger than this
_OUR_HEADER = "X-LinkGuard"


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _raw(value: str) -> bytes:
    # pymilter decodes with surrogateescape: encoding back gives the very bytes Postfix sent.
    return value.encode("utf-8", "surrogateescape")


def header_fields(block: bytes) -> list[tuple[str, str]]:
    """(name, value) of each field of a header block; folded lines joined with CRLF."""
    fields: list[tuple[str, str]] = []
    for line in block.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + "\r\n" + _text(line))
        elif b":" in line:
            key, _, rest = line.partition(b":")
            fields.append((_text(key.strip()), _text(rest.lstrip(b" \t"))))
    return fields


Change = tuple[str, str, int, str]  # ("chg", name, index, value) or ("add", name, 0, value)


def header_changes(before: list[tuple[str, str]], after: list[tuple[str, str]]) -> list[Change]:
    """The chgheader/addheader calls that turn ``before`` into ``after``, per field name.

    Fields are matched by name and occurrence (libmilter's index is the n-th field of that
    name, from 1); a value of ``""`` deletes a field.
    """
    def by_name(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for name, value in fields:
            grouped.setdefault(name.lower(), []).append(value)
        return grouped

    old, new = by_name(before), by_name(after)
    spelled = {name.lower(): name for name, _ in before + after}
    changes: list[Change] = []
    for key in sorted(set(old) | set(new)):
        was, now = old.get(key, []), new.get(key, [])
        name = spelled[key]
        for index in range(max(len(was), len(now)), 0, -1):  # from the end: indexes stay
            if index > len(now):
                changes.append(("chg", name, index, ""))
            elif index > len(was):
                continue
            elif was[index - 1] != now[index - 1]:
                changes.append(("chg", name, index, now[index - 1]))
        changes.extend(("add", name, 0, value) for value in now[len(was):])
    return changes


class InFlight:
    """Messages between their first header and their end: what a graceful stop waits for."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Condition()

    def enter(self) -> None:
        with self._lock:
            self._count += 1

    def leave(self) -> None:
        with self._lock:
            self._count -= 1
            self._lock.notify_all()

    def wait(self, grace: float) -> int:
        with self._lock:
            self._lock.wait_for(lambda: self._count == 0, grace)
            return self._count


def make_milter(policy: MailPolicy, contexts: ContextFactory, max_bytes: int,
                in_flight: InFlight, prefetch: Prefetch | None = None) -> type[Milter.Base]:
    """A Milter.Base subclass bound to this configuration (libmilter makes one per connection)."""

    class LinkGuardMilter(Milter.Base):  # type: ignore[misc]  # pymilter ships no types
        def __init__(self) -> None:
            self._reset()

        def _reset(self) -> None:
            self.sender = ""
            self.recipients: list[str] = []
            self.head: list[bytes] = []
            self.body_chunks: list[bytes] = []
            self.size = 0
            self.too_large = False
            self.counted = False

        def envfrom(self, mailfrom: str, *params: str) -> Any:
            del params
            if self.counted:  # a second transaction on the connection
                in_flight.leave()
            self._reset()
            self.sender = mailfrom.strip().strip("<>")
            return Milter.CONTINUE

        def envrcpt(self, to: str, *params: str) -> Any:
            del params
            self.recipients.append(to.strip().strip("<>"))
            return Milter.CONTINUE

        def header(self, field: str, value: str) -> Any:
            if not self.counted:
                self.counted = True
                in_flight.enter()
            # Postfix sends folded values with LF; the rewriter reads CRLF as SMTP has it.
            line = _raw(field) + b": " + _raw(value).replace(b"\r\n", b"\n").replace(
                b"\n", b"\r\n")
            self._keep(line + b"\r\n", self.head)
            return Milter.CONTINUE

        def eoh(self) -> Any:
            return Milter.CONTINUE

        def body(self, chunk: bytes) -> Any:
            self._keep(chunk, self.body_chunks)
            return Milter.CONTINUE

        def _keep(self, data: bytes, into: list[bytes]) -> None:
            self.size += len(data)
            if self.size > max_bytes:
                self.too_large = True  # stop buffering: the message passes unchanged
                self.head.clear()
                self.body_chunks.clear()
            if not self.too_large:
                into.append(data)

        def eom(self) -> Any:
            try:
                return self._end()
            except TemporaryFailure as exc:
                log.warning("tempfail: %s (from=<%s>)", exc, self.sender)
                return self._tempfail(exc.status, exc.detail)
            except Exception:  # never a 5xx, never a lost message, for a fault of ours
                log.exception("unexpected error at end of message")
                return self._tempfail("4.3.0", "internal error")
            finally:
                if self.counted:
                    self.counted = False
                    in_flight.leave()

        def _tempfail(self, status: str, detail: str) -> Any:
            self.setreply("451", status, f"linkguard: {detail}, try again later")
            return Milter.TEMPFAIL

        def _end(self) -> Any:
            wanted = [r for r in self.recipients if policy.wants(self.sender, r)]
            if not wanted:
                return Milter.ACCEPT
            if self.too_large:
                self._apply([("add", _OUR_HEADER, 0, "passthrough=mime.too_large")])
                return Milter.ACCEPT
            head = b"".join(self.head)
            body = b"".join(self.body_chunks)
            bound = wanted[0] if policy.per_recipient and len(wanted) == 1 else None
            copy = rewrite_copy(head + b"\r\n" + body, tuple(wanted), bound, contexts)
            new_head, sep, new_body = copy.content.partition(b"\r\n\r\n")
            if not sep:
                raise TemporaryFailure("4.3.0", "rewritten message without header block")
            changes = header_changes(header_fields(head.removesuffix(b"\r\n")),
                                     header_fields(new_head))
            self._apply(changes)
            if new_body != body:
                for start in range(0, len(new_body), _CHUNK):
                    self.replacebody(new_body[start:start + _CHUNK])
            if prefetch is not None and copy.sealed:
                try:
                    prefetch(copy.sealed)
                except Exception:  # the message is accepted: nothing here may change that
                    log.exception("prefetch of sealed links failed (mail unaffected)")
            return Milter.ACCEPT

        def _apply(self, changes: list[Change]) -> None:
            for kind, name, index, value in changes:
                if kind == "add":
                    self.addheader(name, value)
                else:
                    self.chgheader(name, index, value)

        def abort(self) -> Any:
            if self.counted:
                self.counted = False
                in_flight.leave()
            return Milter.CONTINUE

        def close(self) -> Any:
            if self.counted:
                self.counted = False
                in_flight.leave()
            return Milter.CONTINUE

    return LinkGuardMilter


def run(policy: MailPolicy, contexts: ContextFactory, *, socket: str, max_bytes: int,
        grace: float, timeout: int = 600, ready: Callable[[], None] | None = None,
        prefetch: Prefetch | None = None) -> int:
    """Serve until SIGTERM (libmilter stops listening), then let messages in flight finish.

    Returns the number of messages still in flight when ``grace`` ran out (0: a clean stop).
    """
    in_flight = InFlight()
    Milter.factory = make_milter(policy, contexts, max_bytes, in_flight, prefetch)
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY)
    if ready is not None:
        ready()
    Milter.runmilter("linkguard", socket, timeout)
    started = time.monotonic()
    left = in_flight.wait(grace)
    log.info("stopped after %.1f s; %d message(s) left in flight", time.monotonic() - started,
             left)
    return left
