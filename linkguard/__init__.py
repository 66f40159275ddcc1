"""linkguard: a self-hosted email link-protection gateway.

The public Python API is the verdict engine and its values; everything else is internal.
"""

from linkguard.core.engine import evaluate
from linkguard.core.model import (
    AgeState,
    Decision,
    DomainAge,
    Facts,
    FeedHit,
    LinkContext,
    Reason,
    Signal,
    Verdict,
)
from linkguard.core.policy import Policy
from linkguard.core.reasons import REASONS
from linkguard.core.url import ParsedUrl, UrlError, parse_url

__version__ = "0.1.0"

__all__ = [
    "REASONS",
    "AgeState",
    "Decision",
    "DomainAge",
    "Facts",
    "FeedHit",
    "LinkContext",
    "ParsedUrl",
    "Policy",
    "Reason",
    "Signal",
    "UrlError",
    "Verdict",
    "__version__",
    "evaluate",
    "parse_url",
]
