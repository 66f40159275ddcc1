"""The URL model: parse a link exactly as a browser would, then describe its host.

Why not ``urllib.parse``: the browser, not Python, decides where a click goes, and the two
disagree on precisely the inputs attackers use. ``urlsplit("https://paypal.com\\@evil.example")``
reports host ``paypal.com\\`` while a browser (WHATWG URL Standard, §4.4 "basic URL parser")
treats ``\\`` as ``/`` and lands on ``paypal.com``; ``urllib`` keeps tabs and newlines a browser
drops, does not read ``http://0x7f.1/`` as 127.0.0.1, and does not apply UTS #46 mapping to
hosts. So parsing is done by ada-url (the WHATWG implementation inside Node.js, which passes the
web-platform-tests URL suite), and this module only adds what a link checker needs on top:

* the host in both forms: ASCII (what goes into links, RFC 5891 A-labels) and Unicode (what the
  lookalike checks compare): ada's WHATWG "domain to ASCII" for links, ``idna`` (UTS #46) with
  ada as the fallback for the Unicode form;
* the trailing root dot dropped (``paypal.com.`` resolves to the same name as ``paypal.com``);
* the registrable domain ("eTLD+1") from tldextract with its bundled Public Suffix List — private
  suffixes on, so ``alice.github.io`` is its own site — and never a fetch at run time;
* a typed :class:`UrlError` instead of an exception for input that is too long or unparsable.

Everything here is pure: no network, no clock, no environment.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Final

import ada_url
import idna
import tldextract
from ada_url._ada_wrapper import ffi as _ffi
from ada_url._ada_wrapper import lib as _lib

from linkguard.native import optional_module

# Longer input is refused before parsing: no mail client produces such links and the parser's
# work should stay bounded (HTTP servers commonly cap request lines at 8 KiB too).
MAX_URL_BYTES = 8 * 1024

# Schemes that run code or read local data when clicked (WHATWG "special" rules do not apply).
DANGEROUS_SCHEMES = frozenset({"javascript", "data", "vbscript", "file"})
HTTP_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class HostKind(enum.StrEnum):
    DOMAIN = "domain"
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    OPAQUE = "opaque"  # host of a non-special scheme, kept as written
    NONE = "none"  # no host at all (javascript:, data:, mailto: …)


@dataclass(frozen=True, slots=True)
class UrlError:
    """Why an input is not a URL a browser would follow. A value, not an exception."""

    code: str  # "url.empty" | "url.too_long" | "url.unparsable"
    message: str
    raw: str


@dataclass(frozen=True, slots=True)
class ParsedUrl:
    """A URL as a browser sees it, with the host facts the checks need."""

    raw: str
    href: str  # WHATWG serialisation, ASCII host: where the click really goes
    scheme: str  # lower case, no colon
    username: str
    password: str
    host: str  # ASCII form, lower case, no trailing dot; IPv6 without brackets; "" if none
    host_unicode: str  # Unicode form of ``host`` (equal to it for ASCII names and IPs)
    host_kind: HostKind
    port: int | None  # explicit non-default port only, as WHATWG drops default ports
    path: str
    query: str  # without "?"
    fragment: str  # without "#"
    registrable_domain: str  # ASCII eTLD+1, "" for IPs, bare suffixes and single labels
    registrable_domain_unicode: str
    subdomain: str  # ASCII labels left of the registrable domain ("" if none)
    suffix: str  # public suffix, ASCII ("" if the host has none)
    suffix_is_private: bool  # suffix from the PSL private section (github.io, web.app …)

    @property
    def is_http(self) -> bool:
        return self.scheme in HTTP_SCHEMES

    @property
    def is_dangerous_scheme(self) -> bool:
        return self.scheme in DANGEROUS_SCHEMES

    @property
    def has_userinfo(self) -> bool:
        return bool(self.username or self.password)

    @property
    def domain_label(self) -> str:
        """The label that was registered: ``paypal`` in ``www.paypal.co.uk`` (ASCII)."""
        if not self.registrable_domain:
            return ""
        return self.registrable_domain[: -len(self.suffix) - 1] if self.suffix else ""

    @property
    def domain_label_unicode(self) -> str:
        if not self.registrable_domain_unicode:
            return ""
        return self.registrable_domain_unicode.split(".", 1)[0]

    @property
    def subdomain_labels(self) -> tuple[str, ...]:
        return tuple(self.subdomain.split(".")) if self.subdomain else ()

    @property
    def path_and_query(self) -> str:
        return self.path + ("?" + self.query if self.query else "")


# One extractor for the process. ``suffix_list_urls=()`` plus ``cache_dir=None`` means the
# snapshot bundled with tldextract is the only source: no fetch, no cache files, ever.
_EXTRACTOR = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
)


@dataclass(frozen=True, slots=True)
class DomainParts:
    subdomain: str
    registrable_domain: str
    suffix: str
    is_private: bool


@functools.lru_cache(maxsize=65536)
def split_domain(host: str) -> DomainParts:
    """Split an ASCII host name into subdomain, registrable domain and public suffix."""
    return DomainParts(*_split(host))


def _split(host: str) -> tuple[str, str, str, bool]:
    """split_domain's parts as a plain tuple (the URL model's own host memo keeps those)."""
    found = _psl_split(host)
    subdomain, domain, suffix, is_private = found if found is not None else _tldextract_split(host)
    if domain and suffix:
        return subdomain, f"{domain}.{suffix}", suffix, is_private
    if is_private and suffix == host:
        # The platform's own name (``github.io``): a private suffix is also a site of its owner.
        return "", host, host, True
    # A bare ICANN suffix (``co.uk``) or a name with no known suffix (``intranet``): there is
    # no registrable domain to speak of.
    return subdomain, "", suffix, is_private


def _tldextract_split(host: str) -> tuple[str, str, str, bool]:
    ext = _EXTRACTOR(host)
    return ext.subdomain, ext.domain, ext.suffix, ext.is_private


# tldextract's ``__call__`` reads its argument as a URL first (scheme, userinfo, port, IPv6
# brackets, Unicode dots) and then walks its suffix trie; that reading is most of its cost.
# A host name from the WHATWG parser has none of those parts, so for one the trie walk
# (``suffix_index``) is called directly, and the parts are cut as ``_extract_netloc`` cuts
# them. Anything else — a character that reading would act on, or no suffix at all (where
# tldextract also looks for an IPv4 address) — goes the whole way. ``test_fast_paths`` holds
# the two against each other.
_PSL_TRIE = getattr(_EXTRACTOR, "_get_tld_extractor", None)
_NOT_PLAIN = re.compile(r"[^a-z0-9.\-_]")


def _psl_split(host: str) -> tuple[str, str, str, bool] | None:
    if _PSL_TRIE is None or not host or host[-1] == "." or _NOT_PLAIN.search(host):
        return None
    labels = host.split(".")
    found = _PSL_TRIE().suffix_index(labels, include_psl_private_domains=True)
    if not found:
        return None
    index, node = found[0]
    return (".".join(labels[: index - 1]) if index >= 2 else "",
            labels[index - 1] if index > 0 else "", ".".join(labels[index:]),
            bool(node.is_private))


def listed_parent(host: str, names: Container[str]) -> str | None:
    """``host`` or the nearest parent domain of it that is in ``names`` (``x7k2.app.link`` →
    ``app.link``), or None: lists of services that hand out subdomains match them all."""
    name = host
    while name:
        if name in names:
            return name
        _, dot, name = name.partition(".")
        if not dot:
            return None
    return None


@functools.lru_cache(maxsize=65536)
def host_to_unicode(host: str) -> str:
    """Unicode form of an ASCII host, label by label (UTS #46 ToUnicode, as WHATWG "domain to
    Unicode" specifies).

    ``idna`` (UTS #46 processing, IDNA 2008 validation) decodes first. It refuses labels that
    browsers nevertheless resolve (``xn--ls8h`` is 💩, ``xn--g6h`` is ♥); for those, ada's
    WHATWG "domain to Unicode" decodes instead, so the lookalike checks can read them. A label
    that claims to be an A-label (``xn--``) but does not decode at all stays as written: the
    caller sees an ASCII form it can flag, never an exception.
    """
    if "xn--" not in host:
        return host
    try:
        return str(idna.decode(host, uts46=True))
    except (idna.IDNAError, UnicodeError, ValueError):
        pass
    try:
        return str(ada_url.idna_to_unicode(host))
    except (UnicodeError, ValueError):  # non-ASCII input: not an ASCII host, nothing to decode
        return host


# Code points that end a host inside a URL string. Percent-encoded, they reach the WHATWG host
# parser instead, which decodes and refuses them: "a/b" is not a host, nor "a@b" (the WPT
# IdnaTestV2 runner encodes the same set for the same reason; "@" is added for userinfo).
# Inside an IPv6 literal ":" is the separator, so there it stays.
_HOST_ENDING = str.maketrans({c: f"%{ord(c):02X}" for c in ":/?#\\@"})
_IPV6_ENDING = str.maketrans({c: f"%{ord(c):02X}" for c in "/?#\\@"})


def host_to_ascii(host: str) -> str | None:
    """ASCII form of a Unicode host as a browser computes it (WHATWG host parser for http:).

    None when a browser would refuse the host. The whole string is the host: ``"a/b"`` or
    ``"user@evil.example"`` give None, not the part before the delimiter.
    """
    if host.startswith("[") and host.endswith("]"):
        encoded = host.translate(_IPV6_ENDING)
    else:
        encoded = host.translate(_HOST_ENDING)
    try:
        parsed = ada_url.URL(f"http://{encoded}/")
    except ValueError:
        return None
    return str(parsed.hostname)


# Only what ParsedUrl needs: every attribute is a separate call into ada (~0.7 µs each).
_ATTRIBUTES = ("href", "username", "password", "protocol", "port", "hostname", "pathname",
               "search", "hash", "host_type")

_HOST_KINDS = {0: HostKind.DOMAIN, 1: HostKind.IPV4, 2: HostKind.IPV6}


def parse_url(raw: str) -> ParsedUrl | UrlError:
    """Parse ``raw`` as a browser would. Never raises; returns :class:`UrlError` instead."""
    if len(raw) > MAX_URL_BYTES or len(raw.encode("utf-8", "surrogatepass")) > MAX_URL_BYTES:
        return UrlError("url.too_long", f"longer than {MAX_URL_BYTES} bytes", raw[:200])
    # WHATWG: leading/trailing C0 controls and spaces are stripped, ASCII tab and newline
    # removed anywhere. ada does the same; doing it here first lets "empty" be told apart.
    if not raw.strip(_C0_AND_SPACE):
        return UrlError("url.empty", "no URL given", raw)
    # A NUL needs no special case: ada receives the string with its length (no C string
    # boundary), refuses it in a host and percent-encodes it elsewhere, as browsers do.
    try:
        parsed = _canonical(raw) or (_ada_parse(raw) if _HAS_OFFSETS else
                                     _ada_parse_attributes(raw))
    except (ValueError, UnicodeError) as exc:
        return UrlError("url.unparsable", _describe_failure(raw, exc), raw[:200])
    described = _describe(raw, parsed)
    if described is None:
        # RFC 1035 §2.3.4: 63 octets a label, 253 a name. A longer host never resolves, so no
        # click can land anywhere; refusing it also keeps per-label work bounded.
        return UrlError("url.unparsable", "host name longer than DNS allows (RFC 1035)",
                        raw[:200])
    return described


_C0_AND_SPACE = "".join(chr(c) for c in range(0x20)) + " "

# The parse result as plain strings: href, protocol, username, password, hostname, port,
# pathname, search, hash (the WHATWG URL API getters) and ada's host type.
_Parsed = tuple[str, str, str, str, str, str, str, str, str, int]


def _ada_parse(raw: str) -> _Parsed:
    """ada's parse and getters, in one call into the library and slices of ``href``.

    ``ada_url.parse_url`` calls into the library once per attribute (each ~0.7 µs). ada keeps
    a parsed URL as its serialisation plus eight offsets into it ("url_aggregator"
    components), and each getter is a substring between two of them; taking the offsets once
    and slicing here gives the same strings at a fraction of the cost. The slices follow
    ``url_aggregator::get_*`` in ada's source; ``tests/core/test_fast_paths.py`` holds them
    against ``ada_url.parse_url``. The serialisation of a valid URL is ASCII (WHATWG
    percent-encodes and punycodes everything else), so byte offsets are character offsets;
    anything else takes the per-attribute path.
    """
    data = raw.encode()  # a lone surrogate raises UnicodeError, as in ada_url.parse_url
    url = _lib.ada_parse(data, len(data))
    try:
        if not _lib.ada_is_valid(url):
            raise ValueError("Invalid URL")
        buffer = _lib.ada_get_href(url)
        href_bytes = _ffi.unpack(buffer.data, buffer.length)
        c = _lib.ada_get_components(url)
        host_type = int(_lib.ada_get_host_type(url))
        offsets = (c.protocol_end, c.username_end, c.host_start, c.host_end, c.port,
                   c.pathname_start, c.search_start, c.hash_start)
    finally:
        _lib.ada_free(url)
    if not href_bytes.isascii():
        return _ada_parse_attributes(raw)
    href = href_bytes.decode("ascii")
    return _slices(href, offsets, host_type)


# A URL the WHATWG parser would give back unchanged, written the way mailers write most links:
# "http" or "https" in lower case, a host of lower-case ASCII labels (none empty, none with an
# A-label "xn--", the last starting with a letter, so not read as an IPv4 address: §3.5 "ends
# in a number"), no userinfo, no port, a path that starts with "/", then an optional query and
# fragment. Every character is one that no percent-encode set of §1.3 touches (letters, digits,
# RFC 3986's unreserved and sub-delims except "'", ":", "@", "/", "?", one "#", and "%" only
# before two hex digits); that refuses tabs, newlines, spaces, "\\" and non-ASCII, which the
# parser removes, rewrites or encodes. The path must hold no "." or ".." segment in any
# spelling (§4.4 "single-dot"/"double-dot URL path segment", which the parser removes). For
# such a string the serialisation is the string itself and the components are its pieces, so
# ada is not asked; tests/core/test_fast_paths.py holds the pieces against ada's.
_CANONICAL_HTTP = re.compile(
    r"(https?:)//((?:[a-z0-9-]++\.)*+[a-z][a-z0-9-]*+)(/[A-Za-z0-9._~!$&()*+,;=:@/%-]*+)"
    r"(\?[A-Za-z0-9._~!$&()*+,;=:@/?%-]*+)?(#[A-Za-z0-9._~!$&()*+,;=:@/?%-]*+)?"
)
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DOT_SEGMENT = re.compile(r"/(?:\.|%2[eE]){1,2}(?:/|\Z)")


def _canonical_python(raw: str) -> _Parsed | None:
    """The parse of a URL already in its WHATWG form (see ``_CANONICAL_HTTP``), or None."""
    m = _CANONICAL_HTTP.fullmatch(raw)
    if m is None:
        return None
    protocol, hostname, path, search, fragment = m.groups()
    if "xn--" in hostname:
        return None
    if "%" in raw and _BAD_PERCENT.search(raw):
        return None
    if ("." in path or "%" in path) and _DOT_SEGMENT.search(path):
        return None
    # A lone "?" or "#" is kept in the serialisation but reads as "" (WHATWG URL API getters).
    search = search if search and len(search) > 1 else ""
    fragment = fragment if fragment and len(fragment) > 1 else ""
    return (raw, protocol, "", "", hostname, "", path, search, fragment, 0)


# The same tests in one pass over the string, where linkguard/core/_urlcore.pyx is built.
_urlcore: Final = optional_module("linkguard.core._urlcore")
_canonical: Final[Callable[[str], _Parsed | None]] = (
    _canonical_python if _urlcore is None else _urlcore.canonical
)
_canonical_host: Final[Callable[[str, int], str | None] | None] = (
    None if _urlcore is None else _urlcore.canonical_host
)


def _visible_ascii_python(text: str) -> bool:
    return text.isascii() and text.isprintable() and " " not in text


# Whether a string is one token of printable ASCII, "!" to "~" (RFC 3986 characters and the
# few a link may carry escaped): the rewriter asks it of every link value and replacement.
is_visible_ascii: Final[Callable[[str], bool]] = (
    _visible_ascii_python if _urlcore is None else _urlcore.visible_ascii
)


def canonical_http_host(raw: str) -> str | None:
    """The host of ``raw`` when ``raw`` is already its own WHATWG serialisation (an http(s)
    URL of an ordinary domain name, see ``_CANONICAL_HTTP``), else None.

    For such a string ``parse_url(raw)`` gives ``href == raw`` and this ``host``; callers that
    need nothing else of the parse (the sealer, for the usual link) skip building it.
    """
    if _canonical_host is not None:
        return _canonical_host(raw, MAX_URL_BYTES)
    return _canonical_host_python(raw)


def _canonical_host_python(raw: str) -> str | None:
    """:func:`canonical_http_host` by the parse tuple: the reference of the compiled one."""
    if len(raw) > MAX_URL_BYTES:
        return None
    parsed = _canonical(raw)
    if parsed is None or _too_long_for_dns(parsed[4]):
        return None
    return parsed[4]


def _slices(href: str, offsets: tuple[int, ...], host_type: int) -> _Parsed:
    protocol_end, username_end, host_start, host_end, port, path_start, search_start, \
        hash_start = offsets
    size = len(href)
    username = href[protocol_end + 2:username_end] if protocol_end + 2 < username_end else ""
    password = href[username_end + 1:host_start] if host_start > username_end else ""
    start = host_start + 1 if host_end > host_start and href[host_start] == "@" else host_start
    hostname = href[start:host_end]
    port_text = "" if port == _OMITTED else href[host_end + 1:path_start]
    if search_start != _OMITTED:
        path_end = search_start
    else:
        path_end = hash_start if hash_start != _OMITTED else size
    pathname = href[path_start:path_end]
    search = ""
    if search_start != _OMITTED:
        search_end = hash_start if hash_start != _OMITTED else size
        if search_end - search_start > 1:
            search = href[search_start:search_end]
    fragment = href[hash_start:] if hash_start != _OMITTED and size - hash_start > 1 else ""
    return (href, href[:protocol_end], username, password, hostname, port_text, pathname,
            search, fragment, host_type)


def _ada_parse_attributes(raw: str) -> _Parsed:
    """The same through ``ada_url.parse_url``, one library call per attribute."""
    a = ada_url.parse_url(raw, _ATTRIBUTES)
    return (str(a["href"]), str(a["protocol"]), str(a["username"]), str(a["password"]),
            str(a["hostname"]), str(a["port"]), str(a["pathname"]), str(a["search"]),
            str(a["hash"]), int(a["host_type"]))


# ada's "omitted" offset (``url_components::omitted``, uint32_t(-1)).
_OMITTED = 0xFFFFFFFF
# ada's C API has had the offsets since ada 2.0; an older binding takes the attribute path.
_HAS_OFFSETS = hasattr(_lib, "ada_get_components")


def _too_long_for_dns(host: str) -> bool:
    if len(host) <= 63:
        return False  # no label can be longer than the whole name
    return len(host) > 253 or max(map(len, host.split("."))) > 63


def _describe_failure(raw: str, exc: Exception) -> str:
    del exc  # ada only says "invalid URL"; explain the common cases ourselves
    if ":" not in raw:
        return "no scheme (a link needs one, such as https:)"
    return "not a URL a browser would follow (invalid host, port or characters)"


def _describe(raw: str, parsed: _Parsed) -> ParsedUrl | None:
    """The ParsedUrl of one parse result; None when its host is longer than DNS allows."""
    href, protocol, username, password, hostname, port_text, path, search, fragment, \
        host_type = parsed
    scheme = protocol.rstrip(":")
    if host_type == 0 and hostname and scheme in _SPECIAL_SCHEMES:
        host = _domain_host(hostname)  # the common case: a domain name, remembered
    else:
        host = _other_host(hostname, host_type, scheme)
    if host is None:
        return None
    return _new_parsed(raw, href, scheme, username, password, host[0], host[1], host[2],
                       int(port_text) if port_text else None, path, search[1:], fragment[1:],
                       host[3], host[4], host[5], host[6], host[7])


# ParsedUrl's generated __init__ sets each of its 17 fields with object.__setattr__, which
# looks the name up on the type every time (about half the cost of a parse that ada is not
# asked for). One is built per parse, so _new_parsed sets the same slots through their
# descriptors, found once here in field order; tests/core/test_fast_paths.py pins that it
# builds what ParsedUrl(...) builds.
(
    _set_raw, _set_href, _set_scheme, _set_username, _set_password, _set_host,
    _set_host_unicode, _set_host_kind, _set_port, _set_path, _set_query, _set_fragment,
    _set_registrable_domain, _set_registrable_domain_unicode, _set_subdomain, _set_suffix,
    _set_suffix_is_private,
) = (getattr(ParsedUrl, f.name).__set__ for f in dataclasses.fields(ParsedUrl))
_new_object = object.__new__
# The same in one call where linkguard/core/_slots.pyx is built (setup.py): the descriptors'
# setter called from C, without a Python call per field.
_PARSED_SLOTS = tuple(getattr(ParsedUrl, f.name) for f in dataclasses.fields(ParsedUrl))


_slots = optional_module("linkguard.core._slots")  # not built: descriptors called from Python
_build_slots: Final[Callable[[type[ParsedUrl], tuple[object, ...], tuple[object, ...]],
                             ParsedUrl] | None] = None if _slots is None else _slots.build


def _new_parsed(  # noqa: PLR0917 - ParsedUrl's fields, positional as it takes them
    raw: str, href: str, scheme: str, username: str, password: str, host: str,
    host_unicode: str, host_kind: HostKind, port: int | None, path: str, query: str,
    fragment: str, registrable_domain: str, registrable_domain_unicode: str, subdomain: str,
    suffix: str, suffix_is_private: bool,
) -> ParsedUrl:
    if _build_slots is not None:
        return _build_slots(ParsedUrl, _PARSED_SLOTS, (
            raw, href, scheme, username, password, host, host_unicode, host_kind, port, path,
            query, fragment, registrable_domain, registrable_domain_unicode, subdomain, suffix,
            suffix_is_private))
    url: ParsedUrl = _new_object(ParsedUrl)
    _set_raw(url, raw)
    _set_href(url, href)
    _set_scheme(url, scheme)
    _set_username(url, username)
    _set_password(url, password)
    _set_host(url, host)
    _set_host_unicode(url, host_unicode)
    _set_host_kind(url, host_kind)
    _set_port(url, port)
    _set_path(url, path)
    _set_query(url, query)
    _set_fragment(url, fragment)
    _set_registrable_domain(url, registrable_domain)
    _set_registrable_domain_unicode(url, registrable_domain_unicode)
    _set_subdomain(url, subdomain)
    _set_suffix(url, suffix)
    _set_suffix_is_private(url, suffix_is_private)
    return url


# What ParsedUrl says about a host: host, host_unicode, host_kind, registrable_domain,
# registrable_domain_unicode, subdomain, suffix, suffix_is_private.
_Host = tuple[str, str, HostKind, str, str, str, str, bool]


@functools.lru_cache(maxsize=65536)
def _domain_host(hostname: str) -> _Host | None:
    """The host facts of a domain name; None if it is longer than DNS allows.

    Hosts repeat far more than URLs in mail, and everything here depends on the name alone
    (IDNA decoding, the Public Suffix List split), so it is worked out once per name.
    """
    host = hostname.rstrip(".").lower()
    if _too_long_for_dns(host):
        return None
    if not host:
        return (host, host, HostKind.DOMAIN, "", "", "", "", False)
    subdomain, registrable_domain, suffix, is_private = _split(host)
    return (host, host_to_unicode(host), HostKind.DOMAIN, registrable_domain,
            host_to_unicode(registrable_domain), subdomain, suffix, is_private)


def _other_host(hostname: str, host_type: int, scheme: str) -> _Host | None:
    """Host facts of the rest: IP literals, opaque hosts of other schemes, no host at all."""
    host_kind = _HOST_KINDS.get(host_type, HostKind.DOMAIN)
    if not hostname:
        host_kind = HostKind.NONE
    elif scheme not in _SPECIAL_SCHEMES:
        host_kind = HostKind.OPAQUE if host_kind is HostKind.DOMAIN else host_kind
    if host_kind is HostKind.DOMAIN:
        return _domain_host(hostname)
    host = hostname
    if host_kind is HostKind.IPV6:
        host = host.strip("[]")
    if host_kind is HostKind.OPAQUE:
        host = host.rstrip(".").lower()
    return (host, host, host_kind, "", "", "", "", False)


# WHATWG "special" schemes: their hosts are domains (IDNA-processed); others are opaque.
_SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp", "file"})

# Text that a person reads as a web address although it has no scheme ("www.paypal.com",
# "paypal.com/login"). Mail clients turn such text into links, so display texts use it.
_SCHEMELESS_HINT = ("www.",)


# Characters a reader never sees. A control that starts right-to-left text (UAX #9: RLE, RLO,
# RLI, FSI, RLM, ALM) reorders what follows it, so the reader takes the text before it as the
# address ("https://paypal.com<RLO>gnp.exe" reads as paypal.com and reversed junk); the
# left-to-right controls and zero-width characters are simply not seen.
_RTL_CONTROLS = re.compile("[\u061c\u200f\u202b\u202e\u2067\u2068]")
_INVISIBLE = re.compile("[\u00ad\u200b-\u200e\u202a\u202c\u202d\u2060\u2066\u2069\ufeff]")


def parse_link_text(text: str) -> ParsedUrl | None:
    """Read a link's display text as the address a person believes it is, if it looks like one.

    Returns None when the text is not address-like (plain words, an e-mail address, a phrase).
    """
    if not text.isascii():
        text = _INVISIBLE.sub("", _RTL_CONTROLS.split(text, maxsplit=1)[0])
    candidate = text.strip().strip("<>\"'()[]").strip()
    if not candidate or len(candidate) > 2048 or any(c.isspace() for c in candidate):
        return None
    lowered = candidate.lower()
    if "://" in lowered:
        result = parse_url(candidate)
        return result if isinstance(result, ParsedUrl) and result.is_http else None
    if "@" in candidate.split("/", 1)[0]:
        return None  # an e-mail address, not a web address
    head = candidate.split("/", 1)[0].rstrip(".")
    if "." not in head and not lowered.startswith(_SCHEMELESS_HINT):
        return None
    result = parse_url("http://" + candidate)
    if not isinstance(result, ParsedUrl):
        return None
    if result.host_kind is HostKind.IPV4:
        # The WHATWG IPv4 parser reads "1.5" as 1.0.0.5 and "2.0.1" as 2.0.0.1, but a person
        # reads a number or a version there. Only a dotted quad written as the browser writes it
        # back ("192.168.0.1") is an address to its reader.
        written = re.split(r"[:/?#\\]", candidate, maxsplit=1)[0].rstrip(".")
        return result if result.host == written else None
    if result.host_kind is not HostKind.DOMAIN:
        return result if result.host_kind is HostKind.IPV6 else None
    # Only text whose last label is a known public suffix reads as an address ("v2.0" does not).
    return result if result.suffix and result.registrable_domain else None
