"""Values that flow through the engine: what a check sees, what it says, what policy decides."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from linkguard.core.url import ParsedUrl


class Verdict(enum.IntEnum):
    """Ordered by severity, so ``max()`` of two verdicts is the stricter one."""

    ALLOW = 0
    WARN = 1
    CONFIRM = 2
    BLOCK = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Verdict:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown verdict {text!r} (allow, warn, confirm, block)") from None


Evidence = Mapping[str, str | int | float | bool]


@dataclass(frozen=True, slots=True)
class Signal:
    """One thing a check saw, named by a stable reason code (see ``reasons.py``)."""

    code: str
    evidence: Evidence = field(default_factory=dict)
    # Optional multiplier on the policy weight, in [0, 1]: how strongly the check saw it
    # (e.g. a lookalike of a long brand name is stronger than one of a four-letter name).
    strength: float = 1.0


@dataclass(frozen=True, slots=True)
class LinkContext:
    """What is known about the link besides its URL."""

    display_text: str | None = None
    recipient: str | None = None
    profile: str = "default"


class AgeState(enum.StrEnum):
    KNOWN = "known"
    UNKNOWN = "unknown"  # a lookup was made and failed (RDAP down, rate limited …)
    NOT_CONSULTED = "not_consulted"  # offline mode: never raises a verdict by itself


@dataclass(frozen=True, slots=True)
class DomainAge:
    state: AgeState = AgeState.NOT_CONSULTED
    registered: datetime | None = None
    age_days: int | None = None
    registered_missing: bool = False  # RDAP answered "no such domain" (RFC 7480 §5.3: 404)
    detail: str = ""

    @classmethod
    def known(cls, age_days: int, registered: datetime | None = None) -> DomainAge:
        return cls(AgeState.KNOWN, registered, age_days)

    @classmethod
    def unknown(cls, detail: str) -> DomainAge:
        return cls(AgeState.UNKNOWN, detail=detail)


@dataclass(frozen=True, slots=True)
class FeedHit:
    source: str  # "openphish", "urlhaus", "phishtank" …
    matched: str  # the URL or host that matched
    listed: datetime | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """What was learnt outside the engine (network lookups, caches), passed in as values."""

    domain_age: DomainAge = field(default_factory=DomainAge)
    feed_hits: tuple[FeedHit, ...] = ()
    redirect_chain: tuple[str, ...] = ()


OFFLINE = Facts()


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    message: str
    evidence: Evidence

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "evidence": dict(self.evidence)}


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    score: float
    reasons: tuple[Reason, ...]
    url: ParsedUrl | None  # None when the input was not a URL
    # The wrapped link the URL was taken out of (Safe Links, Proofpoint …), outermost first.
    unwrapped_from: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {
            "url": self.url.href if self.url else None,
            "verdict": str(self.verdict),
            "score": float(round(self.score, 1)),
            "reasons": [r.as_dict() for r in self.reasons],
        }
        if self.unwrapped_from:
            body["unwrapped_from"] = list(self.unwrapped_from)
        return body
