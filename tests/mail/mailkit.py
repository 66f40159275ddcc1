"""Real servers for the mail tests: a delivery sink, the filter in a thread, a Postfix instance.

Everything listens on 127.0.0.1 on ports the kernel hands out. The Postfix instance is a
separate one (own config, queue and data directories in a temp dir), started with
``postfix -c DIR start`` and always stopped by the fixture that made it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from linkguard.adapters.smtp_filter import FilterHandler, FilterServer, Reinjector
from linkguard.core.tokens import KeyRing, generate_key_spec, open_token
from linkguard.mail import ContextFactory, MailPolicy, Prefetch
from linkguard.rewriter import RewriteContext
from linkguard.rewriter.sealer import TokenSealer

BASE_URL = "https://lg.test"
PREFIX = BASE_URL + "/r/"
KEY_SPEC = generate_key_spec("t1")
KEYS = KeyRing.parse(KEY_SPEC)
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "emails"
SKIP_CORPUS = f"sample corpus not found at {CORPUS} (public data of ../shared/data/emails)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def contexts(max_bytes: int = 50 * 1024 * 1024) -> ContextFactory:
    def make(recipient: str | None, message_id: str | None) -> RewriteContext:
        sealer = TokenSealer(keys=KEYS, base_url=BASE_URL, issued_at=int(time.time()),
                             recipient=recipient, message_id=message_id)
        return RewriteContext(sealer=sealer, is_sealed=sealer.is_sealed, max_bytes=max_bytes)

    return make


def raising_sealer(url: str, *, display_text: str | None, index: int) -> str | None:
    del url, display_text, index
    raise RuntimeError("a bug in the sealer")


def broken(recipient: str | None, message_id: str | None) -> RewriteContext:
    """A context whose sealer raises: the rewriter reports internal.error."""
    del recipient, message_id
    return RewriteContext(sealer=raising_sealer)


def misconfigured(recipient: str | None, message_id: str | None) -> RewriteContext:
    """No context can be built, as when the link keys cannot be read."""
    del recipient, message_id
    raise ValueError("no link keys: set LINKGUARD_LINK_KEYS")


def claims_of(link: str) -> tuple[str, str | None]:
    """(destination, recipient) sealed in one of our links."""
    token = link[len(PREFIX):]
    claims = open_token(token, KEYS)
    assert not isinstance(claims, Exception), claims
    return claims.url, claims.recipient


@dataclass
class Delivered:
    sender: str
    recipients: list[str]
    content: bytes
    at: float = field(default_factory=time.monotonic)  # when the sink took it


class _SinkSMTP(SMTP):
    line_length_limit = 1 << 20  # as Postfix's smtpd: long lines are not ours to refuse


class _LongLines(Controller):
    def factory(self) -> SMTP:
        return _SinkSMTP(self.handler, **self.SMTP_kwargs)


class Sink:
    """The delivery end: an aiosmtpd server that keeps what it is given."""

    def __init__(self, answer: str = "250 OK") -> None:
        self.messages: list[Delivered] = []
        self.answer = answer
        self.arrived = threading.Condition()
        self.controller = _LongLines(self, hostname="127.0.0.1", port=free_port(),
                                     data_size_limit=None)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    async def handle_DATA(self, server: SMTP, session: Session,  # noqa: N802 - aiosmtpd hook
                          envelope: Envelope) -> str:
        del server, session
        if not self.answer.startswith("250"):
            return self.answer
        with self.arrived:
            self.messages.append(Delivered(envelope.mail_from or "", list(envelope.rcpt_tos),
                                           envelope.original_content or b""))
            self.arrived.notify_all()
        return self.answer

    def wait(self, count: int, timeout: float = 20.0) -> list[Delivered]:
        with self.arrived:
            ok = self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)
        assert ok, f"{len(self.messages)} of {count} message(s) delivered in {timeout} s"
        return list(self.messages)

    def __enter__(self) -> Sink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class FilterThread:
    """The SMTP filter (FilterServer) on its own event loop in a thread; start and stop at will."""

    def __init__(self, reinject_port: int, *, policy: MailPolicy | None = None,
                 make: ContextFactory | None = None, port: int | None = None,
                 reinject_timeout: float = 10.0, prefetch: Prefetch | None = None) -> None:
        self.port = port or free_port()
        self.handler = FilterHandler(policy or MailPolicy(), make or contexts(),
                                     Reinjector("127.0.0.1", reinject_port,
                                                timeout=reinject_timeout).send, prefetch)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.server: FilterServer | None = None

    def start(self) -> FilterThread:
        self.handler.draining = False
        loop = asyncio.new_event_loop()
        self.server = FilterServer(self.handler, "127.0.0.1", self.port)
        loop.run_until_complete(self.server.start())
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self, grace: float = 10.0) -> int:
        assert self._loop is not None
        assert self.server is not None
        assert self._thread is not None
        left = asyncio.run_coroutine_threadsafe(self.server.stop(grace), self._loop).result(
            grace + 10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None
        return left

    def __enter__(self) -> FilterThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self.stop()


_MASTER_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def postfix_available() -> str | None:
    """Why Postfix cannot be used here, or None when it can."""
    if shutil.which("postfix") is None and not Path("/usr/sbin/postfix").exists():
        return "postfix is not installed (.ci/run installs the Debian package)"
    try:
        import pwd  # noqa: PLC0415 - POSIX only, like Postfix itself

        pwd.getpwnam("postfix")
    except KeyError:
        return "no 'postfix' user (install the Debian package)"
    return None


@contextlib.contextmanager
def postfix_root() -> Iterator[Path]:
    """A directory for one Postfix instance, removed afterwards.

    Not under pytest's tmp_path: that lies below a 0700 directory, and Postfix's daemons, which
    run as the postfix user, must be able to walk down to their queue and data directories.
    """
    root = Path(tempfile.mkdtemp(prefix="linkguard-postfix-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Postfix:
    """A Postfix instance of our own in ``root``: SMTP on ``smtp_port``, mail out to the sink.

    ``mode`` is "filter" (content_filter to ``filter_port``, re-injection on ``reinject_port``),
    "milter" (smtpd_milters = ``milter`` socket) or "plain" (Postfix alone, relaying to the sink).
    """

    root: Path
    sink_port: int
    mode: str = "filter"
    filter_port: int = 0
    milter: str = ""
    smtp_port: int = field(default_factory=free_port)
    reinject_port: int = field(default_factory=free_port)

    @property
    def config(self) -> Path:
        return self.root / "etc"

    def write_config(self) -> None:
        for name in ("etc", "queue", "data"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        # Postfix's daemons drop to the postfix user: it must reach the queue and own data/.
        self.root.chmod(0o755)
        shutil.chown(self.root / "data", "postfix", "postfix")
        main = [
            "compatibility_level = 3.6",
            f"queue_directory = {self.root / 'queue'}",
            f"data_directory = {self.root / 'data'}",
            f"maillog_file = {self.root / 'maillog'}",
            f"maillog_file_prefixes = {self.root}",
            "mail_owner = postfix",
            "setgid_group = postdrop",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            "myhostname = mx.lg.test",
            "mydomain = lg.test",
            "mydestination =",
            "mynetworks = 127.0.0.0/8",
            "smtpd_relay_restrictions = permit_mynetworks, reject",
            "alias_maps =",
            "alias_database =",
            "local_recipient_maps =",
            f"relayhost = [127.0.0.1]:{self.sink_port}",
            "smtp_dns_support_level = disabled",
            "biff = no",
            # Retry deferred mail quickly, so a test sees a retry within seconds.
            "queue_run_delay = 1s",
            "minimal_backoff_time = 1s",
            "maximal_backoff_time = 2s",
            "delay_warning_time = 0",
        ]
        smtpd = f"127.0.0.1:{self.smtp_port} inet n - n - - smtpd"
        master = [_MASTER_SERVICES]
        if self.mode == "filter":
            main.append(f"content_filter = linkguard:[127.0.0.1]:{self.filter_port}")
            master += [
                smtpd,
                "linkguard unix - - n - 4 smtp",
                "  -o smtp_send_xforward_command=yes",
                "  -o smtp_data_done_timeout=120s",
                f"127.0.0.1:{self.reinject_port} inet n - n - 10 smtpd",
                "  -o content_filter=",
                "  -o receive_override_options=no_unknown_recipient_checks,"
                "no_header_body_checks,no_milters",
                "  -o smtpd_client_restrictions=",
                "  -o smtpd_helo_restrictions=",
                "  -o smtpd_sender_restrictions=",
                "  -o smtpd_relay_restrictions=permit_mynetworks,reject",
                "  -o smtpd_recipient_restrictions=",
                "  -o mynetworks=127.0.0.0/8",
                "  -o smtpd_authorized_xforward_hosts=127.0.0.0/8",
            ]
        elif self.mode == "milter":
            main += [f"smtpd_milters = {self.milter}", "milter_default_action = tempfail",
                     "milter_protocol = 6"]
            master.append(smtpd)
        elif self.mode == "plain":
            master.append(smtpd)
        else:
            raise ValueError(f"unknown mode {self.mode!r}")
        (self.config / "main.cf").write_text("\n".join(main) + "\n")
        (self.config / "master.cf").write_text("\n".join(master) + "\n")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, capture_output=True, text=True, timeout=60, check=check)

    def start(self) -> None:
        self.write_config()
        result = self.run("postfix", "-c", str(self.config), "start", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"postfix start failed: {result.stdout}{result.stderr}"
                               f"{self.log()}")
        wait_port(self.smtp_port)

    def stop(self) -> None:
        # abort: stop now, without waiting for deliveries (the queue is thrown away anyway).
        self.run("postfix", "-c", str(self.config), "abort", check=False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.smtp_port), timeout=0.5).close()
            except OSError:
                return
            time.sleep(0.1)

    def queue(self) -> list[dict[str, object]]:
        out = self.run("postqueue", "-c", str(self.config), "-j").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def flush(self) -> None:
        self.run("postqueue", "-c", str(self.config), "-f")

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_queue(self, predicate: Callable[[list[dict[str, object]]], bool],
                   timeout: float = 20.0) -> list[dict[str, object]]:
        deadline = time.monotonic() + timeout
        while True:
            entries = self.queue()
            if predicate(entries):
                return entries
            if time.monotonic() > deadline:
                raise AssertionError(f"queue never matched; it holds {entries}\n{self.log()}")
            time.sleep(0.2)


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
