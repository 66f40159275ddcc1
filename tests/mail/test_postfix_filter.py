"""A real Postfix with linkguard as its after-queue content_filter, delivering to a sink.

Postfix (the Debian package; .ci/run installs it) runs as an instance of our own in a temp dir:
smtpd on a loopback port, ``content_filter`` to the filter, a second smtpd for re-injection,
``relayhost`` to an aiosmtpd sink. The instance is aborted at the end, pass or fail.
"""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest

from linkguard.adapters.smtp_filter import Reinjector
from linkguard.mail import MailPolicy
from tests.mail.mailkit import (
    CORPUS,
    PREFIX,
    SKIP_CORPUS,
    FilterThread,
    Postfix,
    Sink,
    claims_of,
    free_port,
    postfix_available,
    postfix_root,
)

pytestmark = pytest.mark.skipif(postfix_available() is not None,
                                reason=postfix_available() or "")

OUR_LINK = re.compile(re.escape(PREFIX) + r"[A-Za-z0-9_-]+")
AUTH = "mx.ours.test; dkim=pass header.d=outside.test; dmarc=pass header.from=outside.test"


@dataclass
class Stack:
    postfix: Postfix
    sink: Sink
    filter: FilterThread

    def send(self, raw: bytes, recipients: tuple[str, ...] = ("bob@ours.test",),
             sender: str = "alice@outside.test") -> None:
        with smtplib.SMTP("127.0.0.1", self.postfix.smtp_port, timeout=30) as client:
            client.sendmail(sender, list(recipients), raw)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with postfix_root() as root, Sink() as sink:
        postfix = Postfix(root, sink.port, filter_port=free_port())
        policy = MailPolicy(domains=frozenset({"ours.test"}))
        with FilterThread(postfix.reinject_port, port=postfix.filter_port, policy=policy) as flt:
            try:
                postfix.start()
                yield Stack(postfix, sink, flt)
            finally:
                postfix.stop()


@pytest.fixture
def fresh(stack: Stack) -> Stack:
    stack.sink.messages.clear()
    return stack


def crafted(subject: str, body: str = "Read https://example.com/report?id=7 today.") -> bytes:
    return (f"From: Alice <alice@outside.test>\r\nTo: bob@ours.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@outside.test>\r\n"
            f"Authentication-Results: {AUTH}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def sealed_links(message: Message) -> list[str]:
    found: list[str] = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found += OUR_LINK.findall(payload.decode("latin-1"))
    return found


def test_links_rewritten_headers_intact(fresh: Stack) -> None:
    raw = crafted("plain one")
    fresh.send(raw)
    [delivered] = fresh.sink.wait(1)
    message = parse(delivered.content)
    assert message["Authentication-Results"] == AUTH  # the DKIM/DMARC verdict survives
    for name in ("From", "To", "Subject", "Message-ID", "Content-Type"):
        assert message[name] == parse(raw)[name]
    assert message["X-LinkGuard"] == "rewritten=1; skipped=0"
    [link] = sealed_links(message)
    assert claims_of(link) == ("https://example.com/report?id=7", "bob@ours.test")
    body = delivered.content.split(b"\r\n\r\n", 1)[1]
    assert body == f"Read {link} today.\r\n".encode()


def test_split_per_recipient_and_untouched_outbound(fresh: Stack) -> None:
    fresh.send(crafted("three rcpts"), ("bob@ours.test", "carol@ours.test", "dan@else.test"))
    delivered = fresh.sink.wait(3)
    by_rcpt = {m.recipients[0]: m for m in delivered}
    assert sorted(by_rcpt) == ["bob@ours.test", "carol@ours.test", "dan@else.test"]
    for rcpt in ("bob@ours.test", "carol@ours.test"):
        [link] = sealed_links(parse(by_rcpt[rcpt].content))
        assert claims_of(link)[1] == rcpt
    assert b"X-LinkGuard" not in by_rcpt["dan@else.test"].content
    assert b"https://example.com/report?id=7" in by_rcpt["dan@else.test"].content


def test_already_rewritten_mail_passes_unchanged(fresh: Stack) -> None:
    fresh.send(crafted("twice"))
    [first] = fresh.sink.wait(1)
    fresh.sink.messages.clear()
    fresh.send(first.content)
    [second] = fresh.sink.wait(1)
    # Postfix adds its Received fields on top; everything after them is the same bytes.
    assert second.content.endswith(first.content)
    assert sealed_links(parse(second.content)) == sealed_links(parse(first.content))


_NOT_KEPT = {"content-transfer-encoding", "x-linkguard", "bcc", "resent-bcc", "content-length",
             "return-path"}


def _corpus_sample() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    files = sorted(p for p in CORPUS.rglob("*.eml") if b"http" in p.read_bytes())
    return files[::max(1, len(files) // 8)][:8]


@pytest.mark.data
@pytest.mark.skipif(not CORPUS.is_dir(), reason=SKIP_CORPUS)
def test_sample_messages_delivered_rewritten_and_intact(fresh: Stack) -> None:
    sample = _corpus_sample()
    assert len(sample) >= 6
    for path in sample:
        fresh.send(path.read_bytes())
    delivered = fresh.sink.wait(len(sample), timeout=30)
    total = 0
    for path in sample:
        original = parse(path.read_bytes())
        subject = original["Subject"]
        [message] = [parse(d.content) for d in delivered
                     if parse(d.content)["Subject"] == subject]
        assert message["X-LinkGuard"] is not None
        # Every header field of the original is still there with the same value (Postfix
        # adds Received and drops its message_drop_headers; the rewriter may change the
        # Content-Transfer-Encoding of a re-encoded single-part message).
        for name, value in original.items():
            if name.lower() in _NOT_KEPT:
                continue
            assert " ".join(str(value).split()) in [
                " ".join(str(v).split()) for v in message.get_all(name, [])], (path, name)
        assert [p.get_content_type() for p in message.walk()] == [
            p.get_content_type() for p in original.walk()], path
        for before, after in zip(original.walk(), message.walk(), strict=True):
            if before.get_content_maintype() not in ("text", "multipart", "message"):
                assert after.get_payload(decode=True) == before.get_payload(decode=True)
        links = sealed_links(message)
        for link in links:
            assert claims_of(link)[1] == "bob@ours.test"
        total += len(links)
    assert total > 0


def test_filter_down_mail_stays_queued_then_delivered(fresh: Stack) -> None:
    postfix, flt = fresh.postfix, fresh.filter
    flt.stop()
    try:
        for n in range(3):
            fresh.send(crafted(f"while down {n}"))
        # Postfix accepted the mail (250 to the sender) and keeps it: deferred, not bounced.
        entries = postfix.wait_queue(
            lambda q: len(q) == 3 and all(e["queue_name"] == "deferred" for e in q))
        for entry in entries:
            [rcpt] = entry["recipients"]  # type: ignore[misc]
            assert "connect to 127.0.0.1" in rcpt["delay_reason"] or "refused" in str(rcpt)
        assert fresh.sink.messages == []
    finally:
        flt.start()
    postfix.flush()
    delivered = fresh.sink.wait(3)
    assert sorted(parse(m.content)["Subject"] for m in delivered) == [
        f"while down {n}" for n in range(3)]
    assert all(len(sealed_links(parse(m.content))) == 1 for m in delivered)
    postfix.wait_queue(lambda q: q == [])


def test_reinjection_failure_defers_not_bounces(fresh: Stack) -> None:
    postfix, flt = fresh.postfix, fresh.filter
    real = flt.handler.deliver
    flt.handler.deliver = Reinjector("127.0.0.1", free_port(), timeout=2).send  # nobody there
    try:
        fresh.send(crafted("reinject down"))
        postfix.wait_queue(lambda q: len(q) == 1 and q[0]["queue_name"] == "deferred")
        assert "451 4.4.1" in postfix.log()
        assert fresh.sink.messages == []
    finally:
        flt.handler.deliver = real
    postfix.flush()
    [message] = fresh.sink.wait(1)
    assert parse(message.content)["Subject"] == "reinject down"
