"""The sealer the rewriter calls: unwrap other vendors' links, then wrap once in ours.

DESIGN.md "Unwrap, then wrap once": a Safe Links or Proofpoint link is peeled to the URL it
protects and that URL is sealed, so the gateway judges the real destination and a message
never carries wrapper inside wrapper. Our own links are recognised and left exactly as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from linkguard.core.tokens import KeyRing, LinkClaims, SealError, seal
from linkguard.core.unwrap import OwnLinks, unwrap
from linkguard.core.url import ParsedUrl, parse_url


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
    # The last URL parsed and what came of it. The rewriter asks is_sealed(url) (as
    # RewriteContext.is_sealed) and then calls the sealer with the same url, which asks again
    # and, when nothing was unwrapped, parses the same url a third time: a URL parse is the
    # larger part of sealing one link, so it is done once.
    _last: tuple[str, ParsedUrl | None] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._prefix = self.base_url.rstrip("/") + "/r/"
        self._own = OwnLinks.from_bases([self._prefix])  # parsed once, not once per link

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

    def is_sealed(self, url: str) -> bool:
        parsed = self._parse(url)
        return parsed is not None and parsed.href.startswith(self._prefix)

    def __call__(self, url: str, *, display_text: str | None, index: int) -> str | None:
        if self.is_sealed(url):
            return None
        inner = unwrap(url, own=self.own_links())
        if inner.undecodable == "linkguard":
            return None  # ours (another base or key): never wrap twice
        parsed = self._parse(inner.url)
        if parsed is None or not parsed.is_http:
            return None
        if self._exempt(parsed.host):
            return None
        claims = LinkClaims(url=parsed.href, issued_at=self.issued_at, recipient=self.recipient,
                            message_id=self.message_id, link_index=index,
                            display_text=display_text, profile=self.profile)
        try:
            return self._prefix + seal(claims, self.keys)
        except SealError:
            # Too long to seal (over 4,000 characters, or incompressible): left as it is and
            # counted, as a link we cannot protect must at least be visible in the report.
            self.too_long += 1
            return None

    def _exempt(self, host: str) -> bool:
        name = host
        while name:
            if name in self.do_not_rewrite:
                return True
            _, dot, name = name.partition(".")
            if not dot:
                return False
        return False
