"""Helpers shared by the check tests."""

from __future__ import annotations

from collections.abc import Callable

from linkguard.core.model import Decision

Judging = Callable[..., Decision]
Strengths = Callable[[str, str], dict[str, float]]  # (check name, url) → {code: strength}


def codes(decision: Decision) -> set[str]:
    return {r.code for r in decision.reasons}
