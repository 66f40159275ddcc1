"""Policy: signals in, verdict out. Every weight and threshold lives here or in config.

Like rspamd's score files: a signal's score is ``weight × strength``, the scores add up, and the
total is compared with three thresholds. Two rules sit above the sum (DESIGN.md "Checks emit
signals; policy decides"):

1. an admin block entry blocks, whatever else was seen;
2. an admin allow entry allows — except that a reputation-feed hit still warns (and is logged),
   because a feed naming an allowlisted domain usually means that domain was compromised.

Defaults (``DEFAULT_WEIGHTS``) give: dangerous scheme, homoglyph lookalike of a protected brand
→ block; typo/combo/brand-in-subdomain lookalikes, userinfo tricks → confirm; milder signals,
alone or together → warn; nothing → allow.

Some blocks may be overridden out of band: the person asks for access with a reason, an admin
approves or denies. ``Policy.overridable`` says which: a block that the heuristics reached,
never one that carries a reason in ``never_overridable`` (an admin's own block entry, a
dangerous scheme, something that is not a URL, a reputation-feed hit) — those are facts an
approval of one link must not talk away.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from linkguard.core.model import Evidence, Reason, Signal, Verdict
from linkguard.core.reasons import REASONS, message_for

DEFAULT_THRESHOLDS: dict[str, float] = {"warn": 4.0, "confirm": 8.0, "block": 15.0}

DEFAULT_WEIGHTS: dict[str, float] = {
    "list.block": 0.0,  # decided by precedence, not by score
    "list.allow": 0.0,
    "url.invalid": 15.0,  # nothing a browser could open: nothing to let through
    "scheme.dangerous": 15.0,
    "scheme.other": 4.0,
    # Browsers now load sites over HTTPS by default and warn before plain http (Chrome's "Always
    # Use Secure Connections", on by default from version 154; Firefox's HTTPS-First), and mail
    # from real senders links over https. Alone it stays under the warning line; beside any
    # other sign it crosses it.
    "scheme.plain_http": 2.75,
    # On top of plain http: together the two weigh 4, as they did when http alone weighed 1.5.
    "scheme.http_credentials": 1.25,
    "url.userinfo": 5.0,
    "url.userinfo_domain": 8.0,
    # In the fragment (never sent to the server: read by the page's script to fill in the
    # victim's address) it warns alone; in the query (unsubscribe links) it needs company.
    "url.embedded_email": 4.0,
    "host.ip_literal": 5.0,
    "host.port": 2.0,
    "host.deep_subdomain": 2.5,
    "host.many_hyphens": 2.0,
    "host.long_name": 2.5,
    "host.embedded_domain": 4.0,
    "host.random_label": 3.0,
    "host.numbered_name": 1.5,
    "tld.suspicious": 4.0,
    "hosting.free": 4.0,
    "redirect.shortener": 4.0,
    "redirect.chain": 0.5,
    "path.lure": 2.25,
    "path.brand": 4.0,
    "path.kit": 4.0,
    "url.hash_token": 1.5,
    "domain.lure_words": 4.0,
    "host.lure_word": 2.0,
    "lookalike.homoglyph": 15.0,
    "lookalike.typo": 8.0,
    "lookalike.combo": 8.0,
    "lookalike.brand_subdomain": 8.0,
    "idn.mixed_script": 5.0,
    "idn.invalid": 4.0,
    "mismatch.display_text": 6.0,
    "domain.young": 6.0,
    "domain.unregistered": 8.0,
    # Posture when the age lookup failed: 0 is fail-open (the default: a lookup outage must not
    # warn on every click); raise it towards the warn threshold to fail closed.
    "domain.age_unknown": 0.0,
    "reputation.feed": 15.0,
}


# Blocks with any of these reasons cannot be overridden by an approved access request.
DEFAULT_NEVER_OVERRIDABLE: frozenset[str] = frozenset({
    "list.block", "scheme.dangerous", "url.invalid", "reputation.feed"})


class PolicyError(ValueError):
    """Policy configuration that cannot be used (unknown code, bad number, bad order)."""


@dataclass(frozen=True, slots=True)
class Policy:
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    thresholds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    # The verdict a feed hit on an allowlisted address gets (DESIGN: "still warns").
    allowlisted_feed_verdict: Verdict = Verdict.WARN
    # Out-of-band approval of blocked links (access requests); see the module docstring.
    access_requests: bool = True
    never_overridable: frozenset[str] = DEFAULT_NEVER_OVERRIDABLE

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> Policy:
        """Defaults, overridden by ``{"weights": {code: n}, "thresholds": {name: n},
        "allowlisted_feed_verdict": v, "access_requests": {"enabled": b, "never_for": [code]}}``."""
        if not config:
            return cls()
        unknown = set(config) - {"weights", "thresholds", "allowlisted_feed_verdict",
                                 "access_requests"}
        if unknown:
            raise PolicyError(f"unknown policy keys: {', '.join(sorted(unknown))}")
        weights = dict(DEFAULT_WEIGHTS)
        for code, value in dict(config.get("weights") or {}).items():
            if code not in REASONS:
                raise PolicyError(f"unknown reason code {code!r} in policy weights")
            weights[code] = _number(f"weight of {code}", value)
        thresholds = dict(DEFAULT_THRESHOLDS)
        for name, value in dict(config.get("thresholds") or {}).items():
            if name not in thresholds:
                raise PolicyError(f"unknown threshold {name!r} (warn, confirm, block)")
            thresholds[name] = _number(f"threshold {name}", value)
        if not 0 < thresholds["warn"] <= thresholds["confirm"] <= thresholds["block"]:
            raise PolicyError("thresholds must satisfy 0 < warn <= confirm <= block")
        policy = cls(weights, thresholds)
        if "allowlisted_feed_verdict" in config:
            try:
                verdict = Verdict.parse(str(config["allowlisted_feed_verdict"]))
            except ValueError as exc:
                raise PolicyError(str(exc)) from None
            policy = replace(policy, allowlisted_feed_verdict=verdict)
        if "access_requests" in config:
            enabled, never = _access_requests(config["access_requests"])
            policy = replace(policy, access_requests=enabled, never_overridable=never)
        return policy

    def overridable(self, verdict: Verdict, reason_codes: Iterable[str]) -> bool:
        """True when an admin's approval may let this verdict through (a block only)."""
        return (verdict == Verdict.BLOCK and self.access_requests
                and self.never_overridable.isdisjoint(reason_codes))

    def score_of(self, signal: Signal) -> float:
        return self.weights.get(signal.code, 0.0) * max(0.0, min(1.0, signal.strength))

    def verdict_for(self, score: float) -> Verdict:
        if score >= self.thresholds["block"]:
            return Verdict.BLOCK
        if score >= self.thresholds["confirm"]:
            return Verdict.CONFIRM
        if score >= self.thresholds["warn"]:
            return Verdict.WARN
        return Verdict.ALLOW

    def decide(self, signals: Iterable[Signal]) -> tuple[Verdict, float, tuple[Reason, ...]]:
        """Apply precedence, then the sum. Reasons come strongest first."""
        collected = _dedupe(signals)
        if not collected:
            return self.verdict_for(0), 0, ()  # the sum of nothing (an int 0, as it always was)
        weights = self.weights
        # score_of, inlined: this runs on every click.
        scores = [weights.get(s.code, 0.0) * max(0.0, min(1.0, s.strength)) for s in collected]
        order = sorted(range(len(collected)), key=lambda i: (-scores[i], collected[i].code))
        reasons = tuple(_reason(collected[i].code, message_for(collected[i].code),
                                collected[i].evidence) for i in order)
        score = round(sum(scores), 2)
        codes = {s.code for s in collected}
        if codes.isdisjoint(_PRECEDENCE):
            return self.verdict_for(score), score, reasons
        if "list.block" in codes:
            return Verdict.BLOCK, max(score, self.thresholds["block"]), _first(
                reasons, "list.block")
        if "list.allow" in codes:
            if "reputation.feed" in codes:
                return self.allowlisted_feed_verdict, score, _first(reasons, "list.allow")
            return Verdict.ALLOW, 0.0, _first(reasons, "list.allow")
        return self.verdict_for(score), score, reasons


_PRECEDENCE = frozenset({"list.block", "list.allow"})

# Reason's generated __init__ sets each field with object.__setattr__ (it is frozen); reasons
# are built for every URL judged, so decide sets the slots through their descriptors, found
# once here in field order (``test_policy`` pins the order).
_new_reason = object.__new__
_set_code, _set_message, _set_evidence = (
    getattr(Reason, f.name).__set__ for f in dataclasses.fields(Reason))


def _reason(code: str, message: str, evidence: Evidence) -> Reason:
    reason: Reason = _new_reason(Reason)
    _set_code(reason, code)
    _set_message(reason, message)
    _set_evidence(reason, evidence)
    return reason


def _dedupe(signals: Iterable[Signal]) -> list[Signal]:
    """One signal per code: the strongest. Two checks seeing one thing must not count twice."""
    best: dict[str, Signal] = {}
    for signal in signals:
        current = best.get(signal.code)
        if current is None or signal.strength > current.strength:
            best[signal.code] = signal
    return list(best.values())


def _first(reasons: tuple[Reason, ...], code: str) -> tuple[Reason, ...]:
    return tuple(sorted(reasons, key=lambda r: r.code != code))


def _access_requests(value: object) -> tuple[bool, frozenset[str]]:
    if not isinstance(value, Mapping):
        raise PolicyError("access_requests must be a mapping (enabled, never_for)")
    unknown = set(value) - {"enabled", "never_for"}
    if unknown:
        raise PolicyError(f"unknown access_requests keys: {', '.join(sorted(map(str, unknown)))}")
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        raise PolicyError(f"access_requests.enabled must be true or false, not {enabled!r}")
    never = value.get("never_for", sorted(DEFAULT_NEVER_OVERRIDABLE))
    if not isinstance(never, list) or not all(isinstance(code, str) for code in never):
        raise PolicyError("access_requests.never_for must be a list of reason codes")
    for code in never:
        if code not in REASONS:
            raise PolicyError(f"unknown reason code {code!r} in access_requests.never_for")
    return enabled, frozenset(never)


def _number(what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"{what} must be a number, not {value!r}")
    if value < 0:
        raise PolicyError(f"{what} must not be negative")
    return float(value)
