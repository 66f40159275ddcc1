"""Decode other vendors' link wrappers, offline, to find where a link really goes.

Mail often arrives with its links already rewritten by another gateway (Microsoft Safe Links,
Proofpoint URL Defense …), sometimes several times over. We judge and wrap the innermost URL
(DESIGN.md, "Unwrap, then wrap once"), so :func:`unwrap` peels known wrappers until none is left,
at most ``max_depth`` times, and reports each vendor it peeled.

Security rules, because a wrongly recognised wrapper means judging a URL the click never visits:

* A wrapper is recognised by its host as a *browser* reads it (WHATWG, via
  :func:`linkguard.core.url.parse_url`): ``https://evil.example\\@nam12.safelinks…`` goes to
  ``evil.example`` and is not Safe Links. Only the vendors' own hosts count, never a look-alike
  path on any host.
* The parameter is taken from the query the browser would send (WHATWG-serialised: no fragment,
  tabs and newlines dropped), split on ``&`` by hand and percent-decoded exactly once, as the
  vendor's server does. ``urllib.parse.parse_qs`` is not used: it also splits on ``;`` and
  decodes ``+``, and a nested URL must come out byte for byte as it went in.
* A repeated wrapper parameter (``?url=a&url=b``) is refused: vendors never emit one and servers
  disagree on which copy wins.
* Remnants of mail encodings are cleaned only inside a recognised wrapper: ``&amp;`` left by HTML
  (and its numeric forms), and quoted-printable ``=3D`` with soft line breaks (RFC 2045 §6.7),
  recognised only when every ``=`` in the text is a quoted-printable escape. The host must read
  the same before and after cleaning.

Vendors (each row cites the format's public description):

=================  ===========================================================================
``safelinks``      Microsoft Defender for Office 365 Safe Links: ``https://<region>.safelinks.
                   protection.outlook.com/?url=<percent-encoded>&data=…`` (``.office365.us``
                   for GCC High/DoD); the Teams form ``…/atp-safelinks.html?url=`` on Microsoft
                   hosts. Microsoft Learn, "Safe Links in Microsoft Defender for Office 365".
``proofpoint_v1``  ``urldefense.proofpoint.com/v1/url?u=<percent-encoded>&k=…``
``proofpoint_v2``  ``/v2/url?u=…``: ``-`` stands for ``%`` and ``_`` for ``/``, then one
                   percent-decoding (Proofpoint's published ``URLDefenseDecode.py``, v3.0.1).
``proofpoint_v3``  ``urldefense.com/v3/__<url>__;<base64url bytes>!<org>!<signature>$``:
                   each ``*`` takes the next byte of the decoded base64, ``**X`` takes a run of
                   2-65 bytes (X in ``A-Z a-z 0-9 - _`` = 2 … 65). Bytes, not characters:
                   cardi/proofpoint-url-decoder's UTF-8 tests show runs split multi-byte
                   characters, so the URL is assembled as bytes and decoded as UTF-8 at the end.
``barracuda``      Barracuda Link Protection: ``linkprotect.cudasvc.com/url?a=<encoded>&c=…``
``google``         Google redirector: ``www.google.<tld>/url?url=…`` or ``?q=…`` (``url`` wins:
                   in search-result links ``q`` holds the search words).
``trendmicro``     Trend Micro click-time protection: ``*.trendmicro.com/wis/clicktime/v1/query
                   ?url=…`` and ``/v2/clickthrough?url=…``.
``mimecast``       Mimecast URL Protect ``protect-<region>.mimecast.com/s/<id>``: opaque (the
                   destination lives on Mimecast's servers), reported in ``undecodable``.
``linkguard``      our own links, through the caller's :class:`OwnLinks` hook.
=================  ===========================================================================

Pure: no network, no clock, no environment. Never raises, whatever the input string.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from linkguard.core.url import ParsedUrl, parse_url

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEPTH_EXHAUSTED",
    "OwnLinks",
    "Unwrapped",
    "percent_decode_once",
    "unwrap",
]

DEFAULT_MAX_DEPTH: Final = 10
# ``undecodable`` when max_depth ran out with a wrapper still in hand.
DEPTH_EXHAUSTED: Final = "max_depth"


@dataclass(frozen=True, slots=True)
class Unwrapped:
    url: str  # innermost URL reached (the input itself when nothing was peeled)
    layers: tuple[str, ...]  # vendors peeled, outermost first
    undecodable: str | None = None  # vendor of a wrapper met but not decodable, or "max_depth"


@dataclass(frozen=True, slots=True)
class OwnLinks:
    """How to recognise and open our own sealed links (the gateway plugs in tokens).

    ``bases`` are link prefixes such as ``https://links.example.com/r/``, compared with the
    browser's reading of the URL; ``is_own`` may recognise more. ``opener`` returns the sealed
    destination, or None when the link does not open; without it, our links are reported as
    undecodable ``linkguard`` (never wrap them twice). The callables must not raise.
    """

    bases: tuple[str, ...] = ()
    is_own: Callable[[str], bool] | None = None
    opener: Callable[[str], str | None] | None = None
    _prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "_prefixes", tuple(_base_prefix(b) for b in self.bases))

    @classmethod
    def from_bases(
        cls, bases: Iterable[str], opener: Callable[[str], str | None] | None = None
    ) -> OwnLinks:
        return cls(bases=tuple(bases), opener=opener)

    def matches(self, raw: str, parsed: ParsedUrl | None) -> bool:
        if parsed is not None and parsed.href.startswith(self._prefixes):
            return True
        return self.is_own is not None and self.is_own(raw)

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The bases as the browser reads them (what :meth:`matches` compares with)."""
        return self._prefixes


def _base_prefix(base: str) -> str:
    parsed = parse_url(base)
    if not isinstance(parsed, ParsedUrl) or not parsed.is_http or not parsed.host:
        raise ValueError(f"own link base {base[:100]!r} is not an http(s) URL")
    # The serialised base always has a path starting with "/", so a prefix match cannot
    # accept ``https://links.example.com.evil.example/`` or ``…com@evil.example``.
    return parsed.href


def unwrap(
    url: str, *, own: OwnLinks | None = None, max_depth: int = DEFAULT_MAX_DEPTH
) -> Unwrapped:
    """Peel known wrappers off ``url``, outermost first. Never raises."""
    current = url
    layers: list[str] = []
    for _ in range(max(max_depth, 0)):
        step = _peel(current, own)
        if step is None:
            return Unwrapped(current, tuple(layers))
        vendor, inner = step
        if inner is None:
            return Unwrapped(current, tuple(layers), vendor)
        layers.append(vendor)
        current = inner
    if _peel(current, own) is not None:
        return Unwrapped(current, tuple(layers), DEPTH_EXHAUSTED)
    return Unwrapped(current, tuple(layers))


# A decoder gets the wrapper as the browser reads it and returns the inner URL, or None when the
# wrapper is malformed (missing parameter, bad base64, truncated).
_Decoder = Callable[[ParsedUrl], str | None]


def _peel(raw: str, own: OwnLinks | None) -> tuple[str, str | None] | None:
    """(vendor, inner URL or None if undecodable) for a wrapper; None for a plain URL."""
    parsed = _parse(raw)
    if own is not None and own.matches(raw, parsed):
        return "linkguard", own.opener(raw) if own.opener is not None else None
    if parsed is None:
        return None
    vendor = _recognise(parsed)
    if vendor is None:
        return None
    name, decode = vendor
    cleaned_raw = _clean_mail_remnants(raw)
    if cleaned_raw != raw:
        cleaned = _parse(cleaned_raw)
        again = _recognise(cleaned) if cleaned is not None else None
        if cleaned is not None and cleaned.host == parsed.host and again and again[0] == name:
            parsed = cleaned
    return name, decode(parsed)


def _parse(raw: str) -> ParsedUrl | None:
    parsed = parse_url(raw)
    if not isinstance(parsed, ParsedUrl):
        # Mail clients turn "urldefense.com/v3/…" into a link with an implied scheme.
        parsed = parse_url("https://" + raw)
    if isinstance(parsed, ParsedUrl) and parsed.is_http and parsed.host:
        return parsed
    return None


# --- recognising vendors by host and path ---------------------------------------------------------


def _recognise(url: ParsedUrl) -> tuple[str, _Decoder] | None:
    # Every click goes through here and most hosts are no vendor's at all: what every
    # vendor's host has in common (below) says "no" to them at once.
    if not (url.host.endswith(_WRAPPER_HOST_ENDINGS)
            or url.registrable_domain in _WRAPPER_DOMAINS or url.domain_label == "google"):
        return None
    return _recognise_vendor(url)


def _recognise_vendor(url: ParsedUrl) -> tuple[str, _Decoder] | None:
    host, path = url.host, url.path
    if _under(host, "safelinks.protection.outlook.com", "safelinks.protection.office365.us"):
        return "safelinks", _decode_url_param
    if path.endswith("/atp-safelinks.html") and url.registrable_domain in _MICROSOFT_DOMAINS:
        return "safelinks", _decode_url_param
    if host in _PROOFPOINT_HOSTS:
        if path == "/v1/url":
            return "proofpoint_v1", _decode_proofpoint_v1
        if path == "/v2/url":
            return "proofpoint_v2", _decode_proofpoint_v2
        if path.startswith("/v3/"):
            return "proofpoint_v3", _decode_proofpoint_v3
        return None
    if host == "linkprotect.cudasvc.com" and path == "/url":
        return "barracuda", _decode_a_param
    if _is_google(url) and path == "/url":
        return "google", _decode_google
    if url.registrable_domain in _TRENDMICRO_DOMAINS and path.startswith("/wis/clicktime/"):
        return "trendmicro", _decode_url_param
    if (
        url.registrable_domain == "mimecast.com"
        and host.startswith("protect")
        and path.startswith("/s/")
    ):
        return "mimecast", _opaque
    return None


def may_be_wrapper_host(host: str) -> bool:
    """False when no URL on ``host`` (a lower-case domain name) can be a wrapper that
    :func:`_recognise` knows: the test of its first line on the name alone, widened so that it
    never says False where that line would go on (a registrable domain of the list is the
    host or its parent; a registered label "google" puts "google" in the name)."""
    return (host.endswith(_WRAPPER_NAME_ENDINGS) or host in _WRAPPER_DOMAINS
            or "google" in host)


def is_wrapped(url: ParsedUrl, own: OwnLinks | None = None) -> bool:
    """Whether ``url`` is a wrapper ``unwrap`` would peel (a cheap test on a parsed URL)."""
    if own is not None and own.matches(url.raw, url):
        return True
    return _recognise(url) is not None


def _under(host: str, *domains: str) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


# Teams Safe Links pages are served from Microsoft CDNs (statics.teams.cdn.office.net …).
_MICROSOFT_DOMAINS: Final = frozenset(
    {"office.net", "office.com", "microsoft.com", "microsoft.us", "office365.us"}
)
_PROOFPOINT_HOSTS: Final = frozenset(
    {"urldefense.proofpoint.com", "urldefense.com", "urldefense.us"}
)
_TRENDMICRO_DOMAINS: Final = frozenset({"trendmicro.com", "trendmicro.eu"})
# What every vendor's host has, whatever else it needs (a quick "no" before the list below).
_WRAPPER_HOST_ENDINGS: Final = (
    "safelinks.protection.outlook.com", "safelinks.protection.office365.us",
    *_PROOFPOINT_HOSTS, "linkprotect.cudasvc.com",
)
_WRAPPER_DOMAINS: Final = _MICROSOFT_DOMAINS | _TRENDMICRO_DOMAINS | {"mimecast.com"}
_WRAPPER_NAME_ENDINGS: Final = (*_WRAPPER_HOST_ENDINGS, *sorted("." + d for d in _WRAPPER_DOMAINS))


def _is_google(url: ParsedUrl) -> bool:
    # google.com, google.co.uk, google.de …: the registered label is "google" under an ICANN
    # suffix. A private suffix (google.netlify.app) belongs to whoever registered it.
    return (
        url.domain_label == "google"
        and not url.suffix_is_private
        and url.subdomain in ("", "www")
    )


# --- decoders ----------------------------------------------------------------------------------


def _opaque(url: ParsedUrl) -> str | None:
    del url  # the destination is stored by the vendor, not in the link
    return None


def _param_decoder(name: str) -> _Decoder:
    def decode(url: ParsedUrl) -> str | None:
        value = _query_param(url.query, name)
        return None if value is None else percent_decode_once(value)

    return decode


_decode_url_param: Final = _param_decoder("url")
_decode_a_param: Final = _param_decoder("a")


def _decode_google(url: ParsedUrl) -> str | None:
    value = _query_param(url.query, "url") or _query_param(url.query, "q")
    return None if not value else percent_decode_once(value)


def _decode_proofpoint_v1(url: ParsedUrl) -> str | None:
    value = _query_param(url.query, "u")
    return None if value is None else _strip_html_amp(percent_decode_once(value))


def _decode_proofpoint_v2(url: ParsedUrl) -> str | None:
    value = _query_param(url.query, "u")
    if value is None:
        return None
    # Proofpoint's decoder: maketrans('-_', '%/'), unquote, then html.unescape. Only the
    # ampersand entities are undone here: a full unescape turns "&copy=1" into "©=1".
    return _strip_html_amp(percent_decode_once(value.translate(_V2_TRANSLATION)))


_V2_TRANSLATION: Final = str.maketrans("-_", "%/")

# After "/v3/__": the URL, then "__;", the base64url replacement bytes, then "!". Greedy, so
# the last "__;" is the separator (the URL itself may contain "__"); linear, as the character
# class cannot cross the ";" of an earlier "__;".
_V3_RE: Final = re.compile(r"/v3/__(?P<url>.*)__;(?P<bytes>[A-Za-z0-9_-]*)!", re.DOTALL)
# Run lengths of "**X": A=2, B=3 … _=65 (Proofpoint URLDefenseDecode.py, v3_run_mapping).
_V3_RUNS: Final = {
    c: n
    for n, c in enumerate(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", start=2
    )
}


def _decode_proofpoint_v3(url: ParsedUrl) -> str | None:
    rest = url.path + ("?" + url.query if url.query else "")
    match = _V3_RE.match(rest)
    if match is None:
        return None  # truncated: no "__;…!" terminator
    encoded = match["bytes"]
    if len(encoded) % 4 == 1:
        return None
    try:
        replacements = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        return None
    return _v3_substitute(match["url"], replacements)


def _v3_substitute(text: str, replacements: bytes) -> str | None:
    out = bytearray()
    used = 0
    i = 0
    try:
        while i < len(text):
            star = text.find("*", i)
            if star < 0:
                out += text[i:].encode("utf-8")
                break
            out += text[i:star].encode("utf-8")
            if text.startswith("**", star):
                run = _V3_RUNS.get(text[star + 2 : star + 3])
                if run is None:
                    return None  # "**" must be followed by a run-length letter
                i = star + 3
            else:
                run = 1
                i = star + 1
            if used + run > len(replacements):
                return None  # more tokens than replacement bytes
            out += replacements[used : used + run]
            used += run
        return out.decode("utf-8")
    except UnicodeError:
        return None


# --- query strings and encodings ------------------------------------------------------------------


def _query_param(query: str, name: str) -> str | None:
    """The raw value of the one parameter ``name`` (case-insensitive), or None.

    Split on ``&`` only: the wrapped URL's own ``&`` and ``=`` are percent-encoded by the
    vendor, and ``;`` is not a separator for any of these servers.
    """
    found: str | None = None
    for pair in query.split("&"):
        key, sep, value = pair.partition("=")
        if sep and key.lower() == name:
            if found is not None:
                return None  # ambiguous: ?url=a&url=b
            found = value
    return found


_PERCENT_RUN: Final = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_ESCAPED_BYTE: Final = re.compile(r"[\udc80-\udcff]")


def percent_decode_once(text: str) -> str:
    """One round of percent-decoding (RFC 3986 §2.1), UTF-8, lossless.

    Escapes that do not form UTF-8 stay as written (in upper case), unlike ``unquote``'s
    U+FFFD, which would change the destination.
    """

    def decode_run(match: re.Match[str]) -> str:
        data = bytes.fromhex(match[0].replace("%", ""))
        decoded = data.decode("utf-8", "surrogateescape")
        return _ESCAPED_BYTE.sub(lambda b: f"%{ord(b[0]) - 0xDC00:02X}", decoded)

    return _PERCENT_RUN.sub(decode_run, text)


_HTML_AMP: Final = re.compile(r"&(?:amp|#0*38|#x0*26);", re.IGNORECASE)


def _strip_html_amp(text: str) -> str:
    # "&amp;amp;" after double escaping: repeat, a bounded number of times.
    for _ in range(5):
        cleaned = _HTML_AMP.sub("&", text)
        if cleaned == text:
            break
        text = cleaned
    return text


_QP_SOFT_BREAK: Final = re.compile(r"=\r?\n")
_QP_ESCAPE_RUN: Final = re.compile(r"(?:=[0-9A-Fa-f]{2})+")
_QP_NOT_ESCAPE: Final = re.compile(r"=(?![0-9A-Fa-f]{2}|\r?\n)")


def _clean_mail_remnants(text: str) -> str:
    return _strip_html_amp(_decode_quoted_printable(text))


def _decode_quoted_printable(text: str) -> str:
    """Undo quoted-printable when the text is plainly still encoded (RFC 2045 §6.7).

    In quoted-printable every literal ``=`` is written ``=3D``; so the text is taken as
    encoded only if it contains ``=3D`` and no ``=`` that is not an escape or a soft break.
    A wrapper always has ``param=value``, so a decoded one never passes this test.
    """
    if "=3D" not in text.upper() or _QP_NOT_ESCAPE.search(text):
        return text
    unfolded = _QP_SOFT_BREAK.sub("", text)

    def decode_run(match: re.Match[str]) -> str:
        return bytes.fromhex(match[0].replace("=", "")).decode("utf-8")

    try:
        return _QP_ESCAPE_RUN.sub(decode_run, unfolded)
    except UnicodeDecodeError:
        return text
