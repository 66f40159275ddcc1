"""A real Postfix with ``linkguard milter`` in smtpd_milters, delivering to a sink.

The milter runs as the real command in a child process (libmilter keeps global state, so one
per process). ``milter_default_action = tempfail``: with the milter away, the sender gets a
4xx and keeps the message.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import Milter
import pytest

from linkguard.adapters.milter import InFlight, header_changes, header_fields, make_milter
from linkguard.mail import MailPolicy
from tests.adapters.local_http import LocalServer, serving
from tests.mail.mailkit import (
    BASE_URL,
    KEY_SPEC,
    Postfix,
    Sink,
    claims_of,
    contexts,
    free_port,
    postfix_available,
    postfix_root,
    wait_port,
)
from tests.mail.test_postfix_filter import AUTH, crafted, sealed_links

needs_postfix = pytest.mark.skipif(postfix_available() is not None,
                                   reason=postfix_available() or "")


class MilterProcess:
    def __init__(self, port: int, log: Path, rdap_bootstrap: Path) -> None:
        self.port = port
        self.log = log
        self.rdap_bootstrap = rdap_bootstrap  # prefetches go to a local RDAP server
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "LINKGUARD_LINK_KEYS": KEY_SPEC,
               "LINKGUARD_BASE_URL": BASE_URL, "LINKGUARD_MAIL_RECIPIENT_DOMAINS": "ours.test",
               "LINKGUARD_RDAP_BOOTSTRAP_FILE": str(self.rdap_bootstrap)}
        env.pop("LINKGUARD_REDIS_URL", None)
        with self.log.open("ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "linkguard.cli", "milter", "--socket",
                 f"inet:{self.port}@127.0.0.1"], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err)
        wait_port(self.port)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(20)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


@dataclass
class Stack:
    postfix: Postfix
    sink: Sink
    milter: MilterProcess
    rdap: LocalServer

    def send(self, raw: bytes, recipients: tuple[str, ...] = ("bob@ours.test",)) -> None:
        with smtplib.SMTP("127.0.0.1", self.postfix.smtp_port, timeout=30) as client:
            client.sendmail("alice@outside.test", list(recipients), raw)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if postfix_available() is not None:
        pytest.skip(postfix_available() or "")
    port = free_port()
    directory = tmp_path_factory.mktemp("milter")
    with postfix_root() as root, Sink() as sink, serving() as rdap:
        bootstrap = directory / "dns.json"
        bootstrap.write_text(json.dumps({"services": [[["com"], [f"{rdap.base}/rdap/"]]]}),
                             encoding="utf-8")
        postfix = Postfix(root, sink.port, mode="milter", milter=f"inet:127.0.0.1:{port}")
        milter = MilterProcess(port, directory / "milter.log", bootstrap)
        milter.start()
        try:
            postfix.start()
            yield Stack(postfix, sink, milter, rdap)
        finally:
            postfix.stop()
            if milter.process is not None and milter.process.poll() is None:
                milter.stop()


@pytest.fixture
def fresh(stack: Stack) -> Stack:
    stack.sink.messages.clear()
    return stack


def parse(raw: bytes) -> email.message.Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


@needs_postfix
def test_single_recipient_is_bound(fresh: Stack) -> None:
    raw = crafted("milter one").replace(b"Subject:", b"X-LinkGuard: forged\r\nSubject:")
    fresh.send(raw)
    [delivered] = fresh.sink.wait(1)
    message = parse(delivered.content)
    assert message["Authentication-Results"] == AUTH
    assert message.get_all("X-LinkGuard") == ["rewritten=1; skipped=0"]  # the forged one gone
    [link] = sealed_links(message)
    assert claims_of(link) == ("https://example.com/report?id=7", "bob@ours.test")
    assert delivered.content.endswith(f"\r\n\r\nRead {link} today.\r\n".encode())
    deadline = time.monotonic() + 10  # the milter looked the sealed link's domain up
    while "/rdap/domain/example.com" not in [seen.path for seen in fresh.rdap.seen]:
        assert time.monotonic() < deadline, "no prefetch reached the RDAP server"
        time.sleep(0.02)


@needs_postfix
def test_several_recipients_one_unbound_message(fresh: Stack) -> None:
    fresh.send(crafted("milter two"), ("bob@ours.test", "carol@ours.test"))
    [delivered] = fresh.sink.wait(1)
    assert sorted(delivered.recipients) == ["bob@ours.test", "carol@ours.test"]
    [link] = sealed_links(parse(delivered.content))
    assert claims_of(link) == ("https://example.com/report?id=7", None)


@needs_postfix
def test_mail_for_other_domains_is_left_alone(fresh: Stack) -> None:
    raw = crafted("milter outbound")
    fresh.send(raw, ("dan@else.test",))
    [delivered] = fresh.sink.wait(1)
    assert b"X-LinkGuard" not in delivered.content
    assert delivered.content.endswith(raw.split(b"\r\n\r\n", 1)[1])


@needs_postfix
def test_milter_down_is_a_temporary_failure_then_mail_flows(fresh: Stack) -> None:
    assert fresh.milter.stop() == 0  # SIGTERM: a clean exit
    try:
        with pytest.raises(smtplib.SMTPException) as caught:
            fresh.send(crafted("milter down"))
        code = getattr(caught.value, "smtp_code", None) or min(
            c for c, _ in getattr(caught.value, "recipients", {}).values())
        assert 400 <= code < 500  # the sender keeps the message and retries
        assert fresh.sink.messages == []
    finally:
        fresh.milter.start()
    fresh.send(crafted("milter back"))
    [delivered] = fresh.sink.wait(1)
    assert len(sealed_links(parse(delivered.content))) == 1


@pytest.mark.parametrize(("before", "after", "expected"), [
    ([("Subject", "s")], [("Subject", "s"), ("X-LinkGuard", "rewritten=1")],
     [("add", "X-LinkGuard", 0, "rewritten=1")]),
    ([("X-LinkGuard", "a"), ("X-Linkguard", "b")], [("X-LinkGuard", "c")],
     [("chg", "X-LinkGuard", 2, ""), ("chg", "X-LinkGuard", 1, "c")]),
    ([("Content-Transfer-Encoding", "8bit")], [("Content-Transfer-Encoding",
                                               "quoted-printable")],
     [("chg", "Content-Transfer-Encoding", 1, "quoted-printable")]),
    ([("A", "1"), ("A", "2")], [("A", "1"), ("A", "2")], []),
])
def test_header_changes(before: list[tuple[str, str]], after: list[tuple[str, str]],
                        expected: list[tuple[str, str, int, str]]) -> None:
    assert header_changes(before, after) == expected


def test_header_fields_keeps_folding() -> None:
    block = b"Subject: a\r\n b\r\nX-Empty:\r\nTo:  <x@y>"
    assert header_fields(block) == [("Subject", "a\r\n b"), ("X-Empty", ""), ("To", "<x@y>")]


# --- prefetch, on the milter class itself (no libmilter connection) ------------------------


class _Recording:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def __call__(self, sealed: Iterable[str]) -> None:
        self.calls.append(list(sealed))
        if self.fail:
            raise RuntimeError("prefetch broke")


def _end_of_message(hook: _Recording) -> tuple[Any, list[tuple[str, ...]]]:
    """One message through the milter's callbacks; (eom's answer, the changes it asked for)."""
    base = make_milter(MailPolicy(), contexts(), 1 << 20, InFlight(), hook)
    asked: list[tuple[str, ...]] = []

    class Probe(base):  # type: ignore[misc, valid-type]
        def addheader(self, name: str, value: str, *_: object) -> None:
            asked.append(("add", name, value))

        def chgheader(self, name: str, index: int, value: str) -> None:
            asked.append(("chg", name, str(index), value))

        def replacebody(self, chunk: bytes) -> None:
            asked.append(("body", chunk.decode()))

        def setreply(self, *reply: str) -> None:
            asked.append(("reply", *reply))

    milter = Probe()
    milter.envfrom("<alice@outside.test>")
    milter.envrcpt("<bob@ours.test>")
    milter.header("Subject", "s")
    milter.eoh()
    milter.body(b"Read https://example.com/report?id=7 today.\r\n")
    return milter.eom(), asked


def test_milter_prefetches_the_sealed_links() -> None:
    hook = _Recording()
    answer, asked = _end_of_message(hook)
    assert answer == Milter.ACCEPT
    assert hook.calls == [["https://example.com/report?id=7"]]
    assert ("add", "X-LinkGuard", "rewritten=1; skipped=0") in asked


def test_milter_answer_is_the_same_when_the_prefetch_fails() -> None:
    working, changes = _end_of_message(_Recording())
    failing, changes_failing = _end_of_message(_Recording(fail=True))
    assert working == failing == Milter.ACCEPT
    assert [c for c in changes_failing if c[0] != "body"] == \
        [c for c in changes if c[0] != "body"]  # bodies differ only by their fresh tokens
    assert not any(c[0] == "reply" for c in changes_failing)
