"""The sealer the rewriter calls: unwrap other vendors' links, then wrap once in ours.

DESIGN.md "Unwrap, then wrap once": a Safe Links or Proofpoint link is peeled to the URL it
protects and that URL is sealed, so the gateway judges the real destination and a message
never carries wrapper inside wrapper. Our own links are recognised and left exactly as they are.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from linkguard.core.tokens import KeyRing, MessageSealer, SealError
from linkguard.core.unwrap import OwnLinks, is_wrapped, may_be_wrapper_host, unwrap
from linkguard.core.url import (
    HTTP_SCHEMES,
    ParsedUrl,
    canonical_http_host,
    listed_parent,
    parse_url,
)


@dataclass(slots=True)
class TokenSealer:
    """A :class:`~linkguard.rewriter.model.LinkSealer` that issues sealed gateway links."""

    keys: KeyRing
    base_url: str  # "https://links.example.com": links become <base_url>/r/<token>
    issued_at: int  # unix seconds, passed in (the rewriter reads no clock)
    recipient: str | None = None
    message_id: str | None = None
    profile: str = "default"
    do_not_rewrite: frozenset[str] = frozenset()  # hosts (and their subdomains) left alone
    too_long: int = field(default=0, init=False)  # destinations that could not be sealed
    _prefix: str = field(init=False, repr=False)
    _own: OwnLinks = field(init=False, repr=False)
    # The fields every link of the message shares, checked and encoded once (None: they cannot
    # be sealed, e.g. an over-long recipient, so every link is left and counted as too long).
    # Made from the fields above when the sealer is made: dataclasses.replace makes a new one.
    _message: MessageSealer | None = field(init=False, repr=False)
    # The last URL parsed and what came of it. The rewriter asks is_sealed(url) (as
    # RewriteContext.is_sealed) and then calls the sealer with the same url, which asks again
    # and, when nothing was unwrapped, parses the same url a third time: a URL parse is the
    # larger part of sealing one link, so it is done once.
    _last: tuple[str, ParsedUrl | None] | None = field(default=None, init=False, repr=False)
    # The same for the usual link, one already written as a browser would serialise it: its
    # host, read off the string without building a parse (None: not such a link).
    _last_plain: tuple[str, str | None] | None = field(default=None, init=False, repr=False)
    # Whether a host's links may take that shortcut (no wrapper can be on it, and it is not
    # the host of our own links): a message's links come from a handful of hosts.
    _plain_hosts: dict[str, bool] = field(default_factory=dict, init=False, repr=False)
    _own_hosts: frozenset[str] = field(init=False, repr=False)
    # The message's compiled per-link seal, asked first (what MessageSealer.seal does first).
    _native: Callable[[str, int, str | None, bytes | None], str | None] | None = field(
        default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._prefix = self.base_url.rstrip("/") + "/r/"
        # Parsed once per prefix, not once per message (a sealer is made for each).
        self._own, self._own_hosts = _own_links(self._prefix)
        try:
            self._message = MessageSealer(self.keys, issued_at=self.issued_at,
                                          recipient=self.recipient, message_id=self.message_id,
                                          profile=self.profile)
        except SealError:
            self._message = None
        self._native = None if self._message is None else self._message.native_seal

    @property
    def prefix(self) -> str:
        return self._prefix

    def own_links(self) -> OwnLinks:
        return self._own

    def _parse(self, url: str) -> ParsedUrl | None:
        last = self._last
        if last is not None and last[0] == url:
            return last[1]
        parsed = parse_url(url)
        result = parsed if isinstance(parsed, ParsedUrl) else None
        self._last = (url, result)
        return result

    def _plain_host(self, url: str) -> str | None:
        """The host of a link that is its own serialisation (``canonical_http_host``) and on
        no host a wrapper can be on: such a link needs no parse, no unwrapping, and is sealed
        as it is written. None for any other link."""
        last = self._last_plain
        if last is not None and last[0] == url:
            return last[1]
        host = canonical_http_host(url)
        if host is not None:
            plain = self._plain_hosts.get(host)
            if plain is None:
                plain = not (may_be_wrapper_host(host) or host in self._own_hosts
                             or self._own.is_own is not None)
                self._plain_hosts[host] = plain
            if not plain:
                host = None
        self._last_plain = (url, host)
        return host

    def is_sealed(self, url: str) -> bool:
        if self._plain_host(url) is not None:
            return False  # on none of our hosts, so not ours
        parsed = self._parse(url)
        return parsed is not None and parsed.href.startswith(self._prefix)

    def __call__(self, url: str, *, display_text: str | None, index: int) -> str | None:
        host = self._plain_host(url)
        if host is not None:
            # What the general path below does for such a link, without the parse: its href
            # is the link itself, nothing is unwrapped, and its scheme is http(s).
            if self.do_not_rewrite and self._exempt(host):
                return None
            return self._seal(url, display_text, index)
        parsed = self._parse(url)
        if parsed is not None and parsed.href.startswith(self._prefix):
            return None  # already ours (what is_sealed says)
        if parsed is None or not parsed.host or is_wrapped(parsed, self._own):
            # A wrapper (or a URL unwrap reads another way): peel it. The usual link is none,
            # and unwrap would only parse it again to say so (what is_wrapped asks of the
            # parse in hand is what unwrap's first step asks).
            inner = unwrap(url, own=self._own)
            if inner.undecodable == "linkguard":
                return None  # ours (another base or key): never wrap twice
            parsed = self._parse(inner.url)
        if parsed is None or parsed.scheme not in HTTP_SCHEMES:
            return None
        if self.do_not_rewrite and self._exempt(parsed.host):
            return None
        return self._seal(parsed.href, display_text, index)

    def _seal(self, href: str, display_text: str | None, index: int) -> str | None:
        native = self._native
        if native is not None:
            token = native(href, index, display_text, None)
            if token is not None:
                return self._prefix + token
        message = self._message
        try:
            if message is None:
                raise SealError("the message's fields cannot be sealed")
            return self._prefix + message.seal(href, link_index=index,
                                               display_text=display_text)
        except SealError:
            # Too long to seal (over 4,000 characters, or incompressible): left as it is and
            # counted, as a link we cannot protect must at least be visible in the report.
            self.too_long += 1
            return None

    def _exempt(self, host: str) -> bool:
        return listed_parent(host, self.do_not_rewrite) is not None


@functools.lru_cache(maxsize=16)
def _own_links(prefix: str) -> tuple[OwnLinks, frozenset[str]]:
    """How to recognise links under ``prefix``, and the hosts they are on: a link written in
    its serialised form that starts with one of our prefixes is on the prefix's host, so links
    on these hosts always take the general path. (OwnLinks is frozen: sharing it is safe.)"""
    own = OwnLinks.from_bases([prefix])
    hosts = frozenset(
        parsed.host for base in (prefix, *own.prefixes)
        if isinstance(parsed := parse_url(base), ParsedUrl)
    )
    return own, hosts
