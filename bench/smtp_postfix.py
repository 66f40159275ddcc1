"""Messages per second through a real Postfix with the SMTP filter, beside Postfix alone.

Two Postfix instances of our own run side by side in the same run (the test kit's harness,
tests/mail/mailkit.py: temp dirs, loopback ports), both relaying to one aiosmtpd sink:

  (a) postfix alone   smtplib clients → Postfix smtpd → queue → smtp → sink
  (b) postfix+filter  the same, with ``content_filter`` to ``linkguard smtp-filter`` (a real
                      process, configured by environment as in production, real AES-GCM
                      tokens) which re-injects into a second smtpd → queue → smtp → sink

Each round submits the same message mix with several concurrent smtplib clients (one
connection each, several messages per connection): messages from ../shared/data/emails (read
in place), a generated newsletter with 50 links and short one-link mails. Figures per round:
messages/s from the first submit to the last delivery at the sink; latency per message (submit
→ delivered at the sink) p50/p99; CPU time of the Postfix processes (master and all its
children, read from /proc: reaped children count in the master's cutime/cstime) and of the
filter process, per message. Rounds alternate a/b (ab, ba, ab …); medians over rounds are
printed, with the ratio b/a. The rounds submit as fast as the clients can, so their latency is
mostly time in Postfix's queue behind the rest of the burst; a last pass sends 2 × 20
messages one at a time (each waits for the previous delivery) for the latency of an idle
pipeline.

    .venv/bin/python bench/smtp_postfix.py [--rounds 6] [--clients 4] [--repeat 3]
                                           [--pass-through]

Needs Postfix (Debian package) and root (Postfix's daemons drop to the postfix user).
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import smtplib
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test kit's real servers (Postfix, sink) are reused

from tests.mail.mailkit import (  # noqa: E402
    BASE_URL,
    CORPUS,
    KEY_SPEC,
    Postfix,
    Sink,
    free_port,
    postfix_available,
    postfix_root,
    wait_port,
)

SEQ = re.compile(rb"^X-Bench-Seq: (\d+)\r?$", re.M)
TICK = os.sysconf("SC_CLK_TCK")


# --- the message mix ----------------------------------------------------------------------------

def newsletter(links: int = 50) -> bytes:
    rows = "".join(f'<p><a href="https://shop{i % 17}.example/item/{i}?ref=mail">Item {i}</a> '
                   f"some text about the item {i}.</p>\r\n" for i in range(links))
    return (b"From: news@outside.test\r\nTo: bob@ours.test\r\nSubject: news\r\n"
            b"Message-ID: <news@outside.test>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/html; charset=utf-8\r\n\r\n" + rows.encode())


def short_mail(n: int) -> bytes:
    return (f"From: a@outside.test\r\nTo: bob@ours.test\r\nSubject: hi {n}\r\n"
            f"Message-ID: <short-{n}@outside.test>\r\n\r\n"
            f"See https://example.com/doc?id={n} before the meeting.\r\n").encode()


def corpus_sample(count: int = 8) -> list[bytes]:
    """``count`` messages with links, spread over the corpus (as the Postfix test picks them)."""
    if not CORPUS.is_dir():
        return []
    files = sorted(p for p in CORPUS.rglob("*.eml") if b"http" in p.read_bytes())
    picked = files[::max(1, len(files) // count)][:count]
    # With CRLF line ends, as a client on the wire sends them (smtplib sends bytes as they are).
    return [re.sub(rb"\r?\n", b"\r\n", p.read_bytes()) for p in picked]


def mix(repeat: int) -> list[tuple[str, bytes]]:
    """(kind, message): per repeat 8 corpus messages, 4 newsletters, 28 short mails, interleaved."""
    sample = corpus_sample()
    one: list[tuple[str, bytes]] = [("corpus", m) for m in sample]
    one += [("newsletter", newsletter())] * 4
    one += [("short", short_mail(n)) for n in range(40 - len(one))]
    out: list[tuple[str, bytes]] = []
    for r in range(repeat):
        # Interleave so the kinds are spread over the round, not one block each.
        out += [one[(i * 7 + r) % len(one)] for i in range(len(one))]
    return out


# --- CPU time from /proc ------------------------------------------------------------------------

def _stat(pid: int) -> tuple[int, float]:
    """(ppid, utime + stime + cutime + cstime in seconds) of one process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), sum(int(f) for f in fields[11:15]) / TICK


def tree_cpu(top: int) -> float:
    """CPU seconds of ``top`` and every live descendant, reaped children included."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = _stat(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [top]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo += children.get(pid, [])
    return total


def master_pid(postfix: Postfix) -> int:
    return int((postfix.root / "queue" / "pid" / "master.pid").read_text().split()[0])


# --- the two configurations ---------------------------------------------------------------------

@dataclass
class Config:
    name: str
    postfix: Postfix
    filter_pid: int | None = None

    def cpu(self) -> tuple[float, float]:
        """(Postfix CPU s, filter CPU s) so far."""
        flt = tree_cpu(self.filter_pid) if self.filter_pid else 0.0
        return tree_cpu(master_pid(self.postfix)), flt


@contextmanager
def filter_process(postfix: Postfix, domain: str) -> Iterator[subprocess.Popen[bytes]]:
    """``linkguard smtp-filter`` as a service would run it, configured by environment."""
    env = dict(os.environ,
               LINKGUARD_LINK_KEYS=KEY_SPEC, LINKGUARD_BASE_URL=BASE_URL,
               LINKGUARD_MAIL_RECIPIENT_DOMAINS=domain,
               LINKGUARD_MAIL_LISTEN=f"127.0.0.1:{postfix.filter_port}",
               LINKGUARD_MAIL_REINJECT=f"127.0.0.1:{postfix.reinject_port}",
               PYTHONPATH=str(ROOT))  # this checkout's code, whichever venv runs it
    log = (postfix.root / "filter.log").open("wb")
    command = [sys.executable, "-c", "from linkguard.cli import main; main()", "smtp-filter"]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                               cwd=postfix.root)
    try:
        wait_port(postfix.filter_port, timeout=30)
        yield process
    finally:
        process.terminate()
        process.wait(30)
        log.close()


# --- one round ----------------------------------------------------------------------------------

@dataclass
class Round:
    msgs_per_s: float
    p50_ms: float
    p99_ms: float
    postfix_cpu_ms: float  # per message
    filter_cpu_ms: float  # per message
    rewritten: int
    by_kind_p50_ms: dict[str, float]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_round(config: Config, sink: Sink, messages: list[tuple[str, bytes]], clients: int,
              first_seq: int) -> Round:
    sink.messages.clear()
    work: queue.Queue[int] = queue.Queue()
    for i in range(len(messages)):
        work.put(i)
    submitted: dict[int, float] = {}
    errors: list[BaseException] = []

    def client() -> None:
        try:
            with smtplib.SMTP("127.0.0.1", config.postfix.smtp_port, timeout=120) as smtp:
                while True:
                    try:
                        i = work.get_nowait()
                    except queue.Empty:
                        return
                    raw = f"X-Bench-Seq: {first_seq + i}\r\n".encode() + messages[i][1]
                    submitted[first_seq + i] = time.monotonic()
                    smtp.sendmail("a@outside.test", ["bob@ours.test"], raw)
        except BaseException as exc:  # reported after the round
            errors.append(exc)

    cpu_before = config.cpu()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"{config.name}: a client failed: {errors[0]!r}")
    delivered = sink.wait(len(messages), timeout=300)
    cpu_after = config.cpu()

    arrived: dict[int, float] = {}
    rewritten = 0
    for item in delivered:
        found = SEQ.search(item.content)
        if found is None:
            raise SystemExit(f"{config.name}: a delivered message lost its X-Bench-Seq")
        arrived[int(found.group(1))] = item.at
        rewritten += b"\nX-LinkGuard: rewritten=" in item.content
    if sorted(arrived) != sorted(submitted):
        raise SystemExit(f"{config.name}: delivered {len(arrived)} distinct of {len(submitted)}")
    latency = {seq: (arrived[seq] - submitted[seq]) * 1000 for seq in submitted}
    elapsed = max(arrived.values()) - min(submitted.values())
    by_kind: dict[str, list[float]] = {}
    for i, (kind, _) in enumerate(messages):
        by_kind.setdefault(kind, []).append(latency[first_seq + i])
    n = len(messages)
    return Round(n / elapsed, percentile(list(latency.values()), 0.5),
                 percentile(list(latency.values()), 0.99),
                 (cpu_after[0] - cpu_before[0]) / n * 1000,
                 (cpu_after[1] - cpu_before[1]) / n * 1000, rewritten,
                 {k: statistics.median(v) for k, v in by_kind.items()})


def one_at_a_time(config: Config, sink: Sink, messages: list[tuple[str, bytes]],
                  first_seq: int) -> list[float]:
    """Latency in ms of each message sent alone: the next waits until the last is delivered."""
    sink.messages.clear()
    latency = []
    with smtplib.SMTP("127.0.0.1", config.postfix.smtp_port, timeout=120) as smtp:
        for i, (_, message) in enumerate(messages):
            started = time.monotonic()
            smtp.sendmail("a@outside.test", ["bob@ours.test"],
                          f"X-Bench-Seq: {first_seq + i}\r\n".encode() + message)
            latency.append((sink.wait(i + 1, timeout=60)[i].at - started) * 1000)
    return latency


# --- main ---------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="rounds per configuration")
    parser.add_argument("--clients", type=int, default=4, help="concurrent smtplib clients")
    parser.add_argument("--repeat", type=int, default=3,
                        help="the 40-message mix this many times per round")
    parser.add_argument("--pass-through", action="store_true",
                        help="the filter's policy wants no recipient: it re-injects every "
                             "message untouched (the cost of the detour alone)")
    args = parser.parse_args()
    if (why := postfix_available()) is not None:
        raise SystemExit(why)
    messages = mix(args.repeat)
    kinds = {k: sum(1 for m in messages if m[0] == k) for k, _ in messages}
    sizes = sum(len(m) for _, m in messages)
    print(f"{len(messages)} messages per round ({', '.join(f'{v} {k}' for k, v in kinds.items())};"
          f" {sizes / len(messages) / 1024:.1f} KB mean), {args.clients} clients, "
          f"{args.rounds} rounds per configuration, load average "
          f"{os.getloadavg()[0]:.1f} at start", flush=True)

    with ExitStack() as stack:
        sink = stack.enter_context(Sink())
        plain = Postfix(stack.enter_context(postfix_root()), sink.port, mode="plain")
        filtered = Postfix(stack.enter_context(postfix_root()), sink.port,
                           filter_port=free_port())
        for postfix in (plain, filtered):
            postfix.start()
            stack.callback(postfix.stop)
        domain = "nobody.test" if args.pass_through else "ours.test"
        flt = stack.enter_context(filter_process(filtered, domain))
        configs = {"a": Config("postfix alone", plain),
                   "b": Config("postfix + filter", filtered, flt.pid)}

        seq = 0
        for config in configs.values():  # warm up: daemons spawned, caches filled, imports done
            run_round(config, sink, messages[:20], args.clients, seq)
            seq += 1000
        results: dict[str, list[Round]] = {"a": [], "b": []}
        for r in range(args.rounds):
            for key in ("ab" if r % 2 == 0 else "ba"):
                result = run_round(configs[key], sink, messages, args.clients, seq)
                seq += 1000
                results[key].append(result)
                print(f"  round {r + 1} {key}: {result.msgs_per_s:6.1f} msg/s  p50 "
                      f"{result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms  CPU/msg postfix "
                      f"{result.postfix_cpu_ms:5.2f} ms filter {result.filter_cpu_ms:5.2f} ms  "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
        alone: dict[str, list[float]] = {"a": [], "b": []}
        sample = messages[:20]
        for r in range(2):  # latency without a backlog: one message in the pipeline at a time
            for key in ("ab" if r % 2 == 0 else "ba"):
                alone[key] += one_at_a_time(configs[key], sink, sample, seq)
                seq += 1000
        if (results["b"][0].rewritten == 0) != args.pass_through or results["a"][0].rewritten:
            raise SystemExit("the filter did not rewrite (b) or rewrote when it should not")

    def med(key: str, attr: str) -> float:
        return float(statistics.median(getattr(x, attr) for x in results[key]))

    def cpu(key: str) -> float:
        return statistics.median(x.postfix_cpu_ms + x.filter_cpu_ms for x in results[key])

    mode = " (filter in pass-through)" if args.pass_through else ""
    print(f"\nmedians of {args.rounds} rounds each{mode} (b rewrote "
          f"{results['b'][0].rewritten} of {len(messages)} messages per round)")
    print(f"{'':<26} {'postfix alone':>14} {'postfix+filter':>15} {'ratio b/a':>10}")
    rows = [("messages/s", "msgs_per_s", "{:.1f}"), ("latency p50 ms", "p50_ms", "{:.0f}"),
            ("latency p99 ms", "p99_ms", "{:.0f}"),
            ("CPU/msg postfix ms", "postfix_cpu_ms", "{:.2f}"),
            ("CPU/msg filter ms", "filter_cpu_ms", "{:.2f}")]
    for label, attr, fmt in rows:
        a, b = med("a", attr), med("b", attr)
        ratio = f"{b / a:.2f}x" if a else "-"
        print(f"{label:<26} {fmt.format(a):>14} {fmt.format(b):>15} {ratio:>10}")
    a, b = cpu("a"), cpu("b")
    print(f"{'CPU/msg postfix+filter ms':<26} {a:>14.2f} {b:>15.2f} {b / a:>9.2f}x")
    print(f"{'msg/s at that CPU, 1 core':<26} {1000 / a:>14.0f} {1000 / b:>15.0f} "
          f"{a / b:>9.2f}x")
    for kind in kinds:
        ka = statistics.median(x.by_kind_p50_ms[kind] for x in results["a"])
        kb = statistics.median(x.by_kind_p50_ms[kind] for x in results["b"])
        print(f"{'latency p50 ms, ' + kind:<26} {ka:>14.0f} {kb:>15.0f} {kb / ka:>9.2f}x")
    a, b = statistics.median(alone["a"]), statistics.median(alone["b"])
    print(f"{'1 at a time: p50 ms':<26} {a:>14.0f} {b:>15.0f} {b / a:>9.2f}x")
    a, b = percentile(alone["a"], 0.99), percentile(alone["b"], 0.99)
    print(f"{'1 at a time: p99 ms':<26} {a:>14.0f} {b:>15.0f} {b / a:>9.2f}x")


if __name__ == "__main__":
    main()
