"""The checks, in the order they run. A plain list, no discovery (like mitmproxy's addons)."""

from __future__ import annotations

from linkguard.core.brands import BrandIndex
from linkguard.core.catalog import Catalog
from linkguard.core.checks.base import Check
from linkguard.core.checks.content import ContentCheck
from linkguard.core.checks.domain_age import DomainAgeCheck
from linkguard.core.checks.lists import ListCheck
from linkguard.core.checks.lookalike import LookalikeCheck
from linkguard.core.checks.mismatch import MismatchCheck
from linkguard.core.checks.reputation import ReputationCheck
from linkguard.core.checks.structure import PlatformIndex, StructureCheck
from linkguard.core.confusables import Confusables

__all__ = ["Check", "default_checks"]


def default_checks(catalog: Catalog, confusables: Confusables,
                   disabled: frozenset[str] = frozenset()) -> list[Check]:
    """Every check, built once from the catalog. ``disabled`` names checks switched off."""
    brands = BrandIndex(catalog.brands, confusables)
    platforms = PlatformIndex(catalog.platforms)
    checks: list[Check] = [
        ListCheck(catalog.lists),
        StructureCheck(platforms=platforms, shorteners=catalog.shorteners,
                       suspicious_tlds=catalog.suspicious_tlds),
        LookalikeCheck(brands, catalog.lure_words, platforms),
        ContentCheck(brands, catalog.lure_words),
        MismatchCheck(brands),
        DomainAgeCheck(),
        ReputationCheck(),
    ]
    return [c for c in checks if c.name not in disabled]
