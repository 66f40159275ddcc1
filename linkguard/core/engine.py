"""The verdict engine: ``evaluate(url, context, facts, checks, policy) -> Decision``.

Pure: the catalog was parsed into checks beforehand, facts (domain age, feed hits) were gathered
by the caller, and ``now`` is passed in. The same call serves the click path, the verdict API and
the CLI.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from linkguard.core.checks.base import Check
from linkguard.core.model import OFFLINE, Decision, Facts, LinkContext, Reason, Signal
from linkguard.core.policy import Policy
from linkguard.core.reasons import message_for
from linkguard.core.url import ParsedUrl, UrlError, parse_url


def evaluate(url: str | ParsedUrl, *, checks: Sequence[Check], policy: Policy, now: datetime,
             context: LinkContext | None = None, facts: Facts = OFFLINE) -> Decision:
    parsed = parse_url(url) if isinstance(url, str) else url
    if isinstance(parsed, UrlError):
        return invalid(parsed, policy)
    ctx = context or _NO_CONTEXT
    signals: list[Signal] = []
    for check in checks:
        signals.extend(check.run(parsed, ctx, facts, now))
    verdict, score, reasons = policy.decide(signals)
    decision: Decision = _new_decision(Decision)
    _set_verdict(decision, verdict)
    _set_score(decision, score)
    _set_reasons(decision, reasons)
    _set_url(decision, parsed)
    _set_unwrapped_from(decision, ())
    return decision


_NO_CONTEXT = LinkContext()
# Decision's generated __init__ sets each field with object.__setattr__ (it is frozen), which
# looks the field up on the type every time; one Decision is built per URL, so evaluate sets
# the slots through their descriptors, found once here in field order (as the URL model
# builds ParsedUrl; ``test_engine`` pins the order).
_new_decision = object.__new__
_set_verdict, _set_score, _set_reasons, _set_url, _set_unwrapped_from = (
    getattr(Decision, f.name).__set__ for f in dataclasses.fields(Decision))


def invalid(error: UrlError, policy: Policy) -> Decision:
    signal = Signal("url.invalid", {"error": error.code, "detail": error.message})
    score = policy.score_of(signal)
    reason = Reason("url.invalid", message_for("url.invalid"), signal.evidence)
    return Decision(policy.verdict_for(score), score, (reason,), None)
