"""The URL model against the web-platform-tests URL suite: the cases every browser runs.

The data is read in place from ``../shared/data/url`` beside the repository (never copied in: it
carries its own licence); without it these tests skip and say why. Three files, from WPT
``url/resources/`` as vendored by ada-url:

* ``urltestdata.json``: each case without a base goes through :func:`parse_url` and must give
  a UrlError exactly when a browser fails, and otherwise the same href, protocol, username,
  password, host, hostname, port, pathname, search and hash. ``parse_url`` takes no base (a
  link in a mail has none), so cases with a base are not applicable to the model; they are
  still run through ada-url directly, which pins the parser underneath to the suite.
* ``toascii.json`` and ``IdnaTestV2.json``: each input through :func:`host_to_ascii`, as WPT's
  own runners do (``new URL("https://" + input + "/x")``). The empty input is skipped, as
  WPT's runner skips it: no URL can carry an empty host.
* ``IdnaTestV2.json`` once more for the other direction: every case typed in Unicode (no
  ``xn--`` in the input) that a browser accepts must come back from :func:`host_to_unicode`
  with every label decoded, and encode again to the same ASCII host. That is what the
  lookalike checks rely on.

Where the model deliberately departs from the suite, the case is in ``DELIBERATE`` with the
model's value and the reason; the test asserts that value, so a stale entry fails too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ada_url
import pytest

from linkguard.core.url import (
    HostKind,
    ParsedUrl,
    UrlError,
    host_to_ascii,
    host_to_unicode,
    parse_url,
)

pytestmark = pytest.mark.data

# tests/core/ -> tests/ -> the repository -> its parent, which holds shared/data
URL_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "url"

Case = dict[str, Any]


def _load(name: str) -> list[Case]:
    path = URL_DATA / name
    if not path.is_file():
        return []
    # Strings between the cases are comments of the suite
    return [c for c in json.loads(path.read_text(encoding="utf-8")) if isinstance(c, dict)]


def _absent(name: str) -> str:
    return f"web-platform-tests data absent: {URL_DATA / name} (read in place, never copied)"


def _params(name: str, cases: list[Case]) -> list[Any]:
    """One test per case, or a single skip that names the missing file."""
    if not (URL_DATA / name).is_file():
        skip = pytest.mark.skip(reason=_absent(name))
        return [pytest.param(None, marks=skip, id="data-absent")]
    return [pytest.param(c, id=f"{i}:{ascii(c['input'])[1:41]}") for i, c in enumerate(cases)]


URLTESTDATA = _load("urltestdata.json")
APPLICABLE = [c for c in URLTESTDATA if c.get("base") is None]
WITH_BASE = [c for c in URLTESTDATA if c.get("base") is not None]  # not applicable: no base arg
TOASCII = _load("toascii.json")
IDNA = _load("IdnaTestV2.json")
IDNA_TO_ASCII = [c for c in IDNA if c["input"]]  # WPT's runner skips the empty input too
IDNA_UNICODE_TYPED = [
    c for c in IDNA if c["input"] and c["output"] and "xn--" not in c["input"].lower()
]

# --- deliberate departures from urltestdata.json (input -> model's hostname, reason) ---------

TRAILING_DOTS = (
    "ParsedUrl.host drops trailing root dots, all of them: checks and lists compare the dotless "
    "name, and a host of dots only is no name at all (href keeps the dots as written)"
)
OPAQUE_CASE = (
    "ParsedUrl.host is lower-cased, also the opaque host of a non-special scheme, which WHATWG "
    "keeps as written: such URLs are never http, never resolved, and compare case-blind here"
)
_C0_AND_DEL = "".join(map(chr, [*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]))
DELIBERATE: dict[str, tuple[str, str]] = {
    "http://./": ("", TRAILING_DOTS),
    "http://../": ("", TRAILING_DOTS),
    "h://.": ("", TRAILING_DOTS),
    "http://foo.09..": ("foo.09", TRAILING_DOTS),
    "sc://fa\xdf.ExAmPlE/": ("fa%c3%9f.example", OPAQUE_CASE),
    "sc://\xf1.test/": ("%c3%b1.test", OPAQUE_CASE),
    "sc://\xf1": ("%c3%b1", OPAQUE_CASE),
    "sc://\xf1?x": ("%c3%b1", OPAQUE_CASE),
    "sc://\xf1#x": ("%c3%b1", OPAQUE_CASE),
    "asdf://%43%7C/": ("%43%7c", OPAQUE_CASE),
    "non-special://%E2%80%A0/": ("%e2%80%a0", OPAQUE_CASE),
    "non-special://H%4fSt/path": ("h%4fst", OPAQUE_CASE),
    f"sc://{_C0_AND_DEL}!\"$%&'()*+,-.;=_`{{}}~/": (
        "%01%02%03%04%05%06%07%08%0b%0c%0e%0f%10%11%12%13%14%15%16%17%18%19%1a%1b%1c%1d%1e%1f"
        "%7f!\"$%&'()*+,-.;=_`{}~",
        OPAQUE_CASE,
    ),
}

FIELDS = ("href", "protocol", "username", "password", "host", "hostname", "port", "pathname",
          "search", "hash")


def _as_wpt(result: ParsedUrl) -> dict[str, str]:
    """The model's value of each field the suite checks, spelled as the URL API spells it."""
    hostname = f"[{result.host}]" if result.host_kind is HostKind.IPV6 else result.host
    port = "" if result.port is None else str(result.port)
    return {
        "href": result.href,
        "protocol": f"{result.scheme}:",
        "username": result.username,
        "password": result.password,
        "host": f"{hostname}:{port}" if port else hostname,
        "hostname": hostname,
        "port": port,
        "pathname": result.path,
        "search": f"?{result.query}" if result.query else "",
        "hash": f"#{result.fragment}" if result.fragment else "",
    }


@pytest.mark.parametrize("case", _params("urltestdata.json", APPLICABLE))
def test_urltestdata(case: Case) -> None:
    result = parse_url(case["input"])
    if case.get("failure"):
        assert isinstance(result, UrlError), f"a browser refuses it; the model gave {result}"
        return
    assert isinstance(result, ParsedUrl), f"a browser goes to {case['href']}; model: {result}"
    expected = {field: case[field] for field in FIELDS}
    if case["input"] in DELIBERATE:
        hostname, _reason = DELIBERATE[case["input"]]
        assert hostname != case["hostname"], "stale exception: the model now agrees with WPT"
        expected["hostname"] = hostname
        expected["host"] = f"{hostname}:{case['port']}" if case["port"] else hostname
    assert _as_wpt(result) == expected


def test_urltestdata_census() -> None:
    if not URLTESTDATA:
        pytest.skip(_absent("urltestdata.json"))
    assert len(APPLICABLE) + len(WITH_BASE) == len(URLTESTDATA)
    applicable = {c["input"]: c for c in APPLICABLE}
    # Every exception names a case that exists, has no base and that browsers accept
    missing = [raw for raw in DELIBERATE if raw not in applicable]
    assert not missing
    assert not [raw for raw in DELIBERATE if applicable[raw].get("failure")]


def test_urltestdata_with_base_through_ada() -> None:
    """Not applicable to parse_url (no base argument); pins ada-url itself to the suite."""
    if not WITH_BASE:
        pytest.skip(_absent("urltestdata.json"))
    wrong: list[tuple[str, str, object]] = []
    for case in WITH_BASE:
        try:
            url = ada_url.URL(case["input"], base=case["base"])
        except ValueError:
            if not case.get("failure"):
                wrong.append((case["input"], case["base"], "refused"))
            continue
        if case.get("failure"):
            wrong.append((case["input"], case["base"], "accepted"))
            continue
        got = {field: str(getattr(url, field)) for field in FIELDS}
        if got != {field: case[field] for field in FIELDS}:
            wrong.append((case["input"], case["base"], got))
    assert not wrong


@pytest.mark.parametrize("case", _params("toascii.json", TOASCII))
def test_toascii(case: Case) -> None:
    assert host_to_ascii(case["input"]) == case["output"]


@pytest.mark.parametrize("case", _params("IdnaTestV2.json", IDNA_TO_ASCII))
def test_idna_to_ascii(case: Case) -> None:
    assert host_to_ascii(case["input"]) == case["output"]


@pytest.mark.parametrize("case", _params("IdnaTestV2.json", IDNA_UNICODE_TYPED))
def test_idna_to_unicode_round_trip(case: Case) -> None:
    unicode = host_to_unicode(case["output"])
    assert not [label for label in unicode.split(".") if label.startswith("xn--")], unicode
    assert host_to_ascii(unicode) == case["output"]
