"""Catalog file parsers: good files load, every bad line is named."""

from __future__ import annotations

import pytest

from linkguard.core.catalog import (
    own_brand,
    parse_brands,
    parse_host_lines,
    parse_platforms,
    parse_tld_lines,
    parse_word_lines,
)
from linkguard.core.listfile import ListFileError


def test_brands_parse_and_normalise() -> None:
    [brand] = parse_brands("brands:\n  - name: Bücher\n    tokens: [Buecher]\n"
                           "    domains: [bücher.de, BUECHER.com]\n", "b.yaml")
    assert brand.tokens == ("buecher",)
    assert brand.domains == ("xn--bcher-kva.de", "buecher.com")


@pytest.mark.parametrize(("text", "expected"), [
    ("brands:\n  - tokens: [x]\n    domains: [x.com]\n", "b.yaml:2: a brand needs a name"),
    ("brands:\n  - name: X\n    tokens: [ab]\n    domains: [x.com]\n", "b.yaml:3: token 'ab'"),
    ("brands:\n  - name: X\n    domains: [www.x.com]\n", "b.yaml:3: 'www.x.com' is not a "
     "registrable domain"),
    ("brands:\n  - name: X\n    tokens: [xyzzy]\n", "b.yaml:2: brand 'X' needs at least one"),
    ("other: 1\n", "b.yaml:1: missing 'brands:'"),
    ("brands: [\n", "b.yaml:2: not valid YAML"),
])
def test_brand_errors(text: str, expected: str) -> None:
    with pytest.raises(ListFileError) as info:
        parse_brands(text, "b.yaml")
    assert str(info.value.problems[0]).startswith(expected), str(info.value)


def test_platforms() -> None:
    platforms = parse_platforms("platforms:\n  - {match: Docs.Google.com/forms/, kind: forms}\n"
                                "  - {match: github.io, kind: dev_hosting}\n", "p.yaml")
    assert [(p.host, p.path_prefix, p.kind) for p in platforms] == [
        ("docs.google.com", "/forms/", "forms"), ("github.io", "", "dev_hosting")]
    with pytest.raises(ListFileError, match=r"p\.yaml:2: a platform needs"):
        parse_platforms("platforms:\n  - {match: github.io}\n", "p.yaml")


def test_line_lists() -> None:
    assert parse_host_lines("# shorteners\nbit.ly  # Bitly\n\nT.CO\n", "s.txt") == {
        "bit.ly", "t.co"}
    assert parse_tld_lines("tk high\n.xyz elevated\ntop\n", "t.txt") == {
        "tk": "high", "xyz": "elevated", "top": "elevated"}
    assert parse_word_lines("Login\nverify # the verb\n", "w.txt") == {"login", "verify"}


@pytest.mark.parametrize(("parser", "text", "expected"), [
    (parse_host_lines, "bit.ly\nhttp://x.y/z\n", "f.txt:2:"),
    (parse_host_lines, "a b.c\n", "f.txt:1:"),
    (parse_tld_lines, "tk extreme\n", "f.txt:1: 'tk extreme'"),
    (parse_word_lines, "log in\n", "f.txt:1: 'log in'"),
])
def test_line_list_errors(parser: object, text: str, expected: str) -> None:
    with pytest.raises(ListFileError) as info:
        parser(text, "f.txt")  # type: ignore[operator]
    assert str(info.value.problems[0]).startswith(expected)


def test_own_brand_from_settings() -> None:
    brand = own_brand(["example-corp.com", "excorp.co.uk", "not a domain"])
    assert brand is not None
    assert brand.own
    assert brand.domains == ("example-corp.com", "excorp.co.uk")
    assert brand.tokens == ("excorp",)  # "example-corp" is not one word; kept as domain only
    assert own_brand([]) is None
