"""The real sealer in the rewriter: unwrap, seal once, and every token opens to the original."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkguard.core.tokens import KeyRing, LinkClaims, generate_key_spec, open_token
from linkguard.core.unwrap import unwrap
from linkguard.core.url import ParsedUrl, parse_url
from linkguard.rewriter import LinkOutcome, RewriteContext, rewrite_message
from linkguard.rewriter.sealer import TokenSealer
from tests.rewriter.rewriter_testkit import CORPUS, eml_files

KEYS = KeyRing.parse(generate_key_spec("k1"))
BASE = "https://links.example.com"


def _sealer(**overrides: object) -> TokenSealer:
    settings: dict[str, object] = {"keys": KEYS, "base_url": BASE, "issued_at": 1_800_000_000,
                                   "recipient": "alice@example.net", "message_id": "<m1@x>"}
    settings.update(overrides)
    return TokenSealer(**settings)  # type: ignore[arg-type]


def _expected(url: str) -> str:
    inner = unwrap(url).url
    parsed = parse_url(inner)
    assert isinstance(parsed, ParsedUrl)
    return parsed.href


def _open(replacement: str) -> LinkClaims:
    assert replacement.startswith(BASE + "/r/")
    claims = open_token(replacement[len(BASE) + 3:], KEYS)
    assert isinstance(claims, LinkClaims), claims
    return claims


_FILES = eml_files(CORPUS) if CORPUS.is_dir() else []


@pytest.mark.data
@pytest.mark.skipif(not _FILES, reason=f"sample corpus not found at {CORPUS}")
@pytest.mark.parametrize("path", _FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_token_opens_to_the_unwrapped_original(path: Path) -> None:
    sealer = _sealer()
    raw = path.read_bytes()
    out, report = rewrite_message(raw, RewriteContext(sealer=sealer, is_sealed=sealer.is_sealed))
    for record in report.links:
        if record.outcome is LinkOutcome.REWRITTEN:
            assert record.replacement is not None
            claims = _open(record.replacement)
            assert claims.url == _expected(record.url)
            assert claims.recipient == "alice@example.net"
            assert claims.message_id == "<m1@x>"
            assert claims.display_text == (record.display_text or None) or (
                claims.display_text is not None and record.display_text is not None
                and record.display_text.startswith(claims.display_text))
    again, _ = rewrite_message(out, RewriteContext(sealer=sealer, is_sealed=sealer.is_sealed))
    assert again == out  # our own links are recognised: wrapping twice changes nothing


def test_vendor_wrappers_are_peeled_before_sealing() -> None:
    sealer = _sealer()
    wrapped = ("https://www.google.com/url?q=https%3A%2F%2Fnam12.safelinks.protection.outlook"
               ".com%2F%3Furl%3Dhttps%253A%252F%252Fexample.org%252Fpay%26data%3Dx&sa=D")
    replacement = sealer(wrapped, display_text="Pay", index=3)
    assert replacement is not None
    claims = _open(replacement)
    assert claims.url == "https://example.org/pay"
    assert (claims.link_index, claims.display_text) == (3, "Pay")


@pytest.mark.parametrize("url", [
    "mailto:bob@example.org", "javascript:alert(1)", "not a url",
    BASE + "/r/anything",  # already ours
])
def test_links_that_are_not_sealed(url: str) -> None:
    assert _sealer()(url, display_text=None, index=0) is None


def test_do_not_rewrite_hosts_and_their_subdomains() -> None:
    sealer = _sealer(do_not_rewrite=frozenset({"partner.example"}))
    assert sealer("https://portal.partner.example/x", display_text=None, index=0) is None
    assert sealer("https://partner.example.evil.net/x", display_text=None, index=0) is not None


def test_too_long_destinations_are_left_and_counted() -> None:
    sealer = _sealer()
    long_url = "https://example.org/" + "a" * 4100
    assert sealer(long_url, display_text=None, index=0) is None
    assert sealer.too_long == 1


_MIXED = [
    "https://a.example/x",
    BASE + "/r/AAAA",
    "https://a.example/x",
    "HTTPS://LINKS.EXAMPLE.COM/r/BBBB",
    "https://nam02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fb.example%2F&data=x",
    "not a url",
    "https://b.example/",
    "https://b.example/",
]


def test_the_remembered_parse_answers_as_a_fresh_sealer_does() -> None:
    """The sealer keeps its last URL parse (asked by is_sealed, then by the call): one sealer
    over a mixed run of URLs says what a new sealer says for each one alone."""
    shared = _sealer()
    for i, url in enumerate(_MIXED):
        fresh = _sealer()
        assert shared.is_sealed(url) == fresh.is_sealed(url), url
        ours, theirs = shared(url, display_text=None, index=i), fresh(url, display_text=None,
                                                                        index=i)
        assert (ours is None) == (theirs is None), url
        if ours is not None and theirs is not None:
            assert _open(ours).url == _open(theirs).url


# Links the sealer takes without a parse (written as a browser serialises them, on no wrapper's
# host) and links beside them that must take the general path.
_SHORTCUT_CASES = [
    "https://click.news5.example/ls/click?upn=u001.b5&utm_source=newsletter",
    "http://a.example/p/q.html#s",
    "https://portal.partner.example/x",  # on the do-not-rewrite list
    "https://partner.example.evil.net/x",
    "https://example.org/" + "a" * 4100,  # too long to seal
    BASE + "/rx", "https://links.example.com.evil.example/r/x",
    BASE + "/r/AAAA",
    "https://www.google.com/url?q=https%3A%2F%2Fexample.org%2F",
    "https://www.google.de/url?q=https%3A%2F%2Fexample.org%2F",
    "https://mail.google.com/mail/u/0/",
    "https://nam02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fb.example%2F&data=x",
    "https://urldefense.com/v3/__https://c.example/__;!!a!b$",
    "https://statics.teams.cdn.office.net/evergreen-assets/safelinks/1/atp-safelinks.html?url="
    "https%3A%2F%2Fd.example",
    "https://protect-eu.mimecast.com/s/AbCdEf?domain=example.com",
    "https://a.example/%2e%2e/x", "https://a.example/./x", "https://A.example/x",
    "https://a.example", "https://a.example:443/x", "https://user@a.example/x",
    "https://xn--ls8h.la/", "https://1.2.3.4/", "https://a.example/x y", "https://é.example/",
]


@pytest.mark.parametrize("url", _SHORTCUT_CASES)
def test_links_sealed_without_a_parse_seal_as_with_one(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shortcut for links already in their serialised form answers what the general path
    answers: the same links sealed, to the same destination, the same ones left alone."""
    exempt = frozenset({"partner.example"})
    quick = _sealer(do_not_rewrite=exempt)
    quick_sealed, quick_out = quick.is_sealed(url), quick(url, display_text="x", index=1)
    from linkguard.rewriter import sealer as sealer_module  # noqa: PLC0415 - patched below

    monkeypatch.setattr(sealer_module, "canonical_http_host", lambda _raw: None)
    general = _sealer(do_not_rewrite=exempt)
    assert general._plain_host(url) is None  # the shortcut is off
    general_sealed, general_out = general.is_sealed(url), general(url, display_text="x", index=1)
    assert quick_sealed == general_sealed
    assert (quick_out is None) == (general_out is None)
    assert quick.too_long == general.too_long
    if quick_out is not None and general_out is not None:
        assert _open(quick_out) == _open(general_out)


def test_the_usual_link_takes_the_shortcut() -> None:
    sealer = _sealer()
    assert sealer._plain_host(_SHORTCUT_CASES[0]) == "click.news5.example"
    for url in _SHORTCUT_CASES[_SHORTCUT_CASES.index(BASE + "/r/AAAA"):]:
        assert sealer._plain_host(url) is None, url
