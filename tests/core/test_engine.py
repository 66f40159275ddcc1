"""The engine end to end on the crafted catalog: inputs never crash it."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkguard.core import engine
from linkguard.core.model import Decision, Verdict
from tests.core.support import Judging


@pytest.mark.parametrize(("raw", "error"), [
    ("", "url.empty"),
    ("   \t\n", "url.empty"),
    ("not a url", "url.unparsable"),
    ("http://", "url.unparsable"),
    ("https://exa mple.com/", "url.unparsable"),
    ("https://" + "a" * 9000 + ".com/", "url.too_long"),
])
def test_malformed_input_is_a_result_not_an_exception(crafted: Judging, raw: str,
                                                     error: str) -> None:
    decision = crafted(raw)
    assert decision.url is None
    assert decision.verdict is Verdict.BLOCK
    assert decision.reasons[0].code == "url.invalid"
    assert decision.reasons[0].evidence["error"] == error




@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gets_a_decision(crafted: Judging, text: str) -> None:
    decision = crafted(text)
    assert decision.verdict in Verdict
    assert isinstance(decision.as_dict()["reasons"], list)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"https?://[a-zа-я0-9.-]{1,40}(/[a-z0-9@#?=&%.-]{0,40})?",
                     fullmatch=True),
       st.one_of(st.none(), st.text(max_size=60)))
def test_url_like_text_gets_a_decision(crafted: Judging, url: str, text: str | None) -> None:
    decision = crafted(url, text=text)
    assert decision.score >= 0


def test_decision_setters_follow_field_order() -> None:
    names = ("verdict", "score", "reasons", "url", "unwrapped_from")
    assert tuple(f.name for f in dataclasses.fields(Decision)) == names
    for name in names:
        assert getattr(engine, f"_set_{name}") == getattr(Decision, name).__set__
