"""The SMTP filter's answers, against real aiosmtpd servers on loopback (no Postfix here).

Every fault of ours must be a 4xx, so the MTA keeps the message; malformed or over-size mail
must come out the other end, not bounce.
"""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from linkguard.adapters.smtp_filter import parse_hostport
from linkguard.core.tokens import generate_key_spec
from linkguard.mail import MailPolicy
from linkguard.rewriter import RewriteContext
from tests.adapters.local_http import LocalServer, serving
from tests.mail.mailkit import (
    PREFIX,
    FilterThread,
    Sink,
    broken,
    claims_of,
    contexts,
    free_port,
    misconfigured,
    wait_port,
)

LINKED = (b"From: a@outside.test\r\nTo: b@ours.test\r\nSubject: s\r\n"
          b"Authentication-Results: mx.ours.test; dkim=pass header.d=outside.test\r\n\r\n"
          b"see https://example.com/x\r\n")


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink() as server:
        yield server


def send(port: int, raw: bytes, recipients: tuple[str, ...] = ("b@ours.test",)) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail("a@outside.test", list(recipients), raw)


def answer(port: int, raw: bytes = LINKED) -> tuple[int, str]:
    try:
        send(port, raw)
    except smtplib.SMTPDataError as exc:
        return exc.smtp_code, exc.smtp_error.decode()
    return 250, ""


def test_rewrites_and_reinjects(sink: Sink) -> None:
    with FilterThread(sink.port) as flt:
        send(flt.port, LINKED, ("b@ours.test", "c@ours.test"))
    got = sink.wait(2)
    assert sorted(m.recipients[0] for m in got) == ["b@ours.test", "c@ours.test"]
    for message in got:
        head, _, body = message.content.partition(b"\r\n\r\n")
        assert head.startswith(LINKED.split(b"\r\n\r\n")[0])  # headers intact, in order
        assert head.endswith(b"X-LinkGuard: rewritten=1; skipped=0")
        link = body.split()[1].decode()
        assert claims_of(link) == ("https://example.com/x", message.recipients[0])


@pytest.mark.parametrize("options", [["BODY=8BITMIME"], ["SMTPUTF8", "BODY=8BITMIME"]])
def test_eight_bit_and_utf8_mail(sink: Sink, options: list[str]) -> None:
    raw = "From: a@outside.test\r\nSubject: Grüße\r\n\r\nsiehe https://bücher.example/ä\r\n"
    with FilterThread(sink.port) as flt, smtplib.SMTP("127.0.0.1", flt.port) as client:
        client.sendmail("a@outside.test", ["b@ours.test"], raw.encode(), mail_options=options)
    [message] = sink.wait(1)
    assert "Grüße".encode() in message.content
    assert PREFIX.encode() in message.content


def test_internal_error_is_451(sink: Sink) -> None:
    with FilterThread(sink.port, make=broken) as flt:
        code, text = answer(flt.port)
    assert (code, text.split()[0]) == (451, "4.3.0")
    assert sink.messages == []


def test_misconfigured_sealer_is_451(sink: Sink) -> None:
    with FilterThread(sink.port, make=misconfigured) as flt:
        code, text = answer(flt.port)
    assert (code, text.split()[0]) == (451, "4.3.5")


def test_reinjection_down_is_451() -> None:
    with FilterThread(free_port()) as flt:  # nothing listens on the re-injection port
        code, text = answer(flt.port)
    assert (code, text.split()[0]) == (451, "4.4.1")


def test_reinjection_tempfail_is_451() -> None:
    with Sink(answer="452 4.3.1 queue full") as sink, FilterThread(sink.port) as flt:
        code, _ = answer(flt.port)
    assert code == 451


def test_reinjection_timeout_is_451() -> None:
    # A server that accepts the connection and never says a word.
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        with FilterThread(mute.getsockname()[1], reinject_timeout=0.5) as flt:
            code, _ = answer(flt.port)
    assert code == 451


def test_permanent_refusal_of_one_copy_is_passed_on() -> None:
    with Sink(answer="554 5.7.1 content rejected") as sink, FilterThread(sink.port) as flt:
        code, text = answer(flt.port)
    assert (code, text) == (554, "5.7.1 content rejected")


def data_reply(port: int, recipients: tuple[str, ...] = ("b@ours.test",)) -> tuple[int, bytes]:
    """The filter's full answer to DATA (code and text)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        client.mail("a@outside.test")
        for recipient in recipients:
            client.rcpt(recipient)
        return client.data(LINKED)


class Recording:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def __call__(self, sealed: Iterable[str]) -> None:
        self.calls.append(list(sealed))
        if self.fail:
            raise RuntimeError("prefetch broke")


def test_sealed_links_are_prefetched_once_after_delivery(sink: Sink) -> None:
    hook = Recording()
    with FilterThread(sink.port, prefetch=hook) as flt:
        send(flt.port, LINKED, ("b@ours.test", "c@ours.test"))  # two copies, one link
        sink.wait(2)
        send(flt.port, b"Subject: no links\r\n\r\nhello\r\n")
        sink.wait(3)
    assert hook.calls == [["https://example.com/x"]]


def test_a_failing_prefetch_does_not_change_the_answer(sink: Sink) -> None:
    with FilterThread(sink.port) as flt:
        without = data_reply(flt.port)
    hook = Recording(fail=True)
    with FilterThread(sink.port, prefetch=hook) as flt:
        failing = data_reply(flt.port)
    assert hook.calls == [["https://example.com/x"]]  # it was called, and raised
    assert failing == without == (250, b"2.0.0 OK: 1 copy, 1 rewritten")
    assert len(sink.wait(2)) == 2


def test_deferred_mail_is_not_prefetched() -> None:
    hook = Recording()
    with FilterThread(free_port(), prefetch=hook) as flt:
        assert answer(flt.port)[0] == 451  # re-injection down: Postfix keeps the message
    assert hook.calls == []


def test_permanent_refusal_of_one_of_several_copies_is_451() -> None:
    with Sink(answer="554 5.7.1 content rejected") as sink, FilterThread(sink.port) as flt:
        try:
            send(flt.port, LINKED, ("b@ours.test", "c@ours.test"))
        except smtplib.SMTPDataError as exc:
            code = exc.smtp_code
    assert code == 451


MALFORMED = {
    "no header block": b"just some text https://example.com/a\r\nand more\r\n",
    "broken boundary": (b"Content-Type: multipart/mixed; boundary=\"nope\"\r\n\r\n"
                        b"--other\r\nContent-Type: text/plain\r\n\r\nhttps://example.com/\r\n"),
    "boundary missing": b"Content-Type: multipart/alternative\r\n\r\nhttps://example.com/\r\n",
    "bad base64": (b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                   b"!!!not base64 https://example.com/\r\n"),
    "unknown charset": (b"Content-Type: text/plain; charset=x-nothing\r\n\r\n"
                        b"https://example.com/\r\n"),
    "unknown encoding": (b"Content-Type: text/html\r\nContent-Transfer-Encoding: x-weird\r\n\r\n"
                         b"<a href=\"https://example.com/\">x</a>\r\n"),
    "bad header syntax": b"From a@b\r\n: empty name\r\n\r\nhttps://example.com/\r\n",
    "nul and 8bit bytes": b"Subject: \x00\xff\xfe\r\n\r\n\x00https://example.com/\xff\r\n",
    "deep nesting": (b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n" * 30
                     + b"\r\nhttps://example.com/\r\n"),
    "signed": (b"Content-Type: multipart/signed; boundary=s; protocol=x\r\n\r\n--s\r\n\r\n"
               b"https://example.com/\r\n--s--\r\n"),
    "long line": b"Subject: s\r\n\r\n" + b"x" * 5000 + b" https://example.com/\r\n",
    "no final newline": b"Subject: s\r\n\r\nhttps://example.com/",
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_mail_is_delivered(sink: Sink, name: str) -> None:
    raw = MALFORMED[name]
    with FilterThread(sink.port) as flt:
        send(flt.port, raw)
    [message] = sink.wait(1)
    # Delivered, with at most our header added and (where readable) the link sealed: nothing
    # of the message is lost. Our header says what happened.
    assert message.content.count(b"X-LinkGuard: ") == 1
    if b"rewritten=1" not in message.content:
        without = message.content.replace(
            message.content[message.content.index(b"X-LinkGuard: "):].split(b"\r\n")[0]
            + b"\r\n", b"", 1)
        expected = raw if raw.endswith(b"\r\n") else raw + b"\r\n"  # SMTP ends with CRLF
        assert without == expected


def test_over_size_mail_passes_unchanged(sink: Sink) -> None:
    raw = LINKED + b"x" * 2000 + b"\r\n"
    with FilterThread(sink.port, make=contexts(max_bytes=1000)) as flt:
        send(flt.port, raw)
    [message] = sink.wait(1)
    assert b"X-LinkGuard: passthrough=mime.too_large\r\n" in message.content
    assert message.content.replace(b"X-LinkGuard: passthrough=mime.too_large\r\n", b"") == raw


def test_unwanted_recipients_get_the_message_untouched(sink: Sink) -> None:
    policy = MailPolicy(domains=frozenset({"ours.test"}))
    with FilterThread(sink.port, policy=policy) as flt:
        send(flt.port, LINKED, ("x@elsewhere.test",))
    [message] = sink.wait(1)
    assert message.content == LINKED


def test_graceful_stop_finishes_the_message_in_flight(sink: Sink) -> None:
    started = threading.Event()
    fast = contexts()

    def slow(recipient: str | None, message_id: str | None) -> RewriteContext:
        started.set()
        time.sleep(1.0)
        return fast(recipient, message_id)

    flt = FilterThread(sink.port, make=slow).start()
    outcome: list[object] = []
    client = threading.Thread(target=lambda: outcome.append(answer(flt.port)))
    client.start()
    assert started.wait(10)
    left = flt.stop(grace=10)  # while the message is being rewritten
    client.join(10)
    assert left == 0
    assert outcome == [(250, "")]
    assert len(sink.wait(1)) == 1
    with pytest.raises(ConnectionRefusedError):  # and nothing listens any more
        smtplib.SMTP("127.0.0.1", flt.port, timeout=2)


def test_draining_filter_refuses_new_mail_with_421(sink: Sink) -> None:
    with FilterThread(sink.port) as flt, smtplib.SMTP("127.0.0.1", flt.port) as client:
        client.ehlo()
        flt.handler.draining = True
        code, _ = client.mail("a@outside.test")
        assert code == 421


@pytest.mark.parametrize(("value", "expected"), [
    ("127.0.0.1:10025", ("127.0.0.1", 10025)),
    ("[::1]:10026", ("::1", 10026)),
    ("10025", ("127.0.0.1", 10025)),
    ("localhost:1", ("localhost", 1)),
])
def test_parse_hostport(value: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(value) == expected


@pytest.mark.parametrize("value", ["", "host:", "host:0", "host:65536", "host:port", ":x"])
def test_parse_hostport_refuses(value: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        parse_hostport(value)


def _cli(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        return subprocess.Popen([sys.executable, "-m", "linkguard.cli", *args], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)


def local_rdap_bootstrap(server: LocalServer, path: Path) -> Path:
    """A bootstrap file sending every .com lookup to ``server`` (nothing leaves loopback)."""
    path.write_text(json.dumps({"services": [[["com"], [f"{server.base}/rdap/"]]]}),
                    encoding="utf-8")
    return path


def test_cli_runs_prefetches_and_exits_cleanly_on_sigterm(sink: Sink, tmp_path: Path) -> None:
    port = free_port()
    with serving() as rdap:
        env = {**os.environ, "LINKGUARD_LINK_KEYS": generate_key_spec("c1"),
               "LINKGUARD_BASE_URL": "https://lg.test", "LINKGUARD_DATA_DIR": str(tmp_path),
               "LINKGUARD_MAIL_LISTEN": f"127.0.0.1:{port}",
               "LINKGUARD_MAIL_REINJECT": f"127.0.0.1:{sink.port}",
               "LINKGUARD_RDAP_BOOTSTRAP_FILE": str(local_rdap_bootstrap(
                   rdap, tmp_path / "dns.json"))}
        env.pop("LINKGUARD_REDIS_URL", None)
        log = tmp_path / "stderr"
        process = _cli("smtp-filter", env=env, log=log)
        try:
            wait_port(port)
            send(port, LINKED)
            assert PREFIX.encode() in sink.wait(1)[0].content
            deadline = time.monotonic() + 10  # the sealed link's domain is looked up
            while [s.path for s in rdap.seen] != ["/rdap/domain/example.com"]:
                assert time.monotonic() < deadline, [s.path for s in rdap.seen]
                time.sleep(0.02)
            process.send_signal(signal.SIGTERM)
            assert process.wait(20) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert b"listening on 127.0.0.1" in log.read_bytes()


def test_cli_refuses_to_start_without_keys(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKGUARD_")}
    env["LINKGUARD_DATA_DIR"] = str(tmp_path)
    log = tmp_path / "stderr"
    process = _cli("smtp-filter", env=env, log=log)
    assert process.wait(30) == 2
    assert b"no link keys" in log.read_bytes()
