"""List file format: entries, normalisation, expiry, and file:line errors for bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from linkguard.core.listfile import ListFileError
from linkguard.core.lists import Action, ListIndex, MatchKind, parse_list_file
from linkguard.core.url import ParsedUrl, parse_url

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def _url(text: str) -> ParsedUrl:
    parsed = parse_url(text)
    assert isinstance(parsed, ParsedUrl)
    return parsed


def test_full_entry() -> None:
    [entry] = parse_list_file(
        "version: 1\nallow:\n  - domain: Example.COM\n    reason: vendor\n"
        "    owner: sec@example.org\n    expires: 2027-01-31\n", "a.yaml")
    assert entry.action is Action.ALLOW
    assert entry.kind is MatchKind.DOMAIN
    assert entry.value == "example.com"
    assert (entry.reason, entry.owner, entry.source) == ("vendor", "sec@example.org", "a.yaml:3")
    assert entry.expires == datetime(2027, 2, 1, tzinfo=UTC)  # through the whole day
    assert entry.active(datetime(2027, 1, 31, 23, 59, 59, 900_000, tzinfo=UTC))
    assert not entry.active(datetime(2027, 2, 1, tzinfo=UTC))


@pytest.mark.parametrize(("line", "kind", "value"), [
    ("domain: bücher.de", MatchKind.DOMAIN, "xn--bcher-kva.de"),
    ("domain: example.co.uk", MatchKind.DOMAIN, "example.co.uk"),
    ("host: login.example.net", MatchKind.HOST, "login.example.net"),
    ("host: 203.0.113.5", MatchKind.HOST, "203.0.113.5"),
    ("url_prefix: HTTPS://Example.com/Safe/", MatchKind.URL_PREFIX, "https://example.com/Safe/"),
])
def test_normalisation(line: str, kind: MatchKind, value: str) -> None:
    [entry] = parse_list_file(f"block:\n  - {line}\n", "b.yaml")
    assert (entry.kind, entry.value) == (kind, value)


def test_subdomains_false_matches_only_the_domain() -> None:
    index = ListIndex.build(parse_list_file(
        "allow:\n  - domain: example.com\n    subdomains: false\n", "a.yaml"))
    assert index.matches(_url("https://example.com/x"), NOW)
    assert not index.matches(_url("https://www.example.com/x"), NOW)


def test_domain_matches_subdomains_but_not_lookalike_suffixes() -> None:
    index = ListIndex.build(parse_list_file("block:\n  - domain: example.com\n", "b.yaml"))
    assert index.matches(_url("https://a.b.example.com/"), NOW)
    assert not index.matches(_url("https://notexample.com/"), NOW)
    assert not index.matches(_url("https://example.com.evil.net/"), NOW)


def test_expired_entries_stop_applying() -> None:
    index = ListIndex.build(parse_list_file(
        "block:\n  - domain: example.com\n    expires: 2026-11-26\n", "b.yaml"))
    assert not index.matches(_url("https://example.com/"), NOW)
    assert index.matches(_url("https://example.com/"), datetime(2026, 11, 26, 12, tzinfo=UTC))


@pytest.mark.parametrize("text", ["", "# nothing\n", "version: 1\nallow: []\nblock:\n"])
def test_empty_files_are_valid(text: str) -> None:
    assert parse_list_file(text, "empty.yaml") == []


@pytest.mark.parametrize(("text", "expected"), [
    ("allow: [\n", "bad.yaml:2: not valid YAML"),
    ("- example.com\n", "bad.yaml:1: expected a mapping"),
    ("allow:\n  - example.com\n", "bad.yaml:2: entry 'example.com' needs a kind"),
    ("allow:\n  - domain: www.example.com\n", "bad.yaml:2: domain 'www.example.com' is not a "
     "registrable domain (its registrable domain is example.com)"),
    ("allow:\n  - domain: co.uk\n", "bad.yaml:2: domain 'co.uk' is not a registrable domain"),
    ("block:\n  - host: 'exa mple.com'\n", "bad.yaml:2: host 'exa mple.com' is not a valid"),
    ("block:\n  - url_prefix: ftp://example.com/\n", "bad.yaml:2: url_prefix"),
    ("block:\n  - domain: example.com\n    host: a.example.com\n", "bad.yaml:2: an entry needs "
     "exactly one of"),
    ("block:\n  - domain: example.com\n    colour: red\n", "bad.yaml:3: unknown field 'colour'"),
    ("block:\n  - domain: example.com\n    expires: soon\n", "bad.yaml:2: expires 'soon'"),
    ("block:\n  - domain: example.com\n    subdomains: maybe\n", "bad.yaml:2: subdomains must"),
    ("version: 2\n", "bad.yaml:1: unsupported version"),
    ("deny:\n  - domain: example.com\n", "bad.yaml:1: unknown section 'deny'"),
    ("allow: example.com\n", "bad.yaml:1: 'allow:' must be a list"),
    ("allow:\n  - domain: ''\n", "bad.yaml:2: domain is empty"),
])
def test_errors_name_file_and_line(text: str, expected: str) -> None:
    with pytest.raises(ListFileError) as info:
        parse_list_file(text, "bad.yaml")
    assert str(info.value.problems[0]).startswith(expected), str(info.value)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ListFileError) as info:
        parse_list_file("allow:\n  - domain: a b\n  - host: ''\n  - bogus: 1\n", "bad.yaml")
    assert [p.line for p in info.value.problems] == [2, 3, 4, 4]  # field, then kind


def test_lookup_cost_does_not_depend_on_list_size() -> None:
    big = ListIndex.build(parse_list_file(
        "block:\n" + "".join(f"  - domain: site{i}.com\n" for i in range(5000)), "big.yaml"))
    assert big.size == 5000
    assert len(big.by_domain) == 5000
    assert big.matches(_url("https://www.site4321.com/"), NOW)
