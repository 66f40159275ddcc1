"""How the URL is built: scheme, host form, userinfo, port, nesting, TLD, hosting platform."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

from linkguard.core.catalog import Platform
from linkguard.core.memo import Memo
from linkguard.core.model import Facts, LinkContext, Signal
from linkguard.core.url import HostKind, ParsedUrl, listed_parent

# Beyond this many labels left of the registrable domain a host is unusual in mail links;
# phishing uses deep chains to push the real domain off-screen on phones
# (``secure.login.paypal.com.account.example.xyz``).
DEEP_SUBDOMAIN_LABELS = 4
MANY_HYPHENS = 2
# Registered names this long are rare among popular sites (about 2% of a top-50k list) and
# common among phishing domains built from several words ("onlinebanking-managepayees").
# Shorter names count for less, in steps: 12+ letters are a sixth of popular names but a
# third of phishing names, 14+ a tenth against a quarter.
LONG_NAME = 18
LONG_NAME_STEPS = ((LONG_NAME, 1.0), (14, 0.75), (12, 0.5))
_DOMAINISH = re.compile(r"[a-z0-9-]+\.[a-z]{2,}", re.IGNORECASE)
# A familiar-looking domain ending inside the name, before the real one: "paypal.com.verify",
# "runescape.com-cn", "lloydsbank.co.uk-gb", "rakuten.co.jp.x7". Generic endings, and the
# "co."/"com." second levels of country domains, are what people read as "the end".
_EMBEDDED_DOMAIN = re.compile(
    r"[a-z0-9]\.(?:com|net|org|gov|edu|co\.[a-z]{2}|com\.[a-z]{2}|gov\.[a-z]{2})(?:[.-]|$)")
_LETTER_DIGIT_RUNS = re.compile(r"[a-z]+|[0-9]+")


class PlatformIndex:
    """Hosting platforms by host; most-specific match wins (host, then parent domains)."""

    def __init__(self, platforms: Sequence[Platform]) -> None:
        self.by_host: dict[str, list[Platform]] = {}
        for platform in platforms:
            self.by_host.setdefault(platform.host, []).append(platform)

    def find_host(self, host: str) -> Platform | None:
        """The platform whose users publish on subdomains of it, when ``host`` is one."""
        _, dot, name = host.partition(".")
        while dot:
            for platform in self.by_host.get(name, ()):
                if not platform.path_prefix:
                    return platform
            _, dot, name = name.partition(".")
        return None

    def find(self, url: ParsedUrl) -> tuple[Platform, bool] | None:
        """(platform, user content?) — content is the user's when it sits below the platform's
        own name: a subdomain of it, or a path under a listed prefix."""
        name = url.host
        while name:
            for platform in self.by_host.get(name, ()):
                prefix = platform.path_prefix
                if prefix:
                    if url.path.startswith(prefix) and len(url.path) > len(prefix):
                        return platform, True
                    continue
                on_subdomain = name != url.host or _is_suffix_root(url)
                in_path = platform.content_in_path and url.path.strip("/") != ""
                return platform, on_subdomain or in_path
            _, dot, rest = name.partition(".")
            name = rest if dot else ""
        return None


def _is_suffix_root(url: ParsedUrl) -> bool:
    # ``alice.github.io``: the platform name is a public suffix, so the user's site is the
    # registrable domain itself; the platform's own page is the bare suffix.
    return url.suffix_is_private and url.registrable_domain != url.suffix


class StructureCheck:
    name = "structure"

    def __init__(self, *, platforms: PlatformIndex, shorteners: frozenset[str],
                 suspicious_tlds: Mapping[str, str]) -> None:
        self.platforms = platforms
        self.shorteners = shorteners
        self.suspicious_tlds = suspicious_tlds
        self._memo: Memo[str, tuple[Signal, ...]] = Memo(100_000)

    def run(self, url: ParsedUrl, context: LinkContext, facts: Facts,
            now: datetime) -> Iterator[Signal]:
        if url.is_dangerous_scheme:
            yield Signal("scheme.dangerous", {"scheme": url.scheme})
            return
        if not url.is_http:
            yield Signal("scheme.other", {"scheme": url.scheme})
            return
        if url.scheme == "http":
            yield Signal("scheme.plain_http", {"scheme": "http"})
        if url.has_userinfo:
            userinfo = url.username + (":" + url.password if url.password else "")
            if _DOMAINISH.search(userinfo[:256]):
                yield Signal("url.userinfo_domain", {"userinfo": userinfo[:100],
                                                     "real_host": url.host})
            else:
                yield Signal("url.userinfo", {"userinfo": userinfo[:100], "real_host": url.host})
        if url.host_kind in (HostKind.IPV4, HostKind.IPV6):
            yield Signal("host.ip_literal", {"host": url.host, "range": _ip_range(url.host)})
        if url.port is not None:
            yield Signal("host.port", {"port": url.port})
        found_host = self._memo.get(url.host)
        if found_host is None:
            found_host = self._memo.put(url.host, tuple(self._host(url)))
        yield from found_host
        shortener = self._shortener(url.host)
        if shortener and url.path.strip("/") and not _followed(url, facts):
            yield Signal("redirect.shortener", {"shortener": shortener})
        found = self.platforms.find(url)
        if found and found[1]:
            platform, _ = found
            yield Signal("hosting.free", {"platform": platform.match, "kind": platform.kind},
                         HOSTING_STRENGTH.get(platform.kind, 0.8))

    def _shortener(self, host: str) -> str | None:
        """The listed shortener ``host`` belongs to: itself or a parent domain, as
        shorteners.txt says (link services hand out subdomains: ``x7k2.app.link``,
        ``maps.app.goo.gl``)."""
        return listed_parent(host, self.shorteners)

    def _host(self, url: ParsedUrl) -> Iterator[Signal]:
        """Signals of the host name alone (remembered per host)."""
        labels = url.subdomain_labels
        if len(labels) >= DEEP_SUBDOMAIN_LABELS:
            yield Signal("host.deep_subdomain", {"labels": len(labels)},
                         min(1.0, 0.6 + 0.1 * (len(labels) - DEEP_SUBDOMAIN_LABELS)))
        label = url.domain_label_unicode  # "xn--" hyphens are not the author's
        if label.count("-") >= MANY_HYPHENS:
            yield Signal("host.many_hyphens", {"label": label},
                         1.0 if label.count("-") > MANY_HYPHENS else 0.6)
        letters = len(label) - label.count("-")  # hyphens are many_hyphens' business
        for length, strength in LONG_NAME_STEPS:
            if letters >= length:
                yield Signal("host.long_name", {"label": label, "length": letters}, strength)
                break
        if url.host_kind is HostKind.DOMAIN and url.suffix:
            name = url.host[: -len(url.suffix) - 1]
            embedded = _EMBEDDED_DOMAIN.search(name)
            if embedded:
                yield Signal("host.embedded_domain", {"host": url.host_unicode,
                                                      "looks_like_end": embedded.group(0)[2:]})
            random_label = _machine_made(name)
            if random_label:
                yield Signal("host.random_label", {"label": random_label})
            else:
                numbered = _numbered(name)
                if numbered:
                    yield Signal("host.numbered_name", {"label": numbered})
        tld = url.host.rsplit(".", 1)[-1] if url.host_kind is HostKind.DOMAIN else ""
        tier = self.suspicious_tlds.get(tld)
        if tier:
            yield Signal("tld.suspicious", {"tld": tld, "tier": tier},
                         1.0 if tier == "high" else 0.5)


# How much of the hosting weight each kind of platform carries. Anonymous publishing with no
# account checks (tunnels, IPFS gateways, free web hosts, site builders, form builders that
# collect passwords as readily as survey answers) is where phishing pages live (APWG and
# Interisle phishing landscape reports): a warning on its own. Shared files and newsletters
# (SharePoint, Substack) fill legitimate mail too: there the platform alone stays under the
# warning line and needs one more signal.
HOSTING_STRENGTH: dict[str, float] = {
    "tunnel": 1.0,
    "dynamic_dns": 1.0,
    "paste": 1.0,
    "ipfs_gateway": 1.0,
    "web_hosting": 1.0,
    "page_builder": 1.0,
    "site_builder": 1.0,
    "forms": 1.0,
    "dev_hosting": 1.0,
    "object_storage": 1.0,
    "url_preview": 0.9,
    "blog": 0.8,
    "file_sharing": 0.8,
}


def _machine_made(name: str) -> str | None:
    """A label piece that looks generated rather than chosen: letters and digits interleaved
    several times ("byc1lssv99fwm", "m8ptxld0"), or a long run of letters with almost no vowels
    ("ztowolmdxneypiyyfcsppghjyw"). People name sites with words, and words do not do either."""
    pieces = (p for label in name.split(".") if not label.startswith("xn--")
              for p in label.split("-"))
    for piece in pieces:
        if len(piece) < 8:
            continue
        runs = _LETTER_DIGIT_RUNS.findall(piece)
        if len(runs) >= 5:
            return piece
        letters = "".join(r for r in runs if r.isalpha())
        if len(letters) >= 16:
            vowels = sum(letters.count(v) for v in "aeiou")
            if vowels / len(letters) < 0.25:
                return piece
    return None


# Names stamped out in series ("betasus199", "site9423773", "konto54875424"): a word with a
# serial number is how bulk registrations and throwaway accounts are named. Real names carry
# numbers too ("news24", "office365"): about 2% of popular names against 8% of phishing ones,
# so the weight is small.
_SERIAL = re.compile(r"[a-z][0-9]{3,}$|[a-z]{3}[0-9]{2}$")


def _numbered(name: str) -> str | None:
    """A label piece of letters ending in a serial number: three digits or more, or two at the
    very end of the piece."""
    for label in name.split("."):
        if label.startswith("xn--"):
            continue
        for piece in label.split("-"):
            if len(piece) >= 5 and _SERIAL.search(piece):
                return piece
    return None


def _followed(url: ParsedUrl, facts: Facts) -> bool:
    """The redirect chain was followed past this link: the destination is known (and judged,
    and named in ``redirect.chain``), so the shortener hides nothing any more. A chain that
    stopped on the shortener (time, hops, refusal) ends with this very URL."""
    chain = facts.redirect_chain
    return len(chain) > 1 and chain[-1] != url.href


def _ip_range(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "unknown"
    if address.is_loopback:
        return "loopback"
    if address.is_private:
        return "private"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "reserved"
    return "public"
