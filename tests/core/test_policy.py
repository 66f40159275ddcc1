"""Policy: weights x strength, thresholds, precedence, configuration errors."""

from __future__ import annotations

import dataclasses

import pytest

from linkguard.core import policy
from linkguard.core.model import Reason, Signal, Verdict
from linkguard.core.policy import DEFAULT_WEIGHTS, Policy, PolicyError
from linkguard.core.reasons import REASONS


def test_every_weighted_code_is_in_the_vocabulary() -> None:
    assert set(DEFAULT_WEIGHTS) <= set(REASONS)
    assert set(REASONS) <= set(DEFAULT_WEIGHTS)


@pytest.mark.parametrize(("signals", "verdict"), [
    ([], Verdict.ALLOW),
    ([Signal("scheme.plain_http")], Verdict.ALLOW),
    ([Signal("host.ip_literal")], Verdict.WARN),
    ([Signal("lookalike.typo")], Verdict.CONFIRM),
    ([Signal("lookalike.typo", strength=0.6)], Verdict.WARN),
    ([Signal("lookalike.homoglyph")], Verdict.BLOCK),
    ([Signal("scheme.dangerous")], Verdict.BLOCK),
    ([Signal("tld.suspicious"), Signal("path.lure")], Verdict.WARN),
])
def test_default_verdicts(signals: list[Signal], verdict: Verdict) -> None:
    assert Policy().decide(signals)[0] is verdict


def test_same_code_counts_once_at_its_strongest() -> None:
    _, score, reasons = Policy().decide([Signal("path.lure", strength=0.5),
                                         Signal("path.lure", strength=1.0)])
    assert score == DEFAULT_WEIGHTS["path.lure"]
    assert len(reasons) == 1


def test_reasons_are_ordered_strongest_first() -> None:
    _, _, reasons = Policy().decide([Signal("path.lure"), Signal("lookalike.typo")])
    assert [r.code for r in reasons] == ["lookalike.typo", "path.lure"]
    assert reasons[0].message == REASONS["lookalike.typo"]


def test_block_entry_beats_allow_entry() -> None:
    verdict, _, reasons = Policy().decide([Signal("list.allow"), Signal("list.block")])
    assert verdict is Verdict.BLOCK
    assert reasons[0].code == "list.block"


def test_allow_entry_silences_other_signals_but_not_feeds() -> None:
    assert Policy().decide([Signal("list.allow"), Signal("lookalike.homoglyph")])[0] \
        is Verdict.ALLOW
    assert Policy().decide([Signal("list.allow"), Signal("reputation.feed")])[0] is Verdict.WARN


def test_config_overrides() -> None:
    policy = Policy.from_config({"weights": {"scheme.plain_http": 5},
                                 "thresholds": {"warn": 5, "confirm": 9, "block": 20},
                                 "allowlisted_feed_verdict": "block"})
    assert policy.decide([Signal("scheme.plain_http")])[0] is Verdict.WARN
    assert policy.decide([Signal("lookalike.homoglyph")])[0] is Verdict.CONFIRM
    assert policy.decide([Signal("list.allow"), Signal("reputation.feed")])[0] is Verdict.BLOCK


def test_domain_age_unknown_posture_can_fail_closed() -> None:
    policy = Policy.from_config({"weights": {"domain.age_unknown": 4}})
    assert policy.decide([Signal("domain.age_unknown")])[0] is Verdict.WARN


@pytest.mark.parametrize(("config", "message"), [
    ({"weights": {"no.such.code": 1}}, "unknown reason code"),
    ({"weights": {"path.lure": "high"}}, "must be a number"),
    ({"weights": {"path.lure": True}}, "must be a number"),
    ({"weights": {"path.lure": -1}}, "must not be negative"),
    ({"thresholds": {"warn": 10, "confirm": 5}}, "thresholds must satisfy"),
    ({"thresholds": {"panic": 1}}, "unknown threshold"),
    ({"colour": "red"}, "unknown policy keys"),
    ({"allowlisted_feed_verdict": "maybe"}, "unknown verdict"),
    ({"access_requests": True}, "must be a mapping"),
    ({"access_requests": {"enabled": "yes"}}, "true or false"),
    ({"access_requests": {"never_for": "list.block"}}, "list of reason codes"),
    ({"access_requests": {"never_for": ["list.blok"]}}, "unknown reason code 'list.blok'"),
    ({"access_requests": {"after": 3}}, "unknown access_requests keys"),
])
def test_bad_config_is_a_clear_error(config: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.from_config(config)


def test_which_blocks_admins_may_override() -> None:
    policy = Policy()
    assert policy.overridable(Verdict.BLOCK, ["lookalike.homoglyph", "idn.mixed_script"])
    assert policy.overridable(Verdict.BLOCK, [])  # reached by the sum of weaker signals
    for fact in ("list.block", "scheme.dangerous", "url.invalid", "reputation.feed"):
        assert not policy.overridable(Verdict.BLOCK, ["lookalike.homoglyph", fact]), fact
    for verdict in (Verdict.ALLOW, Verdict.WARN, Verdict.CONFIRM):
        assert not policy.overridable(verdict, ["lookalike.typo"])  # nothing to override


def test_override_rules_from_config() -> None:
    off = Policy.from_config({"access_requests": {"enabled": False}})
    assert not off.overridable(Verdict.BLOCK, ["lookalike.homoglyph"])
    strict = Policy.from_config({"access_requests": {
        "never_for": ["list.block", "lookalike.homoglyph"]}})
    assert not strict.overridable(Verdict.BLOCK, ["lookalike.homoglyph"])
    assert strict.overridable(Verdict.BLOCK, ["reputation.feed"])  # the admin chose so


def test_reason_setters_follow_field_order() -> None:
    assert tuple(f.name for f in dataclasses.fields(Reason)) == ("code", "message", "evidence")
    for name in ("code", "message", "evidence"):
        assert getattr(policy, f"_set_{name}") == getattr(Reason, name).__set__
    assert policy._reason("a", "b", {"c": 1}) == Reason("a", "b", {"c": 1})
