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
    _own: OwnLinks = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._own = OwnLinks.from_bases([self.prefix])  # parsed once, not once per link

    @property
    def prefix(self) -> str:
        return self.base_url.rstrip("/") + "/r/"

    def own_links(self) -> OwnLinks:
        return self._own

    def is_sealed(self, url: str) -> bool:
        parsed = parse_url(url)
        return isinstance(parsed, ParsedUrl) and parsed.href.startswith(self.prefix)

    def __call__(self, url: str, *, display_text: str | None, index: int) -> str | None:
        if self.is_sealed(url):
            return None
        inner = unwrap(url, own=self.own_links())
        if inner.undecodable == "linkguard":
            return None  # ours (another base or key): never wrap twice
        parsed = parse_url(inner.url)
        if not isinstance(parsed, ParsedUrl) or not parsed.is_http:
            return None
        if self._exempt(parsed.host):
            return None
        claims = LinkClaims(url=parsed.href, issued_at=self.issued_at, recipient=self.recipient,
                            message_id=self.message_id, link_index=index,
                            display_text=display_text, profile=self.profile)
        try:
            return self.prefix + seal(claims, self.keys)
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
