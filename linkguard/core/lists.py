"""Admin allow and block lists: entries, their YAML file format, and the index the click path reads.

An entry matches by one of four kinds (the format is documented in ``allowlists/README.md``):

* ``domain`` — a registrable domain and every subdomain (``subdomains: false``: the host itself);
* ``host`` — exactly one host name (or IP address);
* ``url_prefix`` — every URL that starts with this normalised prefix (scheme, host and path).

Lookups cost O(number of host labels), whatever the list size: the index is a few dicts keyed
by host, not a scan over entries.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import yaml

from linkguard.core import listfile
from linkguard.core.listfile import ListFileError, Problem
from linkguard.core.url import ParsedUrl, host_to_ascii, parse_url, split_domain


class Action(enum.StrEnum):
    ALLOW = "allow"
    BLOCK = "block"


class MatchKind(enum.StrEnum):
    DOMAIN = "domain"  # registrable domain and its subdomains
    DOMAIN_ONLY = "domain_only"  # registrable domain, that host only (``subdomains: false``)
    HOST = "host"
    URL_PREFIX = "url_prefix"


@dataclass(frozen=True, slots=True)
class ListEntry:
    action: Action
    kind: MatchKind
    value: str  # normalised: ASCII host / domain, or the href prefix
    reason: str = ""
    owner: str = ""
    expires: datetime | None = None
    source: str = ""  # "file.yaml:12" or "api"

    def active(self, now: datetime) -> bool:
        return self.expires is None or now < self.expires

    def describe(self) -> str:
        return {
            MatchKind.DOMAIN: f"domain {self.value} and its subdomains",
            MatchKind.DOMAIN_ONLY: f"domain {self.value}",
            MatchKind.HOST: f"host {self.value}",
            MatchKind.URL_PREFIX: f"address prefix {self.value}",
        }[self.kind]


@dataclass(slots=True)
class ListIndex:
    """Entries arranged for O(labels) lookup. Build once; read on every click."""

    by_host: dict[str, list[ListEntry]] = field(default_factory=dict)  # HOST, DOMAIN_ONLY
    by_domain: dict[str, list[ListEntry]] = field(default_factory=dict)  # DOMAIN (+subdomains)
    prefixes: dict[str, list[ListEntry]] = field(default_factory=dict)  # URL_PREFIX, by host
    size: int = 0

    @classmethod
    def build(cls, entries: Iterable[ListEntry]) -> ListIndex:
        index = cls()
        for entry in entries:
            index.size += 1
            if entry.kind is MatchKind.DOMAIN:
                index.by_domain.setdefault(entry.value, []).append(entry)
            elif entry.kind is MatchKind.URL_PREFIX:
                prefix_host = parse_url(entry.value)
                key = prefix_host.host if isinstance(prefix_host, ParsedUrl) else ""
                index.prefixes.setdefault(key, []).append(entry)
            else:
                index.by_host.setdefault(entry.value, []).append(entry)
        return index

    def entries(self) -> list[ListEntry]:
        """Every entry, in no particular order."""
        groups = (*self.by_host.values(), *self.by_domain.values(), *self.prefixes.values())
        return [entry for group in groups for entry in group]

    def matches(self, url: ParsedUrl, now: datetime) -> list[ListEntry]:
        """Every active entry matching ``url`` (callers apply block-over-allow precedence)."""
        host = url.host
        if not host:
            return []
        exact = self.by_host.get(host)
        found = [e for e in exact if e.active(now)] if exact else []
        # Walk up the labels: a.b.example.com, b.example.com, example.com, com.
        name = host
        while name:
            for entry in self.by_domain.get(name, ()):
                if entry.active(now):
                    found.append(entry)
            _, dot, rest = name.partition(".")
            name = rest if dot else ""
        for entry in self.prefixes.get(host, ()):
            if entry.active(now) and url.href.startswith(entry.value):
                found.append(entry)
        return found


# --- the YAML file format -------------------------------------------------------------------

_ENTRY_KEYS = {"domain", "host", "url_prefix", "subdomains", "reason", "owner", "expires"}


def parse_list_file(text: str, source: str) -> list[ListEntry]:
    """Entries of one list file. Raises ListFileError naming file:line for every problem.

    ::

        version: 1
        allow:
          - domain: example.com
          - host: login.example.net
            reason: SSO for the payroll provider
            owner: it-security@example.org
            expires: 2027-01-31
        block:
          - url_prefix: https://files.example.com/shared/
    """
    root = listfile.compose_yaml(text, source)
    if root is None:
        return []  # an empty file is a valid, empty list
    if not isinstance(root, yaml.MappingNode):
        raise ListFileError([Problem(source, listfile.line_of(root),
                                     "expected a mapping with 'allow:' and/or 'block:'")])
    problems: list[Problem] = []
    entries: list[ListEntry] = []
    for key, key_node, value in listfile.mapping_items(root):
        if key == "version":
            if listfile.scalar(value) != "1":
                problems.append(Problem(source, listfile.line_of(value),
                                        "unsupported version (this linkguard reads version 1)"))
            continue
        if key not in ("allow", "block"):
            problems.append(Problem(source, listfile.line_of(key_node),
                                    f"unknown section {key!r} (expected allow, block, version)"))
            continue
        if isinstance(value, yaml.ScalarNode) and value.value in ("", "null", "~"):
            continue
        if not isinstance(value, yaml.SequenceNode):
            problems.append(Problem(source, listfile.line_of(value),
                                    f"'{key}:' must be a list of entries"))
            continue
        for item in listfile.sequence_items(value):
            entry = _parse_entry(Action(key), item, source, problems)
            if entry is not None:
                entries.append(entry)
    if problems:
        raise ListFileError(problems)
    return entries


def _parse_entry(action: Action, node: yaml.Node, source: str,
                 problems: list[Problem]) -> ListEntry | None:
    line = listfile.line_of(node)
    where = f"{source}:{line}"
    if isinstance(node, yaml.ScalarNode):
        problems.append(Problem(source, line, f"entry {node.value!r} needs a kind: write "
                                "'- domain: …', '- host: …' or '- url_prefix: …'"))
        return None
    fields: dict[str, tuple[str | None, int]] = {}
    for key, key_node, value in listfile.mapping_items(node):
        if key not in _ENTRY_KEYS:
            problems.append(Problem(source, listfile.line_of(key_node),
                                    f"unknown field {key!r} (allowed: "
                                    f"{', '.join(sorted(_ENTRY_KEYS))})"))
            continue
        fields[key] = (listfile.scalar(value), listfile.line_of(value))
    kinds = [k for k in ("domain", "host", "url_prefix") if k in fields]
    if len(kinds) != 1:
        problems.append(Problem(source, line, "an entry needs exactly one of domain, host, "
                                "url_prefix"))
        return None
    kind_name = kinds[0]
    raw_value, value_line = fields[kind_name]
    if not raw_value:
        problems.append(Problem(source, value_line, f"{kind_name} is empty"))
        return None
    try:
        kind, match_value = normalise_match(kind_name, raw_value,
                                            subdomains=_flag(fields.get("subdomains")))
        expires = _expiry(fields.get("expires"))
    except ValueError as exc:
        problems.append(Problem(source, value_line, str(exc)))
        return None
    return ListEntry(action, kind, match_value,
                     reason=(fields.get("reason") or ("", 0))[0] or "",
                     owner=(fields.get("owner") or ("", 0))[0] or "",
                     expires=expires, source=where)


def _flag(field_value: tuple[str | None, int] | None) -> bool:
    if field_value is None:
        return True
    text = (field_value[0] or "").lower()
    if text in ("true", "yes", "on"):
        return True
    if text in ("false", "no", "off"):
        return False
    raise ValueError(f"subdomains must be true or false, not {text!r}")


def _expiry(field_value: tuple[str | None, int] | None) -> datetime | None:
    if field_value is None or not field_value[0]:
        return None
    text = field_value[0]
    try:
        if len(text) == 10:
            # A date means "through that day": the entry stops at the next UTC midnight.
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expires {text!r} is not an ISO date (2027-01-31) or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def normalise_match(kind_name: str, raw: str, *, subdomains: bool = True) -> tuple[MatchKind, str]:
    """Validate and normalise one match value. Raises ValueError with a readable message."""
    raw = raw.strip()
    if kind_name == "url_prefix":
        parsed = parse_url(raw)
        if not isinstance(parsed, ParsedUrl) or not parsed.is_http:
            raise ValueError(f"url_prefix {raw!r} is not an http(s) URL")
        return MatchKind.URL_PREFIX, parsed.href if raw.endswith("/") or parsed.path != "/" \
            else parsed.href.rstrip("/")
    if "/" in raw or (":" in raw and kind_name == "domain"):
        raise ValueError(f"{kind_name} {raw!r} must be a bare name, without scheme or path")
    host = host_to_ascii(raw)
    if not host:
        raise ValueError(f"{kind_name} {raw!r} is not a valid host name")
    host = host.rstrip(".")
    if kind_name == "host":
        return MatchKind.HOST, host
    parts = split_domain(host)
    if parts.registrable_domain != host:
        hint = f" (its registrable domain is {parts.registrable_domain})" \
            if parts.registrable_domain else " (it is a public suffix, or has none)"
        raise ValueError(f"domain {raw!r} is not a registrable domain{hint}; "
                         "use 'host:' for one host name")
    return (MatchKind.DOMAIN if subdomains else MatchKind.DOMAIN_ONLY), host


# --- writing the list-file format back (exports, ``linkguard lists export``) ----------------


def list_file_fields(entry: ListEntry) -> dict[str, object]:
    """One entry as a list-file item: ``{domain|host|url_prefix: value, subdomains?, reason?,
    owner?, expires?}``."""
    kind_name = "domain" if entry.kind in (MatchKind.DOMAIN, MatchKind.DOMAIN_ONLY) \
        else str(entry.kind)
    fields: dict[str, object] = {kind_name: entry.value}
    if entry.kind is MatchKind.DOMAIN_ONLY:
        fields["subdomains"] = False
    if entry.reason:
        fields["reason"] = entry.reason
    if entry.owner:
        fields["owner"] = entry.owner
    if entry.expires is not None:
        # A full date-time: a bare date would read back as "through that day" (+1 day).
        fields["expires"] = entry.expires.isoformat()
    return fields


def export_list_file(entries: Iterable[ListEntry]) -> str:
    """Entries in the list-file format (allowlists/README.md); ``parse_list_file`` reads the
    result back to the same entries."""
    chosen = list(entries)
    document: dict[str, object] = {"version": 1}
    for action in Action:
        items = [list_file_fields(e) for e in chosen if e.action is action]
        if items:
            document[str(action)] = items
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)
