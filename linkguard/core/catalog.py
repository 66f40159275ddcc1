"""What the checks know about the world: brands, platforms, shorteners, TLDs, lure words.

All of it is reviewable data (``allowlists/``) parsed once into indexes; the per-URL checks do
dictionary lookups only. Parsing is pure: callers read files and pass text plus a source name,
and every problem comes back as ``file:line: message``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import yaml

from linkguard.core import listfile
from linkguard.core.listfile import ListFileError, Problem
from linkguard.core.lists import ListIndex
from linkguard.core.url import host_to_ascii, split_domain


@dataclass(frozen=True, slots=True)
class Brand:
    name: str
    tokens: tuple[str, ...]  # distinctive names attackers imitate ("paypal")
    domains: tuple[str, ...]  # every legitimate registrable domain, ASCII
    own: bool = False  # the organisation's own domains (from config)


# Kinds whose users' content lives in the path of the platform's own host
# (forms.office.com/Pages/…, storage.googleapis.com/<bucket>/…, ipfs.io/ipfs/<cid>).
PATH_CONTENT_KINDS = frozenset({"forms", "file_sharing", "object_storage", "ipfs_gateway"})


@dataclass(frozen=True, slots=True)
class Platform:
    match: str  # host (and subdomains), optionally with a path prefix: "docs.google.com/forms/"
    kind: str  # web_hosting, site_builder, forms, object_storage …
    content_in_path: bool = False  # paths on the host itself are users' content (linktr.ee/x)

    @property
    def host(self) -> str:
        return self.match.split("/", 1)[0]

    @property
    def path_prefix(self) -> str:
        _, slash, rest = self.match.partition("/")
        return "/" + rest if slash else ""


@dataclass(slots=True)
class Catalog:
    brands: list[Brand] = field(default_factory=list)
    platforms: list[Platform] = field(default_factory=list)
    shorteners: frozenset[str] = frozenset()
    suspicious_tlds: Mapping[str, str] = field(default_factory=dict)  # tld -> tier
    lure_words: frozenset[str] = frozenset()
    lists: ListIndex = field(default_factory=ListIndex)


# --- parsers ----------------------------------------------------------------------------------

def parse_brands(text: str, source: str, *, own: bool = False) -> list[Brand]:
    """``brands.yaml``: ``brands: [{name, tokens: [...], domains: [...]}]``."""
    root = listfile.compose_yaml(text, source)
    problems: list[Problem] = []
    brands: list[Brand] = []
    brands_node = _section(root, "brands", source, problems)
    for item in listfile.sequence_items(brands_node) if brands_node is not None else []:
        fields = {k: v for k, _, v in listfile.mapping_items(item)}
        line = listfile.line_of(item)
        name = listfile.scalar(fields["name"]) if "name" in fields else None
        if not name:
            problems.append(Problem(source, line, "a brand needs a name"))
            continue
        tokens = []
        for node in listfile.sequence_items(fields.get("tokens", yaml.SequenceNode("", []))):
            token = (listfile.scalar(node) or "").strip().lower()
            if len(token) < 3 or not token.isascii() or not token.isalnum():
                problems.append(Problem(source, listfile.line_of(node),
                                        f"token {token!r}: use 3+ ASCII letters or digits"))
                continue
            tokens.append(token)
        domains = []
        for node in listfile.sequence_items(fields.get("domains", yaml.SequenceNode("", []))):
            raw = listfile.scalar(node) or ""
            domain = _registrable(raw)
            if domain is None:
                problems.append(Problem(source, listfile.line_of(node),
                                        f"{raw!r} is not a registrable domain"))
                continue
            domains.append(domain)
        if not domains:
            problems.append(Problem(source, line, f"brand {name!r} needs at least one domain"))
            continue
        brands.append(Brand(name, tuple(dict.fromkeys(tokens)), tuple(dict.fromkeys(domains)),
                            own=own))
    if problems:
        raise ListFileError(problems)
    return brands


def own_brand(domains: Iterable[str], name: str = "our organisation") -> Brand | None:
    """The organisation's own domains (from settings) protected like a brand."""
    clean = [d for d in (_registrable(x) for x in domains) if d]
    if not clean:
        return None
    tokens = tuple(dict.fromkeys(
        label for d in clean
        if len(label := split_domain(d).registrable_domain.split(".", 1)[0]) >= 4
        and label.isalnum()))
    return Brand(name, tokens, tuple(clean), own=True)


def parse_platforms(text: str, source: str) -> list[Platform]:
    """``free_hosting.yaml``: ``platforms: [{match: host[/path], kind}]``."""
    root = listfile.compose_yaml(text, source)
    problems: list[Problem] = []
    platforms: list[Platform] = []
    node = _section(root, "platforms", source, problems)
    for item in listfile.sequence_items(node) if node is not None else []:
        fields = {k: listfile.scalar(v) for k, _, v in listfile.mapping_items(item)}
        match, kind = (fields.get("match") or "").strip().lower(), (fields.get("kind") or "")
        host = host_to_ascii(match.split("/", 1)[0]) if match else None
        content = (fields.get("content") or "").strip()
        if not host or not kind or content not in ("", "path", "subdomains"):
            problems.append(Problem(source, listfile.line_of(item),
                                    "a platform needs 'match: host[/path]', 'kind:' and "
                                    "optionally 'content: path|subdomains'"))
            continue
        rest = match.split("/", 1)[1] if "/" in match else None
        in_path = content == "path" or (not content and kind.strip() in PATH_CONTENT_KINDS)
        platforms.append(Platform(host + ("/" + rest if rest is not None else ""), kind.strip(),
                                  in_path))
    if problems:
        raise ListFileError(problems)
    return platforms


def parse_host_lines(text: str, source: str) -> frozenset[str]:
    """A plain list of host names (shorteners.txt)."""
    hosts: set[str] = set()
    problems: list[Problem] = []
    for number, body in listfile.iter_lines(text):
        host = host_to_ascii(body) if len(body.split()) == 1 else None
        if not host or "/" in body:
            problems.append(Problem(source, number, f"{body!r} is not a host name"))
            continue
        hosts.add(host.rstrip("."))
    if problems:
        raise ListFileError(problems)
    return frozenset(hosts)


def parse_tld_lines(text: str, source: str) -> dict[str, str]:
    """``suspicious_tlds.txt``: ``tld tier`` per line, tier ``high`` or ``elevated``."""
    tlds: dict[str, str] = {}
    problems: list[Problem] = []
    for number, body in listfile.iter_lines(text):
        parts = body.split()
        tier = parts[1].lower() if len(parts) > 1 else "elevated"
        tld = host_to_ascii(parts[0].lstrip("."))
        if not tld or tier not in ("high", "elevated") or len(parts) > 2:
            problems.append(Problem(source, number, f"{body!r}: expected 'tld high|elevated'"))
            continue
        tlds[tld] = tier
    if problems:
        raise ListFileError(problems)
    return tlds


def parse_word_lines(text: str, source: str) -> frozenset[str]:
    words: set[str] = set()
    problems: list[Problem] = []
    for number, body in listfile.iter_lines(text):
        word = body.lower()
        if not word.isascii() or not word.isalnum() or len(word) < 2:
            problems.append(Problem(source, number, f"{body!r}: one lower-case word per line"))
            continue
        words.add(word)
    if problems:
        raise ListFileError(problems)
    return frozenset(words)


def _section(root: yaml.Node | None, name: str, source: str,
             problems: list[Problem]) -> yaml.Node | None:
    if root is None:
        return None
    for key, _, value in listfile.mapping_items(root):
        if key == name:
            return value
    problems.append(Problem(source, listfile.line_of(root), f"missing '{name}:' section"))
    return None


def _registrable(raw: str) -> str | None:
    host = host_to_ascii(raw.strip().lower()) if raw.strip() else None
    if not host:
        return None
    host = host.rstrip(".")
    return host if split_domain(host).registrable_domain == host else None
