"""Open redirectors whose destination sits in a query parameter: decoded, never fetched.

``allowlists/open_redirects.txt`` lists them, one rule a line: ``host path param[,param…]``,
``path`` being the exact path or ``*`` for any. ``l.facebook.com /l.php u`` says that
``https://l.facebook.com/l.php?u=https%3A%2F%2Fevil.example%2F`` goes to ``https://evil.example/``.

The parameter is read the way :mod:`linkguard.core.unwrap` reads vendor wrappers: split on ``&``
only, decoded exactly once, a repeated parameter refused (servers disagree on which copy wins).
Only an absolute http(s) URL counts as a destination; anything else leaves the link as it is.
Pure: no network, never raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from linkguard.core.listfile import ListFileError, Problem
from linkguard.core.unwrap import percent_decode_once
from linkguard.core.url import ParsedUrl, host_to_ascii, parse_url

__all__ = ["OpenRedirects", "RedirectRule", "parse_open_redirect_lines"]


@dataclass(frozen=True, slots=True)
class RedirectRule:
    host: str
    path: str  # exact path, or "*" for any path
    params: tuple[str, ...]  # lower case, first match wins


def parse_open_redirect_lines(text: str, source: str) -> list[RedirectRule]:
    """Rules from the open_redirects.txt format; every problem as ``file:line: message``."""
    rules: list[RedirectRule] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.split("#", 1)[0].split()
        if not body:
            continue
        if len(body) != 3:
            problems.append(Problem(source, number, "expected 'host path param[,param]'"))
            continue
        raw_host, path, params = body
        host = host_to_ascii(raw_host.lower().rstrip("."))
        if not host or "." not in host:
            problems.append(Problem(source, number, f"not a host name: {raw_host!r}"))
            continue
        if path != "*" and not path.startswith("/"):
            problems.append(Problem(source, number, f"path must start with '/' or be '*': "
                                                    f"{path!r}"))
            continue
        names = tuple(p.lower() for p in params.split(",") if p)
        if not names:
            problems.append(Problem(source, number, "no parameter named"))
            continue
        rules.append(RedirectRule(host, path, names))
    if problems:
        raise ListFileError(problems)
    return rules


@dataclass(slots=True)
class OpenRedirects:
    """Rules by host; :meth:`decode` gives the destination of a listed redirector link."""

    by_host: dict[str, list[RedirectRule]] = field(default_factory=dict)

    @classmethod
    def build(cls, rules: Iterable[RedirectRule]) -> OpenRedirects:
        index = cls()
        for rule in rules:
            index.by_host.setdefault(rule.host, []).append(rule)
        return index

    def listed(self, url: ParsedUrl) -> bool:
        return url.host in self.by_host

    def decode(self, url: ParsedUrl) -> str | None:
        """The destination URL, or None (not listed, parameter absent, repeated or not a URL)."""
        for rule in self.by_host.get(url.host, ()):
            if rule.path not in ("*", url.path):
                continue
            params = _params(url.query)
            for name in rule.params:
                values = params.get(name, ())
                if len(values) != 1:
                    continue
                target = parse_url(percent_decode_once(values[0]))
                if isinstance(target, ParsedUrl) and target.is_http and target.host:
                    return target.href
        return None


def _params(query: str) -> Mapping[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for pair in query.split("&"):
        key, sep, value = pair.partition("=")
        if sep:
            name = key.lower()
            found[name] = (*found.get(name, ()), value)
    return found
