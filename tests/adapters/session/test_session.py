"""Signed session cookies: round trip, tamper, expiry, purpose separation, cookie flags."""

from __future__ import annotations

import pytest

from linkguard.adapters.session import (
    PENDING_COOKIE,
    SESSION_COOKIE,
    SessionCodec,
    SignedValues,
    cookie_params,
)
from linkguard.core.identity import Identity

SECRET = "test-signing-secret-0123456789abcdef0123"  # noqa: S105 - test only
ALICE = Identity("alice", "Alice@corp.example", ("staff", "admins"), "oidc")


def codec(now: list[float], secret: str = SECRET) -> SessionCodec:
    return SessionCodec(secret, lifetime_s=900, clock=lambda: now[0])


def test_round_trip() -> None:
    now = [1_800_000_000.0]
    value = codec(now).dumps(ALICE)
    assert codec(now).loads(value) == ALICE
    now[0] += 899
    assert codec(now).loads(value) == ALICE


def test_expired_and_future_dated_values_are_refused() -> None:
    now = [1_800_000_000.0]
    value = codec(now).dumps(ALICE)
    now[0] += 901
    assert codec(now).loads(value) is None
    now[0] -= 10_000  # a value dated in the future
    assert codec(now).loads(value) is None


def test_tampered_values_are_refused() -> None:
    now = [1_800_000_000.0]
    value = codec(now).dumps(ALICE)
    payload, stamp, signature = value.split(".")
    flipped = ("A" if signature[5] != "A" else "B").join([signature[:5], signature[6:]])
    for forged in (f"{payload}.{stamp}.{flipped}", f"{payload}x.{stamp}.{signature}",
                   value[:-1], "", "garbage", None):
        assert codec(now).loads(forged) is None
    assert codec(now, SECRET + "x").loads(value) is None


def test_a_value_of_another_purpose_is_no_session() -> None:
    now = [1_800_000_000.0]
    pending = SignedValues(SECRET, purpose="oidc-pending", max_age_s=600,
                           clock=lambda: now[0]).dumps(
        {"sub": "alice", "email": "alice@corp.example", "groups": [], "via": "oidc"})
    assert codec(now).loads(pending) is None


def test_wrong_shapes_are_refused() -> None:
    now = [1_800_000_000.0]
    values = SignedValues(SECRET, purpose="session", max_age_s=900, clock=lambda: now[0])
    for shape in ({"sub": "a"}, {"sub": 1, "email": "a@b"}, {"sub": "a", "email": "a@b",
                                                              "groups": [1]}):
        assert codec(now).loads(values.dumps(shape)) is None


def test_expired_is_told_apart_from_forged() -> None:
    now = [1_800_000_000.0]
    values = SignedValues(SECRET, purpose="x", max_age_s=60, clock=lambda: now[0])
    value = values.dumps({"a": 1})
    assert not values.expired(value)
    now[0] += 61
    assert values.expired(value)
    assert not values.expired(value + "x")
    assert not values.expired(None)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        SessionCodec("", lifetime_s=60)


@pytest.mark.parametrize(("base_url", "key", "secure"), [
    ("https://links.corp.example", "__Host-linkguard_session", True),
    ("HTTPS://links.corp.example/", "__Host-linkguard_session", True),
    ("http://127.0.0.1:8080", "linkguard_session", False),
])
def test_cookie_params(base_url: str, key: str, secure: bool) -> None:
    params = cookie_params(base_url, max_age_s=900)
    assert params.as_kwargs() == {"key": key, "max_age": 900, "path": "/", "secure": secure,
                                  "httponly": True, "samesite": "lax"}


def test_pending_cookie_has_its_own_name() -> None:
    params = cookie_params("https://links.corp.example", name=PENDING_COOKIE, max_age_s=600)
    assert params.key == f"__Host-{PENDING_COOKIE}"
    assert PENDING_COOKIE != SESSION_COOKIE
