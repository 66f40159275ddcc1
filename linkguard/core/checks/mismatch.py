"""Display-text mismatch: the link's text names one site, the link opens another.

A link reading ``www.paypal.com`` that opens ``paypal-secure.example`` is the oldest trick in
mail; rspamd's ``PHISHED_*`` symbols and SpamAssassin's ``HTML_LINK_CLICK_HERE`` family look for
it. Only text that reads as an address counts ("Click here" says nothing about a site), and two
hosts of one registrable domain match (``paypal.com`` text for ``www.paypal.com``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from linkguard.core.brands import BrandIndex
from linkguard.core.model import Facts, LinkContext, Signal
from linkguard.core.url import ParsedUrl, parse_link_text


class MismatchCheck:
    name = "mismatch"

    def __init__(self, brands: BrandIndex) -> None:
        self.brands = brands

    def run(self, url: ParsedUrl, context: LinkContext, facts: Facts,
            now: datetime) -> Iterable[Signal]:
        if not context.display_text:
            return ()  # most links are judged without their text: no generator for those
        return self._run(url, context.display_text)

    def _run(self, url: ParsedUrl, display_text: str) -> Iterator[Signal]:
        shown = parse_link_text(display_text)
        if shown is None:
            return
        shown_site = shown.registrable_domain or shown.host
        real_site = url.registrable_domain or url.host
        if not shown_site or shown_site == real_site:
            return
        shown_brand = self.brands.owner_of(shown.registrable_domain)
        if shown_brand is not None and shown_brand is self.brands.owner_of(
                url.registrable_domain):
            return  # both sites belong to one brand (paypal.com text, paypal.me link)
        evidence: dict[str, str | int | float | bool] = {
            "shown": shown.host_unicode or shown.host, "opens": url.host_unicode or url.host}
        if shown_brand is not None:
            evidence["brand"] = shown_brand.name
        # Text naming a protected brand's site that opens elsewhere is an impersonation, not
        # merely a sloppy newsletter link: full strength. Other mismatches count less.
        yield Signal("mismatch.display_text", evidence, 1.0 if shown_brand is not None else 0.6)
