"""Domain age from the facts port (RDAP). Three states, and "not consulted" is silent.

RFC 9083 §4.5: the ``registration`` event of a domain object gives its creation date. A domain
RDAP calls unknown (404, RFC 7480 §5.3) is reported as unregistered — a link to a name nobody
owns is either a mistake or a domain about to be registered by someone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from linkguard.core.model import AgeState, Facts, LinkContext, Signal
from linkguard.core.url import ParsedUrl

# Age bands, newest first: (max days, strength). Policy holds the weight; these say how much
# of it applies. Most phishing domains are used within days of registration (APWG, Interisle).
AGE_BANDS: tuple[tuple[int, float], ...] = ((7, 1.0), (30, 0.8), (90, 0.5), (365, 0.2))


class DomainAgeCheck:
    name = "domain_age"

    def run(self, url: ParsedUrl, context: LinkContext, facts: Facts,
            now: datetime) -> Iterable[Signal]:
        if not url.registrable_domain or facts.domain_age.state is AgeState.NOT_CONSULTED:
            return ()  # offline, or nothing to look up: no generator for that
        return self._run(url, facts)

    def _run(self, url: ParsedUrl, facts: Facts) -> Iterator[Signal]:
        age = facts.domain_age
        if age.state is AgeState.UNKNOWN:
            yield Signal("domain.age_unknown", {"domain": url.registrable_domain,
                                                "detail": age.detail or "lookup failed"})
            return
        if age.registered_missing:
            yield Signal("domain.unregistered", {"domain": url.registrable_domain})
            return
        if age.age_days is None:
            return
        for max_days, strength in AGE_BANDS:
            if age.age_days <= max_days:
                evidence: dict[str, str | int | float | bool] = {
                    "domain": url.registrable_domain, "age_days": age.age_days}
                if age.registered:
                    evidence["registered"] = age.registered.date().isoformat()
                yield Signal("domain.young", evidence, strength)
                return
