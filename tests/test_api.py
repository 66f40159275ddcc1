"""The public API is an explicit list; changing it is a deliberate act."""

from __future__ import annotations

import linkguard


def test_public_api_is_pinned() -> None:
    assert sorted(linkguard.__all__) == sorted([
        "REASONS", "AgeState", "Decision", "DomainAge", "Facts", "FeedHit", "LinkContext",
        "ParsedUrl", "Policy", "Reason", "Signal", "UrlError", "Verdict", "__version__",
        "evaluate", "parse_url",
    ])
    for name in linkguard.__all__:
        assert hasattr(linkguard, name), name
