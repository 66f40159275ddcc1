"""Unwrapping other vendors' links: per-vendor tables, nesting, remnants, malformed input,
the public decoder test pairs in ../shared/data, and properties."""

from __future__ import annotations

import base64
import csv
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkguard.core.unwrap import (
    OwnLinks,
    Unwrapped,
    is_wrapped,
    may_be_wrapper_host,
    percent_decode_once,
    unwrap,
)
from linkguard.core.url import ParsedUrl, parse_url

# --- helpers that wrap like the vendors do (used to build nested cases and properties) -------

SAFELINKS_TAIL = (
    "&data=05%7C02%7Cuser%40contoso.com%7C8c1e2d0f6b4a4f0c%7C72f988bf86f141af91ab2d7cd011db47"
    "%7C1%7C0%7C638442711583216725%7CUnknown%7CTWFpbGZsb3d8eyJWIjoiMC4wLjAwMDAiLCJQIjoiV2lu"
    "MzIiLCJBTiI6Ik1haWwiLCJXVCI6Mn0%3D%7C0%7C%7C%7C&sdata=MYXFcUyJ5Sxfo31AJJu3%2Fdeb%3D"
    "&reserved=0"
)


def safelinks(url: str, host: str = "nam12.safelinks.protection.outlook.com") -> str:
    return f"https://{host}/?url={quote(url, safe='')}{SAFELINKS_TAIL}"


def google(url: str) -> str:
    return f"https://www.google.com/url?q={quote(url, safe='')}&sa=D&source=editors&usg=AOvVaw1"


def proofpoint_v2(url: str) -> str:
    safe = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./")
    # Percent-encode everything else, then "%" -> "-" and "/" -> "_" (so "-" and "_" escape).
    encoded = "".join(chr(b) if b in safe else f"-{b:02X}" for b in url.encode())
    return f"https://urldefense.proofpoint.com/v2/url?u={encoded.replace('/', '_')}&d=DwMF&e="


RUN_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def proofpoint_v3(url: str, keep: str = ":/") -> str:
    """Encode as URL Defense v3 does: unsafe bytes go to the base64 tail, runs as ``**X``."""
    literal, tail, pending = [], bytearray(), bytearray()

    def flush() -> None:
        data = bytes(pending)
        while data:
            take = min(len(data), 65)  # runs split at byte boundaries, even mid-character
            literal.append("*" if take == 1 else "**" + RUN_LETTERS[take - 2])
            tail.extend(data[:take])
            data = data[take:]
        pending.clear()

    for char in url:
        if char.isascii() and (char.isalnum() or char in keep):
            flush()
            literal.append(char)
        else:
            pending.extend(char.encode())
    flush()
    b64 = base64.urlsafe_b64encode(bytes(tail)).rstrip(b"=").decode()
    return f"https://urldefense.com/v3/__{''.join(literal)}__;{b64}!!Org1D!sig-nature$"


def _result(url: str, layers: tuple[str, ...] = (), undecodable: str | None = None) -> Unwrapped:
    return Unwrapped(url, layers, undecodable)


# --- one row per vendor form ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrapped", "expected"),
    [
        pytest.param(
            "https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.example.com"
            "%2Fpath%3Fa%3D1%26b%3D2" + SAFELINKS_TAIL,
            _result("https://www.example.com/path?a=1&b=2", ("safelinks",)),
            id="safelinks-nam12",
        ),
        pytest.param(
            "https://eur03.safelinks.protection.outlook.com/?url=http%3A%2F%2Fexample.eu%2F"
            "&amp;data=04%7C01%7C&amp;sdata=x%3D&amp;reserved=0",
            _result("http://example.eu/", ("safelinks",)),
            id="safelinks-eur03-amp",
        ),
        pytest.param(
            "https://gcc02.safelinks.protection.office365.us/?url=https%3A%2F%2Fagency.example"
            ".gov%2Fform&data=05%7C02&reserved=0",
            _result("https://agency.example.gov/form", ("safelinks",)),
            id="safelinks-gcc",
        ),
        pytest.param(
            "https://nam02.safelinks.protection.outlook.com/ap/w-59584e83/?url=https%3A%2F%2F"
            "contoso.sharepoint.com%2F%3Aw%3A%2Fs%2Fteam%2Fdoc&data=05%7C02&reserved=0",
            _result("https://contoso.sharepoint.com/:w:/s/team/doc", ("safelinks",)),
            id="safelinks-ap-path",
        ),
        pytest.param(
            "https://statics.teams.cdn.office.net/evergreen-assets/safelinks/1/atp-safelinks.html"
            "?url=https%3A%2F%2Fexample.org%2Fshared%3Fid%3D7&locale=en-us"
            "&dest=https%3A%2F%2Fteams.microsoft.com%2F_%23%2Fconversations&pc=AbC",
            _result("https://example.org/shared?id=7", ("safelinks",)),
            id="safelinks-teams",
        ),
        pytest.param(
            "https://urldefense.proofpoint.com/v1/url?u=http://www.example.com/a%3Fb%3Dc"
            "&k=oIvRg1%2BdGAgOoM1BIlLLqw%3D%3D%0A&r=IKM5u8%2B&m=Ww6i&s=d358",
            _result("http://www.example.com/a?b=c", ("proofpoint_v1",)),
            id="proofpoint-v1",
        ),
        pytest.param(
            "https://urldefense.proofpoint.com/v2/url?u=https-3A__example.com_login-3Fnext-3D-252F"
            "home-26lang-3Den&d=DwMFaQ&c=abc&r=def&m=ghi&s=jkl&e=",
            _result("https://example.com/login?next=%2Fhome&lang=en", ("proofpoint_v2",)),
            id="proofpoint-v2",
        ),
        pytest.param(
            "https://urldefense.com/v2/url?u=http-3A__example.com_a-5Fb-2Dc&d=DwMF&e=",
            _result("http://example.com/a_b-c", ("proofpoint_v2",)),
            id="proofpoint-v2-urldefense.com",
        ),
        pytest.param(
            "https://urldefense.com/v3/__https://example.com/a?b=c*d__;Jg!!Org!Sig$",
            _result("https://example.com/a?b=c&d", ("proofpoint_v3",)),
            id="proofpoint-v3",
        ),
        pytest.param(
            "https://urldefense.us/v3/__https://example.mil/x__;!!Org!Sig$",
            _result("https://example.mil/x", ("proofpoint_v3",)),
            id="proofpoint-v3-us",
        ),
        pytest.param(
            "https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fexample.com%2flogin%3fnext%3d"
            "%252Fhome&c=E,1,abcDEF-ghi_jkl,&typo=1",
            _result("https://example.com/login?next=%2Fhome", ("barracuda",)),
            id="barracuda",
        ),
        pytest.param(
            "https://www.google.com/url?q=https://example.com/page&sa=D&source=editors"
            "&ust=1700000000000000&usg=AOvVaw1x",
            _result("https://example.com/page", ("google",)),
            id="google-q",
        ),
        pytest.param(
            "https://www.google.co.uk/url?sa=t&rct=j&q=&esrc=s&source=web&cd=1"
            "&url=https%3A%2F%2Fexample.co.uk%2F&usg=AOvVaw2",
            _result("https://example.co.uk/", ("google",)),
            id="google-url-over-empty-q",
        ),
        pytest.param(
            "https://google.de/url?q=https%3A%2F%2Fbeispiel.de%2F%3Fa%3D1%26b%3D2&sa=U",
            _result("https://beispiel.de/?a=1&b=2", ("google",)),
            id="google-country",
        ),
        pytest.param(
            "https://imsva91-ctp.trendmicro.com:443/wis/clicktime/v1/query?url=https%3a%2f%2f"
            "example.com%2finvoice.pdf&umid=6d2d7fa2-4f5e&auth=8e1b-c3d4",
            _result("https://example.com/invoice.pdf", ("trendmicro",)),
            id="trendmicro-v1",
        ),
        pytest.param(
            "https://ctp.trendmicro.com/wis/clicktime/v2/clickthrough?url=http%3A%2F%2Fexample"
            ".net%2F&uuid=7c9f&auth=2dc9",
            _result("http://example.net/", ("trendmicro",)),
            id="trendmicro-v2",
        ),
        pytest.param(
            "https://protect-eu.mimecast.com/s/AbCdEfGhIjKl?domain=example.com",
            _result("https://protect-eu.mimecast.com/s/AbCdEfGhIjKl?domain=example.com", (),
                    "mimecast"),
            id="mimecast-opaque",
        ),
    ],
)
def test_vendor(wrapped: str, expected: Unwrapped) -> None:
    assert unwrap(wrapped) == expected


# --- plain URLs and near misses: never unwrapped ---------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://www.example.com/?url=https%3A%2F%2Fother.example", id="plain"),
        pytest.param("", id="empty"),
        pytest.param("mailto:someone@example.com?url=https://x.example", id="mailto"),
        pytest.param("https://www.google.com/search?q=https%3A%2F%2Fexample.com", id="g-search"),
        pytest.param("https://urldefense.com/v4/__https://x.example__;!!a$", id="pp-unknown-v"),
        pytest.param("https://mail.google.com/url?q=https://x.example", id="google-subdomain"),
        # The browser goes to evil.example ("\" is "/" in special URLs, WHATWG §4.4).
        pytest.param(
            "https://evil.example\\@nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2F"
            "good.example",
            id="backslash-userinfo",
        ),
        pytest.param(
            "https://nam12.safelinks.protection.outlook.com.evil.example/?url=https%3A%2F%2Fg.example",
            id="vendor-host-as-subdomain",
        ),
        pytest.param(
            "https://evil.example/evergreen-assets/safelinks/1/atp-safelinks.html?url=https%3A"
            "%2F%2Fgood.example",
            id="teams-path-on-other-host",
        ),
        pytest.param("https://google.netlify.app/url?q=https://good.example", id="google-private"),
        pytest.param("https://evilurldefense.com/v2/url?u=http-3A__good.example", id="pp-alike"),
        pytest.param("https://trendmicro.com.evil.example/wis/clicktime/v1/query?url=x", id="tm"),
        pytest.param("https://protect-eu.mimecast.com/login", id="mimecast-not-link"),
        pytest.param("https://example.com/?a=1&amp;b=2", id="amp-outside-wrapper"),
        pytest.param("https://example.com/?a=3D1", id="qp-like-outside-wrapper"),
    ],
)
def test_not_a_wrapper(url: str) -> None:
    assert unwrap(url) == _result(url)


# --- nesting -----------------------------------------------------------------------------------

FINAL = "https://shop.example/cart?item=42&ref=mail#top"


@pytest.mark.parametrize(
    ("wrapped", "layers"),
    [
        (safelinks(proofpoint_v3(google(FINAL))), ("safelinks", "proofpoint_v3", "google")),
        (google(safelinks(FINAL)), ("google", "safelinks")),
        (proofpoint_v2(safelinks(FINAL)), ("proofpoint_v2", "safelinks")),
        (safelinks(proofpoint_v2(FINAL), "eur03.safelinks.protection.outlook.com"),
         ("safelinks", "proofpoint_v2")),
        (proofpoint_v3(safelinks(google(FINAL))), ("proofpoint_v3", "safelinks", "google")),
        (
            "https://linkprotect.cudasvc.com/url?a=" + quote(safelinks(FINAL), safe="") + "&c=E,1",
            ("barracuda", "safelinks"),
        ),
    ],
    ids=["safelinks>v3>google", "google>safelinks", "v2>safelinks", "safelinks>v2",
         "v3>safelinks>google", "barracuda>safelinks"],
)
def test_nested(wrapped: str, layers: tuple[str, ...]) -> None:
    assert unwrap(wrapped) == _result(FINAL, layers)


def test_depth_is_bounded_and_reported() -> None:
    wrapped = FINAL
    for _ in range(12):
        wrapped = safelinks(wrapped)
    assert unwrap(wrapped, max_depth=12) == _result(FINAL, ("safelinks",) * 12)
    shallow = unwrap(wrapped)  # default depth 10
    assert shallow.layers == ("safelinks",) * 10
    assert shallow.undecodable == "max_depth"
    assert unwrap(shallow.url, max_depth=2) == _result(FINAL, ("safelinks",) * 2)
    assert unwrap(wrapped, max_depth=0) == _result(wrapped, (), "max_depth")
    assert unwrap(FINAL, max_depth=0) == _result(FINAL)


# --- mail remnants: HTML entities and quoted-printable ----------------------------------------


@pytest.mark.parametrize(
    ("wrapped", "expected"),
    [
        pytest.param(
            "https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fexample.com%2F"
            "&#38;data=05&#x26;reserved=0",
            "https://example.com/",
            id="numeric-entities",
        ),
        pytest.param(
            "https://www.google.com/url?sa=t&amp;amp;url=https%3A%2F%2Fexample.com%2F",
            "https://example.com/",
            id="double-escaped",
        ),
        pytest.param(
            "https://nam12.safelinks.protection.outlook.com/?url=3Dhttps%3A%2F%2Fexample.com%2F"
            "%3Fa%3D1&amp;data=3D05%7C02&amp;reserved=3D0",
            "https://example.com/?a=1",
            id="qp-3D-and-amp",
        ),
        pytest.param(
            "https://nam12.safelinks.protection.outlook.com/?url=3Dhttps%3A%2F%2Fexam=\r\nple."
            "com%2F&data=3D05",
            "https://example.com/",
            id="qp-soft-line-break",
        ),
        pytest.param(
            "https://urldefense.proofpoint.com/v2/url?u=3Dhttps-3A__example.com_&d=3DDwMF&e=3D",
            "https://example.com/",
            id="qp-proofpoint-v2",
        ),
        pytest.param(
            "https://urldefense.proofpoint.com/v2/url?u=http-3A__example.com_-3Fa-3D1-26amp-3Bb"
            "-3D2&d=DwMF",
            "http://example.com/?a=1&b=2",
            id="v2-encoded-html-amp",  # Proofpoint's decoder unescapes what it encoded raw
        ),
    ],
)
def test_mail_remnants(wrapped: str, expected: str) -> None:
    assert unwrap(wrapped).url == expected


# --- malformed wrappers: input unchanged (or the layers that did decode), no exception ------


@pytest.mark.parametrize(
    ("wrapped", "vendor"),
    [
        ("https://nam12.safelinks.protection.outlook.com/?data=05%7C02&reserved=0", "safelinks"),
        ("https://nam12.safelinks.protection.outlook.com/", "safelinks"),
        ("https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fa.example"
         "&url=https%3A%2F%2Fb.example", "safelinks"),
        ("https://urldefense.proofpoint.com/v1/url?k=abc", "proofpoint_v1"),
        ("https://urldefense.proofpoint.com/v2/url?d=DwMF&e=", "proofpoint_v2"),
        ("https://urldefense.com/v3/__https://example.com/__", "proofpoint_v3"),  # truncated
        ("https://urldefense.com/v3/__https://example.com/*__;A!!x$", "proofpoint_v3"),  # b64
        ("https://urldefense.com/v3/__https://example.com/**__;Iw!!x$", "proofpoint_v3"),
        ("https://urldefense.com/v3/__https://example.com/**!__;Iw!!x$", "proofpoint_v3"),
        ("https://urldefense.com/v3/__https://example.com/**D__;Iw!!x$", "proofpoint_v3"),
        ("https://urldefense.com/v3/__https://example.com/*__;!!x$", "proofpoint_v3"),
        ("https://urldefense.com/v3/__https://example.com/*__;_w!!x$", "proofpoint_v3"),  # 0xff
        ("https://linkprotect.cudasvc.com/url?c=E,1", "barracuda"),
        ("https://www.google.com/url?sa=t&q=&url=", "google"),
        ("https://ctp.trendmicro.com/wis/clicktime/v1/query?umid=1", "trendmicro"),
    ],
)
def test_malformed_wrapper_is_reported_and_left_as_is(wrapped: str, vendor: str) -> None:
    assert unwrap(wrapped) == _result(wrapped, (), vendor)


def test_malformed_inner_wrapper_gives_the_partial_result() -> None:
    inner = "https://urldefense.com/v3/__https://example.com/*__;!!x$"
    assert unwrap(safelinks(inner)) == _result(inner, ("safelinks",), "proofpoint_v3")


def test_schemeless_wrapper_as_mail_clients_autolink_it() -> None:
    got = unwrap("nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fexample.com%2F")
    assert got == _result("https://example.com/", ("safelinks",))


# --- our own links --------------------------------------------------------------------------

BASE = "https://links.example.com/r/"


def _opener(url: str) -> str | None:
    return "https://sealed.example/dest" if url.endswith("/r/GOOD") else None


@pytest.mark.parametrize(
    ("url", "own", "expected"),
    [
        (BASE + "GOOD", OwnLinks.from_bases([BASE], _opener),
         _result("https://sealed.example/dest", ("linkguard",))),
        (BASE + "BAD", OwnLinks.from_bases([BASE], _opener),
         _result(BASE + "BAD", (), "linkguard")),
        (BASE + "GOOD", OwnLinks(bases=(BASE,)), _result(BASE + "GOOD", (), "linkguard")),
        ("HTTPS://LINKS.EXAMPLE.COM/r/GOOD", OwnLinks.from_bases([BASE], _opener),
         _result("https://sealed.example/dest", ("linkguard",))),
        (safelinks(BASE + "GOOD"), OwnLinks.from_bases([BASE], _opener),
         _result("https://sealed.example/dest", ("safelinks", "linkguard"))),
        ("https://go.example/r/GOOD", OwnLinks(is_own=lambda u: u.startswith("https://go."),
                                               opener=_opener),
         _result("https://sealed.example/dest", ("linkguard",))),
        # Look-alikes of our base are not ours.
        ("https://links.example.com@evil.example/r/GOOD", OwnLinks.from_bases([BASE], _opener),
         _result("https://links.example.com@evil.example/r/GOOD")),
        ("https://links.example.com.evil.example/r/GOOD", OwnLinks.from_bases([BASE], _opener),
         _result("https://links.example.com.evil.example/r/GOOD")),
        ("https://links.example.com/rx/GOOD", OwnLinks.from_bases([BASE], _opener),
         _result("https://links.example.com/rx/GOOD")),
    ],
    ids=["opens", "does-not-open", "no-opener", "case", "inside-safelinks", "is_own",
         "userinfo-trick", "subdomain-trick", "other-path"],
)
def test_own_links(url: str, own: OwnLinks, expected: Unwrapped) -> None:
    assert unwrap(url, own=own) == expected


@pytest.mark.parametrize("base", ["links.example.com/r/", "javascript:alert(1)", ""])
def test_own_link_base_must_be_an_http_url(base: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        OwnLinks.from_bases([base])


# --- percent-decoding once ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("%41", "A"),
        ("%2541", "%41"),  # exactly once
        ("%E2%82%AC", "€"),
        ("%e2%82%ac%2F", "€/"),
        ("%FF", "%FF"),  # not UTF-8: kept, not U+FFFD
        ("%ff%41", "%FFA"),
        ("%C3", "%C3"),  # truncated sequence
        ("%zz%4", "%zz%4"),
        ("a+b", "a+b"),  # "+" is not a space in a URL
        ("", ""),
    ],
)
def test_percent_decode_once(encoded: str, decoded: str) -> None:
    assert percent_decode_once(encoded) == decoded


# --- the public decoder test pairs (../shared/data) -----------------------------------------

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
PAIRS = DATA / "rewritten-links" / "decoder_test_pairs.tsv"


def _pairs() -> list[dict[str, str]]:
    if not PAIRS.is_file():
        return []
    with PAIRS.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


ROWS = _pairs()


@pytest.mark.data
@pytest.mark.parametrize(
    "row",
    ROWS or [pytest.param({}, id="absent")],
    ids=[f"{i:02d}-{r['test_name'][:40]}" for i, r in enumerate(ROWS)] or None,
)
def test_decoder_pairs(row: dict[str, str]) -> None:
    if not row:
        pytest.skip(f"public sample data not found at {PAIRS} (see ../shared/data/README.md)")
    got = unwrap(row["wrapped"]).url
    # cardi/proofpoint-url-decoder's unquote=True applies one percent-decoding to the result.
    # unwrap keeps the URL as the vendor would redirect to it; decoding it more could change
    # where it goes (%2F in a path), so the test applies that mode's extra step itself.
    if row["decode_mode"] == "unquote=True":
        got = unquote(got)
    else:
        assert row["decode_mode"].startswith("default"), row["decode_mode"]
    assert got == row["original"]


@pytest.mark.data
def test_decoder_pairs_are_all_there() -> None:
    if not ROWS:
        pytest.skip(f"public sample data not found at {PAIRS}")
    assert len(ROWS) == 38


# --- properties ------------------------------------------------------------------------------

WRAPPER_PREFIXES = [
    "https://nam12.safelinks.protection.outlook.com/?url=",
    "https://statics.teams.cdn.office.net/x/atp-safelinks.html?url=",
    "https://urldefense.proofpoint.com/v1/url?u=",
    "https://urldefense.proofpoint.com/v2/url?u=",
    "https://urldefense.com/v3/__",
    "urldefense.com/v3/__",
    "https://linkprotect.cudasvc.com/url?a=",
    "https://www.google.com/url?q=",
    "https://ctp.trendmicro.com/wis/clicktime/v1/query?url=",
    "https://protect-us.mimecast.com/s/",
]
any_text = st.text(st.characters(exclude_categories=()))  # surrogates included


@given(any_text | st.sampled_from(WRAPPER_PREFIXES).flatmap(lambda p: any_text.map(p.__add__)))
def test_property_never_raises(text: str) -> None:
    result = unwrap(text)
    assert isinstance(result.url, str)
    assert len(result.layers) <= 10
    if not result.layers:
        assert result.url == text


@given(any_text.filter(lambda t: t.count("__;") < 3), st.binary(max_size=80))
def test_property_v3_garbage_never_raises(text: str, tail: bytes) -> None:
    b64 = base64.urlsafe_b64encode(tail).decode().rstrip("=")
    unwrap(f"https://urldefense.com/v3/__{text}__;{b64}!!x$")


destination = st.text().map(lambda t: "https://example.com/" + t)


@given(destination)
def test_property_safelinks_round_trip(url: str) -> None:
    assert unwrap(safelinks(url)) == _result(url, ("safelinks",))


@given(destination)
def test_property_proofpoint_v3_round_trip(url: str) -> None:
    assert unwrap(proofpoint_v3(url)) == _result(url, ("proofpoint_v3",))


@given(destination)
def test_property_proofpoint_v2_round_trip(url: str) -> None:
    assert unwrap(proofpoint_v2(url)) == _result(url, ("proofpoint_v2",))


def test_public_api_is_pinned() -> None:
    from linkguard.core import unwrap as module  # noqa: PLC0415 - the module, not the function

    assert sorted(module.__all__) == [
        "DEFAULT_MAX_DEPTH", "DEPTH_EXHAUSTED", "OwnLinks", "Unwrapped", "percent_decode_once",
        "unwrap",
    ]


# --- the host-only test the sealer asks first ---------------------------------------------------


def _params(test: object) -> list[str]:
    """The URLs a parametrized test above runs on (its first argument)."""
    marks = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
    return [p.values[0] if hasattr(p, "values") else p[0] for m in marks for p in m.args[1]]


WRAPPED_EXAMPLES = [
    *_params(test_vendor), *_params(test_nested), *(r["wrapped"] for r in ROWS),
    "https://statics.teams.cdn.office.net/evergreen-assets/safelinks/1/atp-safelinks.html?url="
    "https%3A%2F%2Fgood.example",
    "https://www.google.co.uk/url?q=https://good.example",
]


@pytest.mark.parametrize("url", WRAPPED_EXAMPLES + _params(test_not_a_wrapper))
def test_a_wrapper_host_is_never_passed_over(url: str) -> None:
    # may_be_wrapper_host may say True of any host; it must never say False of a wrapper's.
    parsed = parse_url(url)
    if isinstance(parsed, ParsedUrl) and is_wrapped(parsed):
        assert may_be_wrapper_host(parsed.host)


def test_wrapper_examples_are_wrappers() -> None:
    # The test above is only as good as its examples: nearly all of them must be wrappers.
    parsed = [parse_url(url) for url in WRAPPED_EXAMPLES]
    wrapped = [p for p in parsed if isinstance(p, ParsedUrl) and is_wrapped(p)]
    assert len(wrapped) >= len(WRAPPED_EXAMPLES) - 2


@pytest.mark.parametrize("host", [
    "click.news5.example", "www.example.com", "googl.example", "office.example",
    "outlook.com", "urldefense.example",
])
def test_ordinary_hosts_are_not_wrapper_hosts(host: str) -> None:
    assert not may_be_wrapper_host(host)


@given(st.from_regex(r"[a-z0-9-]{1,12}(\.[a-z0-9-]{1,12}){0,3}", fullmatch=True),
       st.sampled_from(["safelinks.protection.outlook.com", "urldefense.com", "google.com",
                        "google.de", "office.net", "mimecast.com", "trendmicro.eu",
                        "linkprotect.cudasvc.com", "example.com"]),
       st.sampled_from(["/url", "/v3/__x__", "/s/abc", "/wis/clicktime/v1/query",
                        "/evergreen-assets/safelinks/1/atp-safelinks.html", "/"]))
def test_property_wrapper_hosts_are_never_passed_over(sub: str, domain: str, path: str) -> None:
    for host in (domain, f"{sub}.{domain}"):
        parsed = parse_url(f"https://{host}{path}?url=https%3A%2F%2Fx.example&q=x&u=x&a=x")
        if isinstance(parsed, ParsedUrl) and is_wrapped(parsed):
            assert may_be_wrapper_host(parsed.host)
