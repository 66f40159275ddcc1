"""Mail in, mail out: which recipients get rewritten mail, and in how many copies.

The SMTP content filter and the milter (``linkguard.adapters``) do the talking; this module
decides, with no I/O of its own. Given the envelope and the message bytes, :func:`plan` returns
the copies to deliver, each with its recipients, or raises :class:`TemporaryFailure` when the
message must stay with the MTA (it retries later). Nothing here ever drops a message: the
rewriter passes what it cannot read through unchanged, and anything unexpected is a temporary
failure, never a bounce.

Which recipients are rewritten (``MailPolicy.wants``)::

    recipient in our domains, sender outside   inbound   always
    recipient in our domains, sender inside    internal  MailPolicy.internal
    recipient outside our domains              outbound  MailPolicy.outbound

With per-recipient binding each rewritten recipient gets a copy whose links are sealed with that
recipient (the gateway can then ask the clicker to sign in as them). A message in which no link
was sealed anew (no links, or only links that are already ours) is the same for every recipient,
so it is delivered as one copy: splitting only happens when it changes something.

Each rewritten copy names the links sealed in it (``Copy.sealed``, from the rewrite report): the
filter and the milter hand them to a :data:`Prefetch` once the message is accepted, so the
gateway finds their outside facts (domain age) already looked up when someone clicks.

A message already rewritten by us passes unchanged: its links are ours, so the rewriter leaves
them, and it rewrites its own header to the very same bytes. The ``X-LinkGuard`` field alone
proves nothing (anyone can write it), so it is not what we go by.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from linkguard.rewriter import LinkOutcome, Reason, RewriteContext, rewrite_message

__all__ = [
    "ContextFactory",
    "Copy",
    "MailPolicy",
    "Prefetch",
    "TemporaryFailure",
    "domain_of",
    "message_id_of",
    "plan",
    "rewrite_copy",
    "sealed_links",
]

# recipient (None: unbound), Message-ID (None: absent) → the rewrite context for one copy.
# Built by bootstrap: it reads the clock and the keys, so this module does not.
ContextFactory = Callable[[str | None, str | None], RewriteContext]

# The links just sealed (as the rewriter saw them) → start looking up their outside facts.
# Fire and forget: returns at once and never raises (the adapters guard it anyway).
Prefetch = Callable[[Iterable[str]], None]


class TemporaryFailure(Exception):  # noqa: N818 - named for the SMTP answer it becomes
    """The message cannot be handled now; the MTA must keep it and retry (SMTP 4xx).

    ``status`` is the RFC 3463 enhanced status code to answer with.
    """

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(f"{status} {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class MailPolicy:
    """What to rewrite. Parsed once from settings; the per-message methods do no parsing."""

    # Our domains (lower case, no trailing dot); a subdomain counts as its parent. Empty: every
    # recipient counts as ours, which suits a filter that only ever sees inbound mail.
    domains: frozenset[str] = frozenset()
    outbound: bool = False  # rewrite mail for recipients outside our domains
    internal: bool = True  # rewrite mail from our domains to our domains
    per_recipient: bool = True  # one copy per recipient, links bound to that recipient

    def ours(self, address: str) -> bool:
        if not self.domains:
            return True
        name = domain_of(address)
        while name:
            if name in self.domains:
                return True
            _, _, name = name.partition(".")
        return False

    def wants(self, sender: str, recipient: str) -> bool:
        if not self.ours(recipient):
            return self.outbound
        # An empty domain list cannot tell internal from inbound: treat the mail as inbound.
        if self.domains and sender and self.ours(sender):
            return self.internal
        return True


@dataclass(frozen=True, slots=True)
class Copy:
    """One message to deliver, with the envelope recipients it goes to."""

    recipients: tuple[str, ...]
    content: bytes
    header: str | None = None  # our header's value; None: passed on without rewriting
    sealed: tuple[str, ...] = ()  # URLs of the links sealed in this copy, as the rewriter saw them


def sealed_links(copies: Sequence[Copy]) -> list[str]:
    """The links sealed in any of ``copies``, each once, in order (copies split per recipient
    seal the same links)."""
    return list(dict.fromkeys(url for copy in copies for url in copy.sealed))


def domain_of(address: str) -> str:
    """The domain of an envelope address, lower case: ``"<Bob@Example.COM.>"`` → example.com."""
    address = address.strip().strip("<>")
    _, at, domain = address.rpartition("@")
    return domain.lower().rstrip(".") if at else ""


def message_id_of(raw: bytes, limit: int = 200) -> str | None:
    """The Message-ID field's value from the top header block (RFC 5322 §3.6.4), if any.

    Read straight from the bytes: only the header block is looked at, and a value that is not
    ASCII or is longer than ``limit`` is cut or dropped rather than trusted.
    """
    end = raw.find(b"\n\n")
    crlf_end = raw.find(b"\r\n\r\n")
    if crlf_end != -1 and (end == -1 or crlf_end < end):
        end = crlf_end
    head = raw if end == -1 else raw[:end]
    lines = head.split(b"\n")
    for number, line in enumerate(lines):
        if line[:11].lower() != b"message-id:":
            continue
        value = line[11:]
        for more in lines[number + 1 :]:  # folded onto the next lines (RFC 5322 §2.2.3)
            if more[:1] not in (b" ", b"\t"):
                break
            value += b" " + more
        text = value.decode("ascii", "replace").strip()
        return text[:limit] or None
    return None


def plan(
    raw: bytes,
    sender: str,
    recipients: tuple[str, ...] | list[str],
    policy: MailPolicy,
    contexts: ContextFactory,
) -> list[Copy]:
    """The copies to deliver for one message, rewritten as the policy says.

    Raises :class:`TemporaryFailure` when the rewriter met an internal error or no rewrite
    context could be built (keys unreadable …): the MTA keeps the message and retries.
    """
    wanted = tuple(r for r in recipients if policy.wants(sender, r))
    others = tuple(r for r in recipients if r not in wanted)
    copies = [Copy(others, raw)] if others else []
    if not wanted:
        return copies
    message_id = message_id_of(raw)
    if not policy.per_recipient or len(wanted) == 1:
        bound = wanted[0] if policy.per_recipient else None
        copies.append(_rewrite(raw, wanted, bound, message_id, contexts).copy)
        return copies
    first = _rewrite(raw, wanted[:1], wanted[0], message_id, contexts)
    if not first.sealed_anew:
        # Nothing was sealed for the first recipient, so nothing would be for the others:
        # the copy is the same for all of them (no links, or only links already ours).
        copies.append(Copy(wanted, first.copy.content, first.copy.header, first.copy.sealed))
        return copies
    copies.append(first.copy)
    copies.extend(_rewrite(raw, (r,), r, message_id, contexts).copy for r in wanted[1:])
    return copies


def rewrite_copy(raw: bytes, recipients: tuple[str, ...], bound: str | None,
                 contexts: ContextFactory) -> Copy:
    """One rewritten copy for ``recipients``, links bound to ``bound`` (the milter's case).

    Raises :class:`TemporaryFailure` as :func:`plan` does.
    """
    return _rewrite(raw, recipients, bound, message_id_of(raw), contexts).copy


@dataclass(frozen=True, slots=True)
class _Rewritten:
    copy: Copy
    sealed_anew: bool  # a link was sealed now (so the copy depends on the recipient)


def _rewrite(
    raw: bytes,
    recipients: tuple[str, ...],
    bound: str | None,
    message_id: str | None,
    contexts: ContextFactory,
) -> _Rewritten:
    try:
        context = contexts(bound, message_id)
    except Exception as exc:  # keys unreadable, bad configuration: the MTA must keep the mail
        raise TemporaryFailure("4.3.5", f"cannot rewrite now: {type(exc).__name__}") from exc
    out, report = rewrite_message(raw, context)
    if report.passthrough is Reason.INTERNAL:
        raise TemporaryFailure("4.3.0", "internal error while rewriting")
    sealed = tuple(link.url for link in report.links if link.outcome is LinkOutcome.REWRITTEN)
    return _Rewritten(Copy(recipients, out, report.header, sealed), bool(sealed))
