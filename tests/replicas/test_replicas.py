"""Several replicas, one truth: three real ``linkguard serve`` processes on loopback ports,
sharing a fresh PostgreSQL database and a Redis key prefix, driven over real HTTP.

What a deployment behind a load balancer relies on, shown end to end:

1. a link sealed anywhere (``linkguard rewrite`` in its own process) is served identically by
   every replica;
2. a confirmation nonce issued by one replica is accepted exactly once across all of them, even
   when the same form is posted to all three at the same moment;
3. a list change made through the shared store reaches every replica within the poll bound
   (at once with Redis' notification, within ``LINKGUARD_LIST_POLL_S`` by polling alone);
4. click rate limits are shared: one client spread over three replicas gets the limit once;
5. a replica stopped with SIGTERM, after a burst or in the middle of one, writes every
   click-log entry it had accepted;
6. with Redis down (a private redis-server, stopped and started again) clicks are still served
   under local limits, /readyz says degraded, confirmations fail closed with a 503 page, and
   Redis is used again when it is back.

The replicas sit "behind a proxy" (``LINKGUARD_TRUSTED_PROXIES=127.0.0.1``): each scenario
names its client in ``X-Forwarded-For``, so the small shared click limit (9 per minute) counts
each scenario's client on its own. Skips only when PostgreSQL or Redis cannot be reached.
"""

from __future__ import annotations

import itertools
import re
import secrets
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from linkguard.core.lists import Action, ListEntry, MatchKind
from linkguard.core.tokens import KeyRing, LinkClaims, generate_key_spec, seal
from tests.replicas.cluster import (
    REDIS_URL,
    RedisProcess,
    Replica,
    clean_env,
    fresh_database,
    linkguard_command,
    postgres_unreachable,
    redis_prefix,
    redis_unreachable,
    start_all,
    stop_all,
)
from tests.support.smtp_sink import Sink, smtp_sink

BASE = "http://links.test"  # the public name in front of the replicas
ORIGIN = {"origin": BASE, "sec-fetch-site": "same-origin"}
BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0",
           "accept": "text/html,application/xhtml+xml,*/*;q=0.8",
           "accept-language": "en-GB,en;q=0.9", "sec-fetch-mode": "navigate"}
RECIPIENT = "alice@corp.test"
CLICK_LIMIT = 9
LIST_POLL_S = 1.0
PROPAGATION_MARGIN_S = 2.0  # a loaded 2-core machine: scheduling, a request in flight

ALLOWED = "https://docs.allowed-site.org/guide?x=1"
WARNED = "https://example.com/start"  # warned through its display text
WARN_TEXT = "https://www.paypal.com/"
CONFIRMED = "http://paypa1-login.com/verify/account"
BLOCKED = "https://evil.blocked-site.net/login"
NEUTRAL = "https://docs.python.org/3/library/"  # allowed until a list says otherwise

LISTS = """\
version: 1
allow:
  - domain: allowed-site.org
    reason: documentation site
block:
  - domain: blocked-site.net
    reason: incident 42
"""


def _skip_reason() -> str | None:
    return postgres_unreachable() or redis_unreachable()


@dataclass
class Shared:
    """What every replica of the run shares: keys, database, Redis prefix, mail relay."""

    directory: Path
    database_url: str
    prefix: str
    keys: str
    sink: Sink
    smtp_port: int
    session_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    _clients: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def ring(self) -> KeyRing:
        return KeyRing.parse(self.keys)

    def env(self, **overrides: str) -> dict[str, str]:
        lists = self.directory / "lists.yaml"
        lists.write_text(LISTS, encoding="utf-8")
        env = {
            "LINKGUARD_LINK_KEYS": self.keys, "LINKGUARD_BASE_URL": BASE,
            "LINKGUARD_DATABASE_URL": self.database_url, "LINKGUARD_REDIS_URL": REDIS_URL,
            "LINKGUARD_REDIS_PREFIX": self.prefix, "LINKGUARD_FACTS_ENABLED": "false",
            "LINKGUARD_LIST_POLL_S": str(LIST_POLL_S), "LINKGUARD_LIST_FILES": str(lists),
            "LINKGUARD_RATE_LIMIT_CLICKS": f"{CLICK_LIMIT}/60",
            "LINKGUARD_TRUSTED_PROXIES": "127.0.0.1", "LINKGUARD_ORG_NAME": "Corp Test",
            "LINKGUARD_SESSION_SECRET": self.session_secret, "LINKGUARD_MAILER": "smtp",
            "LINKGUARD_SMTP_HOST": "127.0.0.1", "LINKGUARD_SMTP_PORT": str(self.smtp_port),
            "LINKGUARD_SMTP_SECURITY": "none", "LINKGUARD_MAIL_FROM": "linkguard@corp.test",
        }
        env.update({f"LINKGUARD_{k.upper()}": v for k, v in overrides.items()})
        return env

    def link(self, url: str, *, message_id: str = "<m1@corp.test>",
             display_text: str | None = None) -> str:
        claims = LinkClaims(url=url, issued_at=int(time.time()), recipient=RECIPIENT,
                            message_id=message_id, link_index=0, display_text=display_text)
        return "/r/" + seal(claims, self.ring)

    def client_ip(self) -> str:
        """A client address of its own (the limiter counts per client)."""
        n = next(self._clients)
        return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"

    def browser(self, ip: str | None = None) -> httpx.Client:
        headers = {**BROWSER, "x-forwarded-for": ip or self.client_ip()}
        return httpx.Client(headers=headers, timeout=20.0)

    def psql(self, query: str, *args: object) -> list[tuple[object, ...]]:
        with psycopg.connect(self.database_url, connect_timeout=5) as connection:
            return list(connection.execute(query, args).fetchall())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    reason = _skip_reason()
    if reason:
        pytest.skip(f"{reason}; .ci/run starts PostgreSQL and Redis")
    directory = tmp_path_factory.mktemp("replicas")
    with fresh_database() as database, redis_prefix() as prefix, smtp_sink() as (sink, port):
        yield Shared(directory, database, prefix, generate_key_spec("k1"), sink, port)


@pytest.fixture(scope="module")
def cluster(shared: Shared) -> Iterator[list[Replica]]:
    """Three replicas started at once on a database none has migrated yet."""
    replicas = [Replica(name, shared.directory / name, shared.env()) for name in "ABC"]
    try:
        start_all(replicas)
        yield replicas
    finally:
        stop_all(replicas)


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden field {name!r} in the page:\n{page[:2000]}"
    return found.group(1)


def reason_of(page: httpx.Response) -> str:
    found = re.search(r'<code id="reason">([^<]+)</code>', page.text)
    assert found, page.text[:2000]
    return found.group(1)


def mailed_code(sink: Sink) -> str:
    body = sink.messages[-1].get_body(("plain",))
    assert body is not None
    found = re.search(r"code is (\d{3}) (\d{3})", body.get_content())
    assert found
    return found.group(1) + found.group(2)


def sign_in_with_mailed_code(shared: Shared, browser: httpx.Client, link: str,
                             send_on: Replica, check_on: Replica) -> None:
    """Ask ``send_on`` for a code, type it on ``check_on``: the browser ends up signed in."""
    page = browser.get(send_on.url + link + "/sign-in")
    assert page.status_code == 200, page.text[:2000]
    mailed = len(shared.sink.messages)
    sent = browser.post(send_on.url + link + "/code/send", headers=ORIGIN,
                        data={"csrf": hidden(page.text, "csrf")})
    assert sent.status_code == 303, sent.text[:2000]
    assert len(shared.sink.messages) == mailed + 1
    form = browser.get(check_on.url + link + "/code")
    assert form.status_code == 200, form.text[:2000]
    checked = browser.post(check_on.url + link + "/code", headers=ORIGIN, data={
        "csrf": hidden(form.text, "csrf"), "code": mailed_code(shared.sink)})
    assert checked.status_code == 303, checked.text[:2000]
    assert checked.headers["location"] == link + "/confirm"


def clicks(client: httpx.Client, url: str, count: int) -> list[int]:
    return [client.get(url).status_code for _ in range(count)]


# --- 1. a link sealed anywhere is served by every replica -----------------------------------


def _normalised(response: httpx.Response) -> tuple[int, str | None, str]:
    body = re.sub(r'name="csrf" value="[^"]*"', 'name="csrf"', response.text)
    return response.status_code, response.headers.get("location"), body


def test_a_link_rewritten_anywhere_is_served_by_every_replica(
        shared: Shared, cluster: list[Replica]) -> None:
    message = (
        "From: sender@partner.test\r\nTo: alice@corp.test\r\nSubject: links\r\n"
        "Message-ID: <replicas-1@partner.test>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        f'<p><a href="{ALLOWED}">guide</a> <a href="{WARNED}">{WARN_TEXT}</a> '
        f'<a href="{CONFIRMED}">verify</a> <a href="{BLOCKED}">login</a></p>\r\n')
    # The mail side: another process with nothing but the same keys and base URL.
    rewritten = subprocess.run(
        linkguard_command("rewrite", "-", "--recipient", RECIPIENT), input=message.encode(),
        capture_output=True, timeout=60, check=True, cwd=shared.directory,
        env=clean_env({"LINKGUARD_LINK_KEYS": shared.keys, "LINKGUARD_BASE_URL": BASE}))
    links = re.findall(re.escape(BASE) + r"(/r/[A-Za-z0-9_-]+)", rewritten.stdout.decode())
    assert len(links) == 4, rewritten.stdout.decode()
    damaged = links[0][:-3] + ("AAA" if not links[0].endswith("AAA") else "BBB")
    seen: dict[str, list[tuple[int, str | None, str]]] = {}
    for link in [*links, damaged]:
        with shared.browser() as browser:  # one client per link: 3 requests, under the limit
            seen[link] = [_normalised(browser.get(r.url + link)) for r in cluster]
    for link, answers in seen.items():
        assert answers[0] == answers[1] == answers[2], link
    statuses = [answers[0][0] for answers in seen.values()]
    assert statuses == [303, 200, 200, 403, 400]
    assert seen[links[0]][0][1] == ALLOWED
    assert 'action="' + links[1] + '/continue"' in seen[links[1]][0][2]  # the warning page
    assert links[2] + "/sign-in" in seen[links[2]][0][2]  # the confirm page


# --- 2. a confirmation nonce works once across all replicas ---------------------------------

ROUNDS = 4


def test_a_confirmation_nonce_is_accepted_exactly_once_across_replicas(
        shared: Shared, cluster: list[Replica]) -> None:
    link = shared.link(CONFIRMED, message_id=f"<confirm-{uuid.uuid4().hex}@corp.test>")
    a, b, _ = cluster
    with shared.browser() as browser:
        assert browser.get(a.url + link).status_code == 200  # the confirm page
        sign_in_with_mailed_code(shared, browser, link, send_on=a, check_on=b)
        cookies = browser.cookies
    forms: list[dict[str, str]] = []
    outcomes: list[list[int]] = []
    for round_ in range(ROUNDS):
        issuer = cluster[round_ % 3]
        ip = shared.client_ip()
        with shared.browser(ip) as browser:
            browser.cookies = cookies
            review = browser.get(issuer.url + link + "/confirm")
            assert review.status_code == 200, review.text[:2000]
        form = {"csrf": hidden(review.text, "csrf"), "nonce": hidden(review.text, "nonce")}
        forms.append(form)
        # The same form, posted to the three replicas at the same moment.
        posters = [shared.browser(ip) for _ in cluster]
        for poster, replica in zip(posters, cluster, strict=True):
            poster.cookies = cookies
            poster.get(replica.url + "/healthz")  # connected before the race starts
        barrier = threading.Barrier(len(cluster))

        def post(poster: httpx.Client, replica: Replica, form: dict[str, str] = form,
                 barrier: threading.Barrier = barrier) -> httpx.Response:
            barrier.wait(10)
            return poster.post(replica.url + link + "/confirm", headers=ORIGIN, data=form)

        with ThreadPoolExecutor(len(cluster)) as pool:
            answers = list(pool.map(post, posters, cluster))
        for poster in posters:
            poster.close()
        outcomes.append([r.status_code for r in answers])
        assert sorted(r.status_code for r in answers) == [303, 409, 409], outcomes
        winner = next(r for r in answers if r.status_code == 303)
        assert winner.headers["location"] == CONFIRMED
        assert {reason_of(r) for r in answers if r.status_code == 409} == {"nonce_replayed"}
    # Later, each form again on every replica: refused everywhere.
    for form in forms:
        with shared.browser() as browser:
            browser.cookies = cookies
            for replica in cluster:
                again = browser.post(replica.url + link + "/confirm", headers=ORIGIN, data=form)
                assert again.status_code == 409, again.text[:2000]
                assert reason_of(again) == "nonce_replayed"
    confirmed = shared.psql(
        "SELECT count(*) FROM audit_events WHERE action = 'click.confirm' AND actor = %s",
        f"mailcode:{RECIPIENT}")
    assert confirmed == [(ROUNDS,)]


# --- 3. a list change reaches every replica within the bound --------------------------------


def _propagation(shared: Shared, cluster: list[Replica], link: str, status: int,
                 change: Callable[[], None], *, timeout_s: float = 15.0) -> list[float]:
    """Seconds from ``change()`` returning until each replica answers ``status`` for ``link``
    (every probe from a client address of its own: the limiter must not answer instead)."""
    def watch(replica: Replica, started: threading.Event, since: list[float]) -> float:
        with httpx.Client(headers=BROWSER, timeout=10.0) as client:
            started.wait(10)
            while True:
                answer = client.get(replica.url + link,
                                    headers={"x-forwarded-for": shared.client_ip()})
                if answer.status_code == status:
                    return time.monotonic() - since[0]
                if time.monotonic() - since[0] > timeout_s:
                    return float("inf")
                time.sleep(0.02)

    started, since = threading.Event(), [0.0]
    with ThreadPoolExecutor(len(cluster)) as pool:
        futures = [pool.submit(watch, replica, started, since) for replica in cluster]
        change()
        since[0] = time.monotonic()
        started.set()
        return [future.result() for future in futures]


def test_a_list_change_reaches_every_replica_within_the_bound(
        shared: Shared, cluster: list[Replica]) -> None:
    from linkguard.adapters.sql import SqlListStore  # noqa: PLC0415 - only this test writes
    from linkguard.bootstrap import build_list_store, build_storage  # noqa: PLC0415
    from linkguard.settings import Settings  # noqa: PLC0415

    link = shared.link(NEUTRAL)
    with shared.browser() as browser:
        assert [browser.get(r.url + link).status_code for r in cluster] == [303] * 3
    entry = ListEntry(Action.BLOCK, MatchKind.DOMAIN, "python.org", reason="replica test")
    # As `linkguard lists sync` and the admin API write: the store, with Redis notification.
    settings = Settings(database_url=shared.database_url, redis_url=REDIS_URL,  # type: ignore[arg-type]
                        redis_prefix=shared.prefix, database_auto_upgrade=False)
    storage = build_storage(settings)
    try:
        notified = build_list_store(settings, storage)
        added: list[int] = []
        pushed = _propagation(shared, cluster, link, 403, lambda: added.append(
            notified.add(entry, actor="test:replicas").id))
        # The same store without Redis: only the replicas' version poll can carry the change.
        polled = SqlListStore(storage.engine)
        removed = _propagation(shared, cluster, link, 303,
                               lambda: polled.delete(added[0], actor="test:replicas"))
    finally:
        storage.close()
    bound = LIST_POLL_S + PROPAGATION_MARGIN_S
    print(f"\nlist propagation to 3 replicas: notified {[round(s, 3) for s in pushed]} s, "
          f"poll only {[round(s, 3) for s in removed]} s (poll {LIST_POLL_S} s)")
    assert max(pushed) <= bound, pushed
    assert max(removed) <= bound, removed


# --- 4. rate limits are shared --------------------------------------------------------------


def test_rate_limits_are_shared_across_replicas(shared: Shared,
                                                cluster: list[Replica]) -> None:
    link = shared.link(ALLOWED)
    answers: list[httpx.Response] = []
    with shared.browser() as browser:
        for n in range(3 * CLICK_LIMIT):
            answers.append(browser.get(cluster[n % 3].url + link))
    statuses = [r.status_code for r in answers]
    assert statuses.count(303) == CLICK_LIMIT, statuses
    assert statuses[:CLICK_LIMIT] == [303] * CLICK_LIMIT
    assert set(statuses[CLICK_LIMIT:]) == {429}
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers[CLICK_LIMIT:])
    # Every replica refused some of them: the count is one, not one per replica.
    refused_by = {n % 3 for n, status in enumerate(statuses) if status == 429}
    assert refused_by == {0, 1, 2}


# --- 5. SIGTERM loses no accepted click-log entry -------------------------------------------

BURST = 400


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def test_a_replica_stopped_with_sigterm_writes_every_accepted_click(shared: Shared) -> None:
    # A replica of its own, with a click limit the burst stays under.
    replica = Replica("D", shared.directory / "D", shared.env(
        rate_limit_clicks="100000/60", click_batch_size="5000"))
    message_id = f"<sigterm-{uuid.uuid4().hex}@corp.test>"
    link = shared.link(ALLOWED, message_id=message_id)
    try:
        start_all([replica])
        local, opened = threading.local(), []

        def one(_: int) -> int:
            if not hasattr(local, "client"):
                local.client = shared.browser("10.250.0.1")
                opened.append(local.client)
            return int(local.client.get(replica.url + link).status_code)

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(one, range(BURST)))
        for client in opened:
            client.close()
        with httpx.Client(timeout=5) as client:
            metrics = client.get(replica.url + "/metrics").text
        code = replica.terminate()
    finally:
        replica.terminate()
    served = statuses.count(303)
    assert served == BURST, statuses
    pending = _metric(metrics, "linkguard_clicks_total") - _metric(
        metrics, "linkguard_click_log_written_total")
    rows = shared.psql("SELECT count(*) FROM click_events WHERE message_id = %s", message_id)
    print(f"\nSIGTERM: {served} clicks answered, {pending:.0f} not yet written at the signal, "
          f"{rows[0][0]} rows after exit (status {code})")
    assert code == 0, replica.log()  # a stop asked for and carried out exits 0
    assert "Application shutdown complete" in replica.log()
    assert rows == [(served,)]


def test_sigterm_in_the_middle_of_a_burst_loses_no_answered_click(shared: Shared) -> None:
    """The signal lands while 16 clients are clicking: every click that got its answer is in
    the log (uvicorn finishes the requests in flight, then the recorder writes its queue)."""
    replica = Replica("D2", shared.directory / "D2", shared.env(rate_limit_clicks="100000/60"))
    message_id = f"<sigterm-mid-{uuid.uuid4().hex}@corp.test>"
    link = shared.link(ALLOWED, message_id=message_id)
    answered: list[int] = []
    lock = threading.Lock()
    try:
        start_all([replica])
        signalled = threading.Event()

        def clicker(_: int) -> None:
            with shared.browser("10.250.0.2") as client:
                while True:
                    try:
                        status = client.get(replica.url + link).status_code
                    except httpx.HTTPError:
                        return  # the replica closed the connection: it is stopping
                    with lock:
                        answered.append(status)
                    if signalled.is_set() and status != 303:
                        return

        with ThreadPoolExecutor(16) as pool:
            running = [pool.submit(clicker, n) for n in range(16)]
            deadline = time.monotonic() + 20
            while len(answered) < 200 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert replica.process is not None
            replica.process.send_signal(signal.SIGTERM)
            signalled.set()
            for future in running:
                future.result(60)
        code = replica.terminate()
    finally:
        replica.terminate()
    served = answered.count(303)
    rows = shared.psql("SELECT count(*) FROM click_events WHERE message_id = %s", message_id)
    print(f"\nSIGTERM mid-burst: {served} clicks answered, {rows[0][0]} rows after exit")
    assert served >= 200
    assert code in (0, -15), replica.log()
    assert rows == [(served,)]


# --- 6. Redis down: clicks go on, confirmations fail closed; Redis back: used again ---------


def _ready(replica: Replica) -> httpx.Response:
    with httpx.Client(timeout=10) as client:
        return client.get(replica.url + "/readyz")


def test_redis_down_degrades_clicks_and_fails_confirmations_closed(
        shared: Shared, tmp_path: Path) -> None:
    server = RedisProcess(tmp_path)
    server.start()
    replica = Replica("E", shared.directory / "E", shared.env(
        redis_url=server.url, redis_retry_s="0.5", redis_timeout_s="0.25"))
    link = shared.link(CONFIRMED, message_id=f"<redis-down-{uuid.uuid4().hex}@corp.test>")
    allowed = shared.link(ALLOWED)
    try:
        start_all([replica])
        with shared.browser() as browser:
            sign_in_with_mailed_code(shared, browser, link, send_on=replica, check_on=replica)
            review = browser.get(replica.url + link + "/confirm")
            assert review.status_code == 200
            before = {"csrf": hidden(review.text, "csrf"), "nonce": hidden(review.text, "nonce")}
            cookies = browser.cookies

        server.stop()
        with shared.browser() as browser:  # clicks: served, limited per replica
            statuses = clicks(browser, replica.url + allowed, CLICK_LIMIT + 3)
        assert statuses == [303] * CLICK_LIMIT + [429] * 3
        ready = _ready(replica)
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["status"] == "degraded"
        degraded = {c["name"] for c in body["checks"] if c["degraded"]}
        assert {"redis", "rate_limits", "nonce_store"} <= degraded
        with shared.browser() as browser:
            browser.cookies = cookies
            review = browser.get(replica.url + link + "/confirm")  # no nonce can be issued
            posted = browser.post(replica.url + link + "/confirm", headers=ORIGIN, data=before)
        for page in (review, posted):
            assert page.status_code == 503, page.text[:2000]
            assert reason_of(page) == "store_unavailable"
            assert "Confirmation is unavailable right now" in page.text
            assert page.headers["retry-after"] == "60"

        server.start()
        # The limiter learns that Redis is back from the next click after its retry interval.
        deadline = time.monotonic() + 10
        while _ready(replica).json()["status"] != "ready":
            assert time.monotonic() < deadline, _ready(replica).text
            with shared.browser() as browser:
                assert browser.get(replica.url + allowed).status_code == 303
            time.sleep(0.2)
        ip = shared.client_ip()
        with shared.browser(ip) as browser:
            browser.cookies = cookies
            assert browser.get(replica.url + allowed).status_code == 303
            review = browser.get(replica.url + link + "/confirm")
            assert review.status_code == 200
            done = browser.post(replica.url + link + "/confirm", headers=ORIGIN, data={
                "csrf": hidden(review.text, "csrf"), "nonce": hidden(review.text, "nonce")})
            assert done.status_code == 303
            # The form from before the outage never works: its nonce died with that Redis.
            stale = browser.post(replica.url + link + "/confirm", headers=ORIGIN, data=before)
            assert stale.status_code == 409
        client = server.client()
        try:  # the limiter counts in Redis again
            assert client.exists(f"{shared.prefix}rate:click:{ip}") == 1
        finally:
            client.close()
    finally:
        replica.terminate()
        server.stop()
