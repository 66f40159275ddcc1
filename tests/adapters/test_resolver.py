"""Redirect chains: open-redirect decoding offline, shortener hops over HTTP, SSRF refusals."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import httpx
import pytest

from linkguard.adapters.resolver import AddressPolicy, RedirectResolver, Resolution, is_public
from linkguard.core.listfile import ListFileError
from linkguard.core.redirects import OpenRedirects, parse_open_redirect_lines
from linkguard.core.url import ParsedUrl, parse_url
from linkguard.settings import default_shipped_lists_dir
from tests.adapters.local_http import LocalServer, Reply, serving

RULES = OpenRedirects.build(parse_open_redirect_lines(
    "l.facebook.com /l.php u\nhop.example * url,u\n", "rules.txt"))


def url(text: str) -> ParsedUrl:
    parsed = parse_url(text)
    assert isinstance(parsed, ParsedUrl)
    return parsed


class Recorder(httpx.AsyncBaseTransport):
    """Counts requests; any request at all fails the SSRF tests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(301, headers={"Location": "https://landed.example/"})


def fixed_dns(*answers: str, calls: list[str] | None = None):  # type: ignore[no-untyped-def]
    async def resolve(host: str, _port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return list(answers)
    return resolve


def run(resolver: RedirectResolver, link: str, budget_s: float = 5.0) -> Resolution:
    return asyncio.run(resolver.resolve(url(link), budget_s=budget_s))


# --- the address policy -------------------------------------------------------------------


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "255.255.255.255", "224.0.0.1", "240.0.0.1", "192.0.2.1",  # noqa: S104
    "198.18.0.1", "::1", "::", "::ffff:127.0.0.1", "::ffff:8.8.8.8", "fc00::1", "fd12::1",
    "fe80::1", "fec0::1", "ff02::1", "2001:db8::1", "2002:7f00:1::1", "2001::1",
    "64:ff9b::7f00:1", "::127.0.0.1",
])
def test_default_policy_refuses_non_public(address: str) -> None:
    assert not AddressPolicy().allows(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.215.14",
                                     "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"])
def test_public_addresses_pass(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_test_policy_allows_only_loopback_more() -> None:
    policy = AddressPolicy(allow_loopback=True)
    assert policy.allows(ipaddress.ip_address("127.0.0.1"))
    assert policy.allows(ipaddress.ip_address("::1"))
    for other in ("10.0.0.1", "::ffff:127.0.0.1", "169.254.169.254", "0.0.0.0"):  # noqa: S104
        assert not policy.allows(ipaddress.ip_address(other))


# --- SSRF: refused without a connection -----------------------------------------------------


@pytest.mark.parametrize("link", [
    "http://127.0.0.1/x", "http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/x", "http://[::ffff:127.0.0.1]/x", "http://2130706433/x",
    "http://0x7f.1/x", "http://0177.0.0.1/x", "http://0.0.0.0/x",
])
def test_ip_literal_hops_are_refused_without_a_request(link: str) -> None:
    recorder = Recorder()
    parsed = url(link)
    resolver = RedirectResolver(shorteners={parsed.host}, open_redirects=OpenRedirects(),
                                transport=recorder, resolve=fixed_dns("8.8.8.8"))
    result = run(resolver, link)
    assert result.chain == (parsed.href,)
    assert not result.complete
    assert "non-public" in result.detail
    assert recorder.requests == []


@pytest.mark.parametrize("answers", [("127.0.0.1",), ("10.1.2.3",), ("93.184.215.14", "10.0.0.1"),
                                     ("::1",), ("::ffff:169.254.169.254",)])
def test_names_resolving_to_private_addresses_are_refused(answers: tuple[str, ...]) -> None:
    recorder = Recorder()
    resolver = RedirectResolver(shorteners={"sho.rt"}, open_redirects=OpenRedirects(),
                                transport=recorder, resolve=fixed_dns(*answers))
    result = run(resolver, "https://sho.rt/abc")
    assert not result.complete
    assert "non-public" in result.detail
    assert recorder.requests == []


def test_nothing_arrives_at_a_loopback_listener() -> None:
    with serving() as server:
        server.route("/abc", Reply(301, headers=(("Location", "https://landed.example/"),)))
        link = f"http://short.test:{server.port}/abc"
        for resolve in (fixed_dns("127.0.0.1"), fixed_dns("8.8.8.8", "127.0.0.1")):
            resolver = RedirectResolver(shorteners={"short.test"},
                                        open_redirects=OpenRedirects(), resolve=resolve)
            assert not run(resolver, link).complete
        literal = RedirectResolver(shorteners={"127.0.0.1"}, open_redirects=OpenRedirects())
        assert not run(literal, f"http://2130706433:{server.port}/abc").complete
        assert server.seen == []


class OnlyThisAddress(AddressPolicy):
    """Plays "127.0.0.1 is the public address" so a rebinding attack can be staged locally."""

    def allows(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return str(address) == "127.0.0.1"


def test_dns_rebinding_cannot_redirect_the_connection() -> None:
    # The name answers "127.0.0.1" (allowed here) once, then "127.0.0.2" (refused). The hop must
    # connect to the address that was checked: one lookup, and only the first listener is hit.
    with serving("127.0.0.1") as checked:
        try:
            second = serving("127.0.0.2", checked.port)
            other = second.__enter__()
        except OSError:
            pytest.skip("cannot listen on 127.0.0.2 here")
        try:
            for server in (checked, other):
                server.route("/abc", Reply(301, headers=(("Location",
                                                          "https://landed.example/"),)))
            answers = iter(["127.0.0.1", "127.0.0.2", "127.0.0.2"])
            calls: list[str] = []

            async def rebinding(host: str, _port: int) -> list[str]:
                calls.append(host)
                return [next(answers)]

            resolver = RedirectResolver(shorteners={"short.test"}, open_redirects=OpenRedirects(),
                                        policy=OnlyThisAddress(), resolve=rebinding)
            result = run(resolver, f"http://short.test:{checked.port}/abc")
        finally:
            second.__exit__(None, None, None)
    assert result.chain == (f"http://short.test:{checked.port}/abc", "https://landed.example/")
    assert calls == ["short.test"]
    assert [s.method for s in checked.seen] == ["HEAD"]
    assert checked.seen[0].headers["host"] == f"short.test:{checked.port}"
    assert other.seen == []


# --- following shorteners over HTTP (loopback allowed for the test) -------------------------


@pytest.fixture
def hops():  # type: ignore[no-untyped-def]
    with serving() as server:
        server.route("/a", Reply(301, headers=(("Location", "/b"), ("Set-Cookie", "id=1"))))
        server.route("/b", Reply(302, headers=(("Location",
                                                "https://shop.example.org/sale?x=1#top"),)))
        server.route("/get-only", lambda seen: Reply(405) if seen.method == "HEAD" else Reply(
            302, b"x" * 100_000, (("Location", "https://landed.example/"),)))
        server.route("/loop", Reply(301, headers=(("Location", "/loop"),)))
        server.route("/slow", Reply(301, headers=(("Location", "https://late.example/"),),
                                    delay_s=1.0))
        server.route("/page", Reply(200, b"<html>hello</html>"))
        server.route("/bad", Reply(301, headers=(("Location", "http://exa mple.com:99999/"),)))
        server.route("/js", Reply(302, headers=(("Location", "javascript:alert(1)"),)))
        yield server


def local(max_hops: int = 5) -> RedirectResolver:
    return RedirectResolver(shorteners={"short.test"}, open_redirects=RULES, max_hops=max_hops,
                            policy=AddressPolicy(allow_loopback=True),
                            resolve=fixed_dns("127.0.0.1"))


def test_follows_hops_to_the_final_url_without_cookies(hops: LocalServer) -> None:
    base = f"http://short.test:{hops.port}"
    resolver = local()
    result = run(resolver, f"{base}/a")
    assert result.complete
    assert result.chain == (f"{base}/a", f"{base}/b", "https://shop.example.org/sale?x=1#top")
    assert [s.path for s in hops.seen] == ["/a", "/b"]
    assert all("cookie" not in s.headers for s in hops.seen)
    assert all(s.method == "HEAD" for s in hops.seen)
    # Cached: a second click asks nothing.
    assert run(resolver, f"{base}/a") == result
    assert len(hops.seen) == 2


def test_get_when_head_is_refused(hops: LocalServer) -> None:
    result = run(local(), f"http://short.test:{hops.port}/get-only")
    assert result.chain[-1] == "https://landed.example/"
    assert [s.method for s in hops.seen] == ["HEAD", "GET"]


@pytest.mark.parametrize(("path", "detail"), [
    ("/loop", "more than 3 hops"),
    ("/page", "HTTP 200 without a redirect"),
    ("/bad", "unusable"),
    ("/nothing-here", "HTTP 404"),
])
def test_chain_stops_with_a_reason(hops: LocalServer, path: str, detail: str) -> None:
    result = run(local(max_hops=3), f"http://short.test:{hops.port}{path}")
    assert not result.complete
    assert detail in result.detail
    assert result.chain[0] == f"http://short.test:{hops.port}{path}"


def test_time_budget_returns_the_chain_so_far(hops: LocalServer) -> None:
    result = run(local(), f"http://short.test:{hops.port}/slow", budget_s=0.2)
    assert result == Resolution((f"http://short.test:{hops.port}/slow",), False,
                                "time budget exhausted")


def test_dangerous_target_ends_the_chain(hops: LocalServer) -> None:
    result = run(local(), f"http://short.test:{hops.port}/js")
    assert result.chain[-1] == "javascript:alert(1)"


def test_unreachable_shortener() -> None:
    with serving() as server:
        port = server.port
    result = run(local(), f"http://short.test:{port}/a")
    assert not result.complete
    assert "unreachable" in result.detail


# --- open redirectors: decoded, never fetched ---------------------------------------------


@pytest.mark.parametrize(("link", "chain"), [
    ("https://l.facebook.com/l.php?u=https%3A%2F%2Fevil.example%2Flogin%3Fa%3D1&h=AT0",
     ("https://evil.example/login?a=1",)),
    ("https://hop.example/anything?u=https://a.example/&x=1", ("https://a.example/",)),
    ("https://hop.example/?url=https%3A%2F%2Fl.facebook.com%2Fl.php%3Fu%3Dhttps%253A%252F%252F"
     "deep.example%252F", ("https://l.facebook.com/l.php?u=https%3A%2F%2Fdeep.example%2F",
                           "https://deep.example/")),
    ("https://l.facebook.com/l.php?u=https%3A%2F%2Fa.example&u=https%3A%2F%2Fb.example", ()),
    ("https://l.facebook.com/other?u=https%3A%2F%2Fa.example", ()),
    ("https://l.facebook.com/l.php?u=javascript%3Aalert(1)", ()),
    ("https://l.facebook.com/l.php?u=%2F%2Frelative.example", ()),
    ("https://l.facebook.com/l.php", ()),
    ("https://example.org/?u=https://a.example/", ()),
])
def test_open_redirects_are_decoded_offline(link: str, chain: tuple[str, ...]) -> None:
    recorder = Recorder()
    resolver = RedirectResolver(shorteners=(), open_redirects=RULES, transport=recorder)
    result = run(resolver, link)
    assert result.chain == (url(link).href, *chain)
    assert result.complete
    assert recorder.requests == []


def test_open_redirect_to_a_shortener_is_followed(hops: LocalServer) -> None:
    inner = f"http://short.test:{hops.port}/b"
    result = run(local(), f"https://hop.example/?url={inner}")
    assert result.chain[1:] == (inner, "https://shop.example.org/sale?x=1#top")


@pytest.mark.parametrize("text", [
    "l.facebook.com /l.php", "not_a_host /x u", "a.example l.php u", "a.example /x ,",
    "a.example /x u extra",
])
def test_malformed_rule_lines(text: str) -> None:
    with pytest.raises(ListFileError, match=r"rules\.txt:1"):
        parse_open_redirect_lines(text, "rules.txt")


def test_shipped_open_redirect_list_parses() -> None:
    path: Path = default_shipped_lists_dir() / "open_redirects.txt"
    rules = parse_open_redirect_lines(path.read_text(encoding="utf-8"), str(path))
    assert {r.host for r in rules} >= {"l.facebook.com", "www.youtube.com"}
    decoded = OpenRedirects.build(rules).decode(url(
        "https://www.youtube.com/redirect?event=video&q=https%3A%2F%2Fevil.example%2F"))
    assert decoded == "https://evil.example/"
