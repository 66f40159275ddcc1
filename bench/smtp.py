"""Messages per second through the SMTP filter, beside a pass-through filter in the same run.

Both runs use the same pipeline on loopback: smtplib client → our FilterServer (aiosmtpd) →
re-injection with smtplib → an aiosmtpd sink. The baseline's policy wants no recipient, so it
re-injects each message untouched; the difference is the cost of rewriting (and of the token
sealing inside it). Postfix is not in the loop: it would add the same queue work to both.

    .venv/bin/python bench/smtp.py [--rounds 3] [--recipients 1]
"""

from __future__ import annotations

import argparse
import re
import smtplib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test kit's real servers (sink, filter thread) are reused

from linkguard.mail import MailPolicy  # noqa: E402
from tests.mail.mailkit import CORPUS, FilterThread, Sink  # noqa: E402


def newsletter(links: int = 200) -> bytes:
    rows = "".join(f'<p><a href="https://shop{i % 17}.example/item/{i}?ref=mail">Item {i}</a> '
                   f"some text about the item {i}.</p>\r\n" for i in range(links))
    return (b"From: news@outside.test\r\nTo: bob@ours.test\r\nSubject: news\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            + rows.encode())


def workloads() -> dict[str, list[bytes]]:
    sets: dict[str, list[bytes]] = {}
    if CORPUS.is_dir():
        # With CRLF line ends, as Postfix hands mail on (smtplib sends bytes as they are).
        sample = [re.sub(rb"\r?\n", b"\r\n", p.read_bytes()) for p in sorted(CORPUS.rglob("*.eml"))]
        sets[f"sample corpus ({len(sample)} msgs)"] = sample
    sets["newsletter (200 links)"] = [newsletter()] * 100
    sets["short text mail (1 link)"] = [
        b"From: a@outside.test\r\nTo: bob@ours.test\r\nSubject: hi\r\n\r\n"
        b"See https://example.com/doc?id=1 before the meeting.\r\n"] * 300
    return sets


def run(messages: list[bytes], policy: MailPolicy, recipients: list[str]) -> float:
    with Sink() as sink, FilterThread(sink.port, policy=policy) as flt:
        with smtplib.SMTP("127.0.0.1", flt.port, timeout=60) as client:
            started = time.perf_counter()
            for raw in messages:
                client.sendmail("a@outside.test", recipients, raw)
            elapsed = time.perf_counter() - started
        if len(sink.messages) < len(messages):
            raise SystemExit(f"only {len(sink.messages)} of {len(messages)} delivered")
    return len(messages) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="best of N per figure")
    parser.add_argument("--recipients", type=int, default=1,
                        help="envelope recipients per message (each gets its own copy)")
    args = parser.parse_args()
    recipients = [f"user{i}@ours.test" for i in range(args.recipients)]
    rewrite = MailPolicy(domains=frozenset({"ours.test"}))
    passthrough = MailPolicy(domains=frozenset({"nobody.test"}))
    print(f"{'workload':<34} {'filter msg/s':>13} {'pass-through msg/s':>19} {'ratio':>7}")
    for name, messages in workloads().items():
        ours = max(run(messages, rewrite, recipients) for _ in range(args.rounds))
        base = max(run(messages, passthrough, recipients) for _ in range(args.rounds))
        print(f"{name:<34} {ours:>13.0f} {base:>19.0f} {ours / base:>6.2f}x")


if __name__ == "__main__":
    main()
