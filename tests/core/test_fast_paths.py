"""The engine's fast paths give exactly what the general path they replace gives.

Each fast path exists for verdict time only (``bench/verdict.py``), so each is held here
against the plain code it stands in for, over the web-platform-tests inputs where they apply
and over generated ones:

* the URL parse reads ada's component offsets once and slices the serialisation, instead of
  one library call per attribute (``ada_url.parse_url``);
* a URL already in its WHATWG form (lower-case http(s), plain host, clean path) is cut into
  its pieces without asking ada at all, and ``ParsedUrl`` is built through its slots (set
  through their descriptors, not through the frozen dataclass's ``__init__``);
* host facts (Public Suffix List split, Unicode form) are remembered per host name, and the
  split walks tldextract's suffix trie directly instead of reading the host as a URL first;
* lure words inside a site name are found with an Aho–Corasick automaton instead of a regex
  alternation, longest word first, and whether a rest of a label splits into words is read
  off the same kind of automaton instead of trying every split;
* the unwrapper says "not a vendor's link" at once to hosts no vendor uses.
"""

from __future__ import annotations

import dataclasses
import json
import re
import string
from pathlib import Path

import ada_url
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from linkguard.adapters.catalog_files import load_confusables
from linkguard.core import unwrap as unwrap_module
from linkguard.core import url as url_module
from linkguard.core.brands import BrandIndex
from linkguard.core.checks.content import word_automaton, words_inside
from linkguard.core.checks.lookalike import LookalikeCheck
from linkguard.core.url import HostKind, ParsedUrl, host_to_unicode, parse_url, split_domain

URL_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "url"

_ATTRIBUTES = ("href", "protocol", "username", "password", "hostname", "port", "pathname",
               "search", "hash", "host_type")


def _general(raw: str) -> tuple[object, ...] | None:
    try:
        parsed = ada_url.parse_url(raw, _ATTRIBUTES)
    except (ValueError, UnicodeError):
        return None
    return tuple(int(parsed[a]) if a == "host_type" else str(parsed[a])  # type: ignore[literal-required]
                 for a in _ATTRIBUTES)


def _fast(raw: str) -> tuple[object, ...] | None:
    try:
        return url_module._ada_parse(raw)
    except (ValueError, UnicodeError):
        return None


def _wpt_inputs() -> list[str]:
    path = URL_DATA / "urltestdata.json"
    if not path.is_file():
        return []
    cases = json.loads(path.read_text(encoding="utf-8"))
    return [c["input"] for c in cases if isinstance(c, dict) and c.get("base") is None]


TRICKY = [
    "https://user:pass@example.com:8080/a/b?q=1#frag",
    "https://user@example.com/", "https://:pass@example.com/", "https://@example.com/",
    "https://example.com?#", "https://example.com/?", "https://example.com/#",
    "http://0x7f.1/", "http://[::1]:80/x", "http://3232235777/", "https://paypal.com@evil.example/",
    "javascript:alert(1)", "data:text/html,<b>x</b>", "mailto:a@b.example", "file:///etc/passwd",
    "file://host/share", "foo://opaque.Host./p", "non-special:/..//p", "sc:\\../", "blob:https://a/b",
    "https://xn--ls8h.la/", "https://пример.рф/путь?к=з#ф", "https://a.b.c.d.e.f.example.co.uk./",
    "http://example.com:/", "https://example.com:443/", "ws://x:0/", "https://ex ample.com/",
    "https://\ud800.example/", "", " \t\n", "http://%41.com/", "https://example.com/%zz",
]


@pytest.mark.parametrize("raw", TRICKY + _wpt_inputs())
def test_offsets_parse_equals_attribute_parse(raw: str) -> None:
    assert _fast(raw) == _general(raw)


_URL_CHARS = st.sampled_from([*string.ascii_letters, *string.digits,
                              *":/?#@[]%.\\-_~!$&'()*+,;= \t",
                              "é", "а", "ß", "\u200b", "😀", "\x00", "\x7f"])


@given(st.lists(st.sampled_from(["http://", "https://", "foo:", "foo://", "file:", "", "//"]),
                min_size=1, max_size=1),
       st.text(_URL_CHARS, max_size=40))
@settings(max_examples=600, deadline=None)
def test_offsets_parse_equals_attribute_parse_generated(scheme: list[str], rest: str) -> None:
    raw = scheme[0] + rest
    assert _fast(raw) == _general(raw)


def _canonical_agrees(raw: str) -> bool:
    """Where the no-parser path takes a URL, it gives what ada gives (it may decline any)."""
    ours = url_module._canonical(raw)
    # Where linkguard/core/_urlcore.pyx is built, _canonical is its one-pass test: it must
    # answer what the regular expressions of the Python reference answer, for every string.
    if ours != url_module._canonical_python(raw):
        return False
    return ours is None or ours == _fast(raw) == _general(raw)


@pytest.mark.parametrize("raw", TRICKY + _wpt_inputs())
def test_canonical_path_equals_ada_on_wpt(raw: str) -> None:
    assert _canonical_agrees(raw)


_NEAR_CANONICAL = st.sampled_from([
    *"abcxyzAZ0189-._~!$&()*+,;=:@/?#%'\\ \t^|`{}[]\"<>", "xn--", "%2e", "%2E", "%2f", "%41",
    "%zz", "..", "/./", "/../", "0x", "é", "\x00", "\x7f",
])
_HOST_PIECES = st.sampled_from([*"abz09-.", "xn--", "0x", "A", "é", "%41", "_", "@", ":80"])


@given(st.sampled_from(["http://", "https://", "HTTP://", "https:/", "https:///", "ftp://"]),
       st.lists(_HOST_PIECES, max_size=12).map("".join),
       st.lists(_NEAR_CANONICAL, max_size=30).map("".join))
@settings(max_examples=3000, deadline=None)
@example("https://", "a.example", "/%2E%2e/x")
@example("https://", "a.b-c.example", "/p/.hidden?q=1&r=%2F#top")
@example("https://", "a.example.", "/")
@example("https://", "1.2.3.4", "/")
@example("https://", "a.0x1f", "/")
def test_canonical_path_equals_ada_generated(scheme: str, host: str, rest: str) -> None:
    assert _canonical_agrees(scheme + host + rest)


@given(st.lists(st.sampled_from([
    "http", "https", ":", "//", "/", "a", "b.", "z9-", "1", ".", "xn--", "x", "n", "-", "?", "#",
    "%", "%2e", "%2E", "%2", "%4g", "%41", "..", "/./", "/..", "A", "~", "'", " ", "é", "\x00",
    "@", "[", "]",
]), max_size=25).map("".join))
@settings(max_examples=5000, deadline=None)
@example("https://a.example/.%2E/x?y#z")
@example("https://a.example/x?#")
@example("https://a.example/x#a?b")
@example("https://a.example/x?a#b#c")
@example("https://xn--a.example/")
@example("https://a.1/")
@example("http://a/%")
def test_one_pass_canonical_test_is_the_regular_expressions(raw: str) -> None:
    assert url_module._canonical(raw) == url_module._canonical_python(raw)
    assert url_module.canonical_http_host(raw) == url_module._canonical_host_python(raw)


def test_the_one_pass_test_is_used_where_it_is_built() -> None:
    # importorskip keeps the plain build's run green; the compiled build must use it.
    native = pytest.importorskip("linkguard.core._urlcore")
    assert url_module._canonical is native.canonical


@pytest.mark.parametrize("raw", [
    "https://click.news5.example/ls/click?upn=u001.b5fb12e0&utm_source=newsletter&utm_campaign=c0",
    "https://www.example.com/", "http://a.example/p/q.html#s", "https://x.example/?", "https://x.example/#",
])
def test_canonical_path_takes_ordinary_links(raw: str) -> None:
    assert url_module._canonical(raw) is not None
    assert url_module._canonical(raw) == _fast(raw)


def _host_shortcut_agrees(raw: str) -> bool:
    """Where ``canonical_http_host`` names a host, the parse is the string itself on that host."""
    host = url_module.canonical_http_host(raw)
    if host != url_module._canonical_host_python(raw):
        return False  # the compiled test must answer what the Python one answers
    if host is None:
        return True
    parsed = parse_url(raw)
    return isinstance(parsed, ParsedUrl) and parsed.href == raw and parsed.host == host


@pytest.mark.parametrize("raw", TRICKY + _wpt_inputs())
def test_canonical_host_agrees_with_the_parse_on_wpt(raw: str) -> None:
    assert _host_shortcut_agrees(raw)


@given(st.sampled_from(["http://", "https://", "HTTP://", "https:/", "ftp://"]),
       st.lists(_HOST_PIECES, max_size=40).map("".join),
       st.lists(_NEAR_CANONICAL, max_size=30).map("".join))
@settings(max_examples=2000, deadline=None)
@example("https://", "a" * 64 + ".example", "/")
@example("https://", ("a" * 60 + ".") * 5 + "example", "/")
def test_canonical_host_agrees_with_the_parse_generated(scheme: str, host: str, rest: str) -> None:
    assert _host_shortcut_agrees(scheme + host + rest)


@pytest.mark.parametrize(("raw", "host"), [
    ("https://click.news5.example/ls/click?upn=u001.b5&utm_source=n", "click.news5.example"),
    ("http://a.example/p/q.html#s", "a.example"),
    ("HTTPS://a.example/", None),  # the parse lower-cases the scheme: not its own serialisation
    ("https://a.example", None),  # the parse adds the "/"
    ("https://" + "a" * 64 + ".example/", None),  # a label longer than DNS allows: an error
    ("https://a.example/" + "p" * 8192, None),  # over the length limit: an error
])
def test_canonical_host_takes_ordinary_links_only(raw: str, host: str | None) -> None:
    assert url_module.canonical_http_host(raw) == host
    assert url_module._canonical_host_python(raw) == host


@pytest.mark.parametrize("raw", [*TRICKY, "https://a.b.example/p?q#f", "https://xn--ls8h.la/"])
def test_parsed_url_built_through_slots_equals_the_constructor(raw: str) -> None:
    parsed = parse_url(raw)
    if not isinstance(parsed, ParsedUrl):
        return
    values = [getattr(parsed, f.name) for f in dataclasses.fields(ParsedUrl)]
    built = url_module._new_parsed(*values)  # type: ignore[arg-type]
    assert built == ParsedUrl(*values)  # type: ignore[arg-type]
    assert [getattr(built, f.name) for f in dataclasses.fields(ParsedUrl)] == values
    assert hash(built) == hash(ParsedUrl(*values))  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", TRICKY + _wpt_inputs())
def test_parsed_url_built_from_slots_equals_constructor(raw: str) -> None:
    parsed = parse_url(raw)
    if not isinstance(parsed, ParsedUrl):
        return
    # Every slot is set (an unset one raises here), each to what the constructor would set.
    values = {f.name: getattr(parsed, f.name) for f in dataclasses.fields(ParsedUrl)}
    assert ParsedUrl(**values) == parsed


def test_parsed_url_setters_follow_field_order() -> None:
    for f in dataclasses.fields(ParsedUrl):
        assert getattr(url_module, f"_set_{f.name}") == getattr(ParsedUrl, f.name).__set__


_SUFFIX_PIECES = st.sampled_from(["a", "b1", "xn--p1ai", "xn--80ak6aa92e", "co", "uk", "com", "jp",
                                "kawasaki", "city", "ck", "www", "github", "io", "s3",
                                "amazonaws", "blogspot", "", "-", "_x", "1", "255", "A", "é",
                                "a:b", "a@b", "[::1]", " "])
TOP50K = URL_DATA.parent / "top-sites" / "top50k.csv"


@given(st.lists(_SUFFIX_PIECES, min_size=1, max_size=5).map(".".join))
@settings(max_examples=1500, deadline=None)
@example("alice.github.io")
@example("x.kawasaki.jp")
@example("city.kawasaki.jp")
@example("intranet")
@example("1.2.3.4")
def test_suffix_trie_walk_equals_tldextract(host: str) -> None:
    found = url_module._psl_split(host)
    assert found is None or found == url_module._tldextract_split(host)


@pytest.mark.skipif(not TOP50K.is_file(), reason="shared/data/top-sites not present")
def test_suffix_trie_walk_equals_tldextract_on_popular_hosts() -> None:
    hosts = [line.split(",", 1)[1].strip() for line in TOP50K.read_text("utf-8").splitlines()]
    for host in hosts[:20000]:
        for name in (host, f"www.{host}", host.rsplit(".", 1)[-1]):
            found = url_module._psl_split(name)
            assert found is None or found == url_module._tldextract_split(name), name


def _host_facts_uncached(host: str) -> tuple[object, ...]:
    parts = split_domain.__wrapped__(host)
    return (host, host_to_unicode.__wrapped__(host), parts.registrable_domain,
            host_to_unicode.__wrapped__(parts.registrable_domain), parts.subdomain, parts.suffix,
            parts.is_private)


_LABEL = st.lists(st.sampled_from([*"abcxyz019-", "xn--", "é", "ü", "а"]), min_size=1,
                  max_size=10).map("".join)
_SUFFIX = st.sampled_from(["com", "co.uk", "github.io", "ck", "www.ck", "jp", "example",
                           "blogspot.com", "xn--p1ai", "рф", "s3.amazonaws.com"])


@given(st.lists(_LABEL, max_size=4), _SUFFIX)
@settings(max_examples=400, deadline=None)
@example(["paypal"], "com")
@example([], "co.uk")
def test_host_memo_equals_fresh_work(labels: list[str], suffix: str) -> None:
    # Every parse goes through the memo; the same facts worked out afresh must agree.
    parsed = parse_url("https://" + ".".join([*labels, suffix]) + "/")
    if not isinstance(parsed, ParsedUrl) or parsed.host_kind is not HostKind.DOMAIN \
            or not parsed.host:
        return
    again = parse_url(parsed.href)
    assert again == parse_url(parsed.href)  # remembered
    assert (parsed.host, parsed.host_unicode, parsed.registrable_domain,
            parsed.registrable_domain_unicode, parsed.subdomain, parsed.suffix,
            parsed.suffix_is_private) == _host_facts_uncached(parsed.host)


def _regex_words(words: list[str]) -> re.Pattern[str]:
    # What the content check used before: one alternation, longest words first.
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))
                      or "(?!)")


def _regex_words_inside(text: str, pattern: re.Pattern[str]) -> list[str]:
    return list(dict.fromkeys(m.group(0) for m in pattern.finditer(text)))


_WORD = st.text(st.sampled_from("abcdelo"), min_size=1, max_size=7)


@given(st.lists(_WORD, max_size=12, unique=True), st.text(st.sampled_from("abcdelo-.é"),
                                                            max_size=40))
@settings(max_examples=800, deadline=None)
@example(["secure", "securelogin", "login", "log"], "securelogin-secure.loginlogin")
@example(["abc", "bcd", "cde"], "abcde")
@example([], "anything")
def test_automaton_words_equal_regex_alternation(words: list[str], text: str) -> None:
    assert words_inside(text, word_automaton(words)) == _regex_words_inside(
        text, _regex_words(words))


_VENDOR_PIECES = ["safelinks.protection.outlook.com", "safelinks.protection.office365.us",
                  "urldefense.proofpoint.com", "urldefense.com", "urldefense.us",
                  "linkprotect.cudasvc.com", "statics.teams.cdn.office.net", "office.com",
                  "google.com", "google.co.uk", "google.netlify.app", "trendmicro.eu",
                  "protect-eu.mimecast.com", "mimecast.com", "example.com", "outlook.com"]


@given(st.sampled_from(["", "www.", "eur01.", "x.", "google.", "protect."]),
       st.sampled_from(_VENDOR_PIECES),
       st.sampled_from(["/url", "/v1/url", "/v2/url", "/v3/__x", "/atp-safelinks.html",
                        "/wis/clicktime/v1/query", "/s/abc", "/", "/other"]))
@settings(max_examples=400, deadline=None)
def test_wrapper_precheck_only_says_no_to_non_vendors(prefix: str, host: str, path: str) -> None:
    parsed = parse_url(f"https://{prefix}{host}{path}?url=https%3A%2F%2Fexample.org%2F")
    assert isinstance(parsed, ParsedUrl)
    assert unwrap_module._recognise(parsed) == unwrap_module._recognise_vendor(parsed)


def _is_words_dp(text: str, words: frozenset[str]) -> bool:
    # The plain dynamic programme over every split, as the lookalike check first did it.
    n = len(text)
    if n == 0 or n > 60:
        return n == 0
    longest = max((len(w) for w in words), default=0)
    reachable = [True] + [False] * n
    for end in range(1, n + 1):
        for start in range(max(0, end - longest), end):
            if reachable[start] and text[start:end] in words:
                reachable[end] = True
                break
    return reachable[n]


@pytest.fixture(scope="module")
def lookalike() -> LookalikeCheck:
    confusables = load_confusables()
    return LookalikeCheck(BrandIndex([], confusables),
                          frozenset({"secure", "login", "log", "in", "verify", "account", "a",
                                     "acc", "ount", "rn"}))


@given(st.text(st.sampled_from("securelogintvafyrnm0-"), max_size=24))
@settings(max_examples=800, deadline=None)
@example("securelogin")
@example("login-secure")
@example("accountlog")
def test_word_split_by_automaton_equals_dynamic_programme(lookalike: LookalikeCheck,
                                                          text: str) -> None:
    assert lookalike._is_words(text) == _is_words_dp(text, lookalike.words)
    assert lookalike._is_words(text, in_skeleton=True) == _is_words_dp(
        text, lookalike.skeleton_words)


def test_compiled_slot_builder_refuses_what_a_descriptor_call_would() -> None:
    # linkguard/core/_slots.pyx, where it is built: member descriptors only, one value each,
    # and each descriptor still checks the object's type (as its __set__ does).
    slots = pytest.importorskip("linkguard.core._slots")
    assert url_module._build_slots is slots.build
    descriptors = url_module._PARSED_SLOTS
    assert [d.__name__ for d in descriptors] == [f.name for f in dataclasses.fields(ParsedUrl)]
    with pytest.raises(ValueError, match="2 descriptors, 1 values"):
        slots.build(ParsedUrl, descriptors[:2], ("a",))
    with pytest.raises(TypeError, match="not a member descriptor"):
        slots.build(ParsedUrl, (ParsedUrl.is_http,), ("a",))
    with pytest.raises(TypeError):
        slots.build(ParsedUrl, (_OTHER_SLOT,), ("a",))  # another class's slot


class _Other:
    __slots__ = ("value",)


_OTHER_SLOT = _Other.value


@given(st.text(st.sampled_from([*"aZ09!~/?#%&=", " ", "\t", "\x7f", "\x00", "\x1f", "é", "\u2028",
                                "\U0001f600", "\udc80"]), max_size=30))
@settings(max_examples=2000, deadline=None)
@example("")
@example("!" + "~" * 200)
def test_visible_ascii_is_the_python_test(text: str) -> None:
    assert url_module.is_visible_ascii(text) == url_module._visible_ascii_python(text)
