"""RDAP: bootstrap parsing, registration dates of real answers, and a local RDAP server."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from linkguard.adapters.rdap import (
    DEFAULT_BOOTSTRAP_FILE,
    BootstrapError,
    RdapBootstrap,
    RdapClient,
    RdapTimeouts,
    parse_registration,
)
from linkguard.core.model import AgeState, DomainAge
from tests.adapters.local_http import LocalServer, Reply, serving

SHARED_RDAP = Path(__file__).resolve().parents[3] / "shared" / "data" / "rdap"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def domain_object(name: str, registered: str | None) -> bytes:
    events = [{"eventAction": "last update of RDAP database", "eventDate": "2026-11-27T00:00Z"}]
    if registered:
        events.insert(0, {"eventAction": "registration", "eventDate": registered})
    return json.dumps({"objectClassName": "domain", "ldhName": name.upper(),
                       "rdapConformance": ["rdap_level_0"], "events": events}).encode()


def bootstrap_for(server: LocalServer, *tlds: str) -> RdapBootstrap:
    return RdapBootstrap.parse(json.dumps({"version": "1.0", "services": [
        [list(tlds or ("com",)), [f"{server.base}/rdap/"]]]}))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- bootstrap --------------------------------------------------------------------------------


def test_bootstrap_prefers_https_and_longest_match() -> None:
    boot = RdapBootstrap.parse(json.dumps({"services": [
        [["uk"], ["http://plain.example/rdap", "https://secure.example/rdap"]],
        [["co.uk"], ["https://co.example/"]],
        [["com", "NET"], ["https://verisign.example/v1/"]],
    ]}))
    assert boot.servers_for("shop.example.co.uk") == ("https://co.example/",)
    assert boot.servers_for("example.uk") == ("https://secure.example/rdap/",
                                              "http://plain.example/rdap/")
    assert boot.servers_for("a.b.example.net") == ("https://verisign.example/v1/",)
    assert boot.servers_for("example.zz") == ()
    assert boot.servers_for("com") == ()  # a bare TLD is not a domain to ask about


@pytest.mark.parametrize("text", [
    "", "not json", "[]", '{"services": {}}', '{"services": [["com"]]}',
    '{"services": [[["com"], ["ftp://x/"]]]}', '{"services": [[[], []]]}',
    '[' * 100_000,
])
def test_malformed_bootstrap_is_a_typed_error(text: str) -> None:
    with pytest.raises(BootstrapError):
        RdapBootstrap.parse(text)


def test_shipped_snapshot_loads() -> None:
    boot = RdapBootstrap.load(DEFAULT_BOOTSTRAP_FILE)
    assert boot.servers_for("example.com")[0].startswith("https://")
    with pytest.raises(BootstrapError, match="cannot read"):
        RdapBootstrap.load(DEFAULT_BOOTSTRAP_FILE.with_name("absent.json"))


@pytest.mark.data
def test_shipped_snapshot_agrees_with_the_iana_registry() -> None:
    iana = SHARED_RDAP / "iana_dns_2026-01-30_reserialized.json"
    if not iana.exists():
        pytest.skip("shared sample data (../shared/data/rdap) is absent")
    reference = RdapBootstrap.load(iana)
    shipped = RdapBootstrap.load(DEFAULT_BOOTSTRAP_FILE)
    for tld, servers in shipped.servers.items():
        assert reference.servers.get(tld) == servers, tld


# --- registration dates -------------------------------------------------------------------


@pytest.mark.data
@pytest.mark.parametrize(("name", "expected"), [
    ("jarthod_nic.fr_airport.fr_2022-12-29.json", "2016-01-27T00:33:10+00:00"),
    ("jarthod_verisign_google.com_2021-12-17.json", "1997-09-15T04:00:00+00:00"),
    ("openrdap_nic.cz_example.cz.json", "2004-08-30T22:55:00+00:00"),
    ("whoisit_markmonitor_google.com_2024-07.json", "1997-09-15T07:00:00+00:00"),
    ("whoisit_norid_norway.no.json", "2017-01-24T12:09:23+00:00"),
    ("whoisit_verisign_themarquetry.com_2022-01.json", "2021-03-16T17:07:37+00:00"),
])
def test_registration_date_of_real_answers(name: str, expected: str) -> None:
    path = SHARED_RDAP / name
    if not path.exists():
        pytest.skip("shared sample data (../shared/data/rdap) is absent")
    assert parse_registration(path.read_bytes()) == datetime.fromisoformat(expected)


@pytest.mark.data
def test_real_404_error_object_has_no_date() -> None:
    path = SHARED_RDAP / "jarthod_centralnic_404_jsiqpmcurt.design_2021-12-17.json"
    if not path.exists():
        pytest.skip("shared sample data (../shared/data/rdap) is absent")
    assert parse_registration(path.read_bytes()) == "RDAP answer without events"


@pytest.mark.parametrize(("body", "expected"), [
    (b"<html>busy</html>", "malformed RDAP answer (not JSON)"),
    (b"[1, 2]", "malformed RDAP answer (not an object)"),
    (b'{"events": "soon"}', "RDAP answer without events"),
    (b'{"events": [1, {"eventAction": "expiration", "eventDate": "2030-01-01"}]}',
     "RDAP answer without a registration event"),
    (b'{"events": [{"eventAction": "registration"}]}', "unreadable registration date"),
    (b'{"events": [{"eventAction": "registration", "eventDate": "yesterday"}]}',
     "unreadable registration date"),
    (b'{"events": [{"eventAction": "registration", "eventDate": 1700000000}]}',
     "unreadable registration date"),
    (b"\xff\xfe\x00", "malformed RDAP answer (not JSON)"),
    (b"[" * 100_000, "malformed RDAP answer (not JSON)"),
])
def test_malformed_answers_say_why(body: bytes, expected: str) -> None:
    assert parse_registration(body) == expected


@pytest.mark.parametrize(("date", "expected"), [
    ("2021-03-16T17:07:37Z", datetime(2021, 3, 16, 17, 7, 37, tzinfo=UTC)),
    ("2021-03-16T17:07:37.000+0000", datetime(2021, 3, 16, 17, 7, 37, tzinfo=UTC)),
    ("2021-03-16T19:07:37+02:00", datetime(2021, 3, 16, 17, 7, 37, tzinfo=UTC)),
    ("2021-03-16T17:07:37", datetime(2021, 3, 16, 17, 7, 37, tzinfo=UTC)),  # naive: UTC
    ("2021-03-16", datetime(2021, 3, 16, tzinfo=UTC)),
])
def test_date_formats(date: str, expected: datetime) -> None:
    body = json.dumps({"events": [{"eventAction": "Registration", "eventDate": date}]})
    assert parse_registration(body.encode()) == expected


# --- against a local RDAP server ----------------------------------------------------------


@pytest.fixture
def rdap_server():  # type: ignore[no-untyped-def]
    with serving() as server:
        server.route("/rdap/domain/young-shop.com", Reply(
            200, domain_object("young-shop.com", "2026-11-22T10:00:00Z"),
            (("Content-Type", "application/rdap+json"),)))
        server.route("/rdap/domain/old-shop.com", Reply(
            200, domain_object("old-shop.com", "1997-09-15T04:00:00.000+0000")))
        server.route("/rdap/domain/nobody.com", Reply(404, b'{"errorCode": 404}'))
        server.route("/rdap/domain/slow.com", Reply(
            200, domain_object("slow.com", "2020-01-01T00:00:00Z"), delay_s=0.6))
        server.route("/rdap/domain/limited.com", Reply(429, b"", (("Retry-After", "120"),)))
        server.route("/rdap/domain/moved.com", Reply(
            302, b"", (("Location", "/rdap/domain/young-shop.com"),)))
        server.route("/rdap/domain/garbage.com", Reply(200, b"<html>maintenance</html>"))
        server.route("/rdap/domain/noevents.com", Reply(200, b'{"objectClassName":"domain"}'))
        server.route("/rdap/domain/broken.com", Reply(500, b"oops"))
        server.route("/rdap/domain/huge.com", Reply(200, b" " * (2 << 20)))
        yield server


def lookup(client: RdapClient, domain: str) -> DomainAge:
    async def once() -> DomainAge:
        try:
            return await client.domain_age(domain, NOW)
        finally:
            await client.aclose()  # one event loop per call here: close its connections

    return asyncio.run(once())


def test_known_age_and_cache(rdap_server: LocalServer) -> None:
    client = RdapClient(bootstrap_for(rdap_server))
    age = lookup(client, "young-shop.com")
    assert age.state is AgeState.KNOWN
    assert age.age_days == 5
    assert age.registered == datetime(2026, 11, 22, 10, tzinfo=UTC)
    asked = len(rdap_server.seen)
    assert rdap_server.seen[-1].headers["accept"].startswith("application/rdap+json")
    # Cached: the age grows with "now", the server is not asked again.
    later = client.cached("young-shop.com", NOW + timedelta(days=10))
    assert later is not None
    assert later.age_days == 15
    assert lookup(client, "young-shop.com").age_days == 5
    assert len(rdap_server.seen) == asked


def test_old_domain_in_markmonitor_format(rdap_server: LocalServer) -> None:
    age = lookup(RdapClient(bootstrap_for(rdap_server)), "old-shop.com")
    assert age.state is AgeState.KNOWN
    assert age.age_days is not None
    assert age.age_days > 10_000


def test_404_means_not_registered(rdap_server: LocalServer) -> None:
    age = lookup(RdapClient(bootstrap_for(rdap_server)), "nobody.com")
    assert age.state is AgeState.KNOWN
    assert age.registered_missing


def test_redirect_is_followed(rdap_server: LocalServer) -> None:
    age = lookup(RdapClient(bootstrap_for(rdap_server)), "moved.com")
    assert age.age_days == 5


@pytest.mark.parametrize(("domain", "detail"), [
    ("garbage.com", "malformed RDAP answer"),
    ("noevents.com", "without events"),
    ("broken.com", "HTTP 500"),
    ("huge.com", "over"),
    ("example.zz", "no RDAP server for .zz"),
])
def test_failures_are_unknown_with_a_reason(rdap_server: LocalServer, domain: str,
                                            detail: str) -> None:
    age = lookup(RdapClient(bootstrap_for(rdap_server)), domain)
    assert age.state is AgeState.UNKNOWN
    assert detail in age.detail


def test_failures_are_cached_briefly(rdap_server: LocalServer) -> None:
    clock = Clock()
    client = RdapClient(bootstrap_for(rdap_server), clock=clock,
                        limits=RdapTimeouts(failure_ttl_s=30))
    lookup(client, "broken.com")
    lookup(client, "broken.com")
    assert client.requests == 1
    clock.now += 31
    lookup(client, "broken.com")
    assert client.requests == 2


def test_429_backs_off_that_server(rdap_server: LocalServer) -> None:
    clock = Clock()
    client = RdapClient(bootstrap_for(rdap_server), clock=clock)
    age = lookup(client, "limited.com")
    assert age.state is AgeState.UNKNOWN
    assert "429" in age.detail
    # Another domain on the same server is not asked while the server said to wait …
    waiting = lookup(client, "young-shop.com")
    assert waiting.state is AgeState.UNKNOWN
    assert "slow down" in waiting.detail
    assert client.requests == 1
    # … and is asked once Retry-After (120 s) and the brief failure cache have passed.
    clock.now += 121
    assert lookup(client, "young-shop.com").age_days == 5
    assert client.requests == 2


def test_timeout_is_unknown() -> None:
    with serving() as server:
        server.route("/rdap/domain/slow.com", Reply(200, b"{}", delay_s=1.0))
        client = RdapClient(bootstrap_for(server), limits=RdapTimeouts(read_s=0.2))
        age = lookup(client, "slow.com")
    assert age.state is AgeState.UNKNOWN
    assert "in time" in age.detail


def test_unreachable_server_is_unknown() -> None:
    with serving() as server:
        boot = bootstrap_for(server)
    age = lookup(RdapClient(boot, limits=RdapTimeouts(connect_s=0.5)), "young-shop.com")
    assert age.state is AgeState.UNKNOWN
    assert "unreachable" in age.detail


def test_concurrent_lookups_share_one_request(rdap_server: LocalServer) -> None:
    client = RdapClient(bootstrap_for(rdap_server))

    async def many() -> list[int | None]:
        ages = await asyncio.gather(*(client.domain_age("slow.com", NOW) for _ in range(5)))
        await client.aclose()
        return [a.age_days for a in ages]

    assert len(set(asyncio.run(many()))) == 1
    assert client.requests == 1


def test_a_cancelled_click_still_fills_the_cache(rdap_server: LocalServer) -> None:
    client = RdapClient(bootstrap_for(rdap_server))

    async def click_then_wait() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(client.domain_age("slow.com", NOW), 0.05)
        for _ in range(100):  # the lookup goes on in the background
            if client.cached("slow.com", NOW) is not None:
                break
            await asyncio.sleep(0.05)
        await client.aclose()

    asyncio.run(click_then_wait())
    cached = client.cached("slow.com", NOW)
    assert cached is not None
    assert cached.state is AgeState.KNOWN
