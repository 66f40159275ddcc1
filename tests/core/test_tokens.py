"""Sealed link tokens: round trips, rotation, every error, length budget, and properties."""

from __future__ import annotations

import base64
import random
import string
import zlib
from collections.abc import Callable
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from linkguard.core import tokens as tokens_module
from linkguard.core.tokens import (
    MAX_BASE_URL_CHARS,
    MAX_DESTINATION_CHARS,
    MAX_DISPLAY_TEXT_CHARS,
    MAX_TOKEN_CHARS,
    DestinationTooLongError,
    KeyConfigError,
    KeyRing,
    LinkClaims,
    MessageSealer,
    SealError,
    TokenError,
    generate_key_spec,
    open_token,
    seal,
    token_id,
)

KEY_1 = bytes(range(32))
KEY_2 = bytes(range(100, 132))
KEY_3 = bytes(range(200, 232))
NONCE = bytes(range(12))
ISSUED = 1_718_000_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


RING = KeyRing({"k1": KEY_1})
RING_ROTATED = KeyRing({"k2": KEY_2, "k1": KEY_1})


# --- round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "claims",
    [
        LinkClaims(url="https://example.com/", issued_at=ISSUED),
        LinkClaims(url="", issued_at=0),
        LinkClaims(
            url="https://www.example.com/a?b=c&utm_source=newsletter&utm_medium=email",
            issued_at=ISSUED,
            recipient="alice.smith@example.org",
            message_id="<CAF3k9x+abcDEF123456789@mail.gmail.com>",
            link_index=7,
            display_text="www.example.com",
            profile="finance",
        ),
        LinkClaims(url="https://例え.jp/パス?q=ü", issued_at=ISSUED, recipient="josé@bücher.de"),
        LinkClaims(url="https://example.com/", issued_at=ISSUED, display_text=""),
        LinkClaims(url="https://example.com/", issued_at=ISSUED, recipient="", message_id=""),
        LinkClaims(url="https://example.com/", issued_at=2**48, link_index=2**32 - 1),
        LinkClaims(url="https://example.com/", issued_at=ISSUED, profile="a" * 32),
        LinkClaims(url="https://example.com/" + "ab" * 1900, issued_at=ISSUED),
    ],
    ids=["minimal", "empty-url", "all-fields", "unicode", "empty-display", "empty-optionals",
         "max-numbers", "long-profile", "long-compressible"],
)
def test_round_trip(claims: LinkClaims) -> None:
    token = seal(claims, RING)
    assert open_token(token, RING) == claims


def test_display_text_is_cut_to_the_bound() -> None:
    text = "x" * (MAX_DISPLAY_TEXT_CHARS + 50)
    token = seal(LinkClaims("https://a.example/", ISSUED, display_text=text), RING)
    opened = open_token(token, RING)
    assert isinstance(opened, LinkClaims)
    assert opened.display_text == text[:MAX_DISPLAY_TEXT_CHARS]


def test_given_nonce_makes_sealing_deterministic_and_fresh_nonces_differ() -> None:
    claims = LinkClaims("https://example.com/", ISSUED, recipient="a@example.org")
    assert seal(claims, RING, nonce=NONCE) == seal(claims, RING, nonce=NONCE)
    assert seal(claims, RING) != seal(claims, RING)


def test_token_is_url_safe_base64_without_padding() -> None:
    token = seal(LinkClaims("https://example.com/?a=b", ISSUED, recipient="a@b.example"), RING)
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")


# --- rotation -----------------------------------------------------------------------------


def test_rotation_old_key_still_opens_newest_seals() -> None:
    claims = LinkClaims("https://example.com/old", ISSUED, recipient="a@example.org")
    old_token = seal(claims, RING)  # sealed before the rotation, with k1
    assert open_token(old_token, RING_ROTATED) == claims

    new_token = seal(claims, RING_ROTATED)
    assert RING_ROTATED.newest_kid == "k2"
    assert RING_ROTATED.kids == ("k2", "k1")
    assert open_token(new_token, KeyRing({"k2": KEY_2})) == claims  # sealed with k2 ...
    assert _code(open_token(new_token, RING)) == "token.unknown_key"  # ... not with k1


def test_retired_key_no_longer_opens() -> None:
    token = seal(LinkClaims("https://example.com/", ISSUED), RING_ROTATED)
    assert _code(open_token(token, KeyRing({"k3": KEY_3}))) == "token.unknown_key"


def test_same_kid_with_another_key_does_not_authenticate() -> None:
    token = seal(LinkClaims("https://example.com/", ISSUED), RING)
    assert _code(open_token(token, KeyRing({"k1": KEY_3}))) == "token.invalid"


# --- errors from open_token ------------------------------------------------------------------


def _code(result: LinkClaims | TokenError) -> str:
    assert isinstance(result, TokenError), result
    return result.code


def _good() -> str:
    return seal(LinkClaims("https://example.com/x", ISSUED, recipient="a@example.org"), RING)


def _with_byte(token: str, index: int, value: int) -> str:
    data = bytearray(unb64(token))
    data[index] = value
    return b64(bytes(data))


def _flipped(token: str, index: int) -> str:
    # A changed byte whatever it was (setting a random nonce or tag byte to a fixed value
    # leaves it unchanged one time in 256).
    data = bytearray(unb64(token))
    data[index] ^= 0x01
    return b64(bytes(data))


def _sealed_plaintext(plaintext: bytes, *, kid: bytes = b"k1", key: bytes = KEY_1) -> str:
    # Written from the documented format, not from the module's internals.
    header = bytes((1, len(kid))) + kid
    return b64(header + NONCE + AESGCM(key).encrypt(NONCE, plaintext, header))


def _bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(b"\0" * 1_000_000) + packer.flush()


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda: "", "token.malformed"),
        (lambda: "A", "token.malformed"),  # 1 mod 4 characters is never base64
        (lambda: "not a token!", "token.malformed"),
        (lambda: _good() + "=", "token.malformed"),  # padding is not part of the format
        (lambda: _good()[:-1] + "é", "token.malformed"),
        (lambda: "AQJrMQ", "token.malformed"),  # header only
        (lambda: _good()[:40], "token.malformed"),  # cut inside nonce + tag
        (lambda: _good()[:-3], "token.invalid"),  # cut inside the ciphertext
        (lambda: _with_byte(_good(), 0, 2), "token.unsupported_version"),
        (lambda: _with_byte(_good(), 0, 0), "token.unsupported_version"),
        (lambda: _with_byte(_good(), 1, 0), "token.malformed"),  # empty key id
        (lambda: _with_byte(_good(), 1, 9), "token.malformed"),  # key id too long
        (lambda: _with_byte(_good(), 2, ord("K")), "token.malformed"),  # not [a-z0-9]
        (lambda: _with_byte(_good(), 3, ord("9")), "token.unknown_key"),
        (lambda: _flipped(_good(), 10), "token.invalid"),  # nonce changed
        (lambda: _flipped(_good(), -1), "token.invalid"),  # tag changed
        (lambda: "A" * (MAX_TOKEN_CHARS + 1), "token.too_long"),
        (lambda: _sealed_plaintext(b""), "token.invalid"),  # authentic but empty
        (lambda: _sealed_plaintext(b"\x80\x00\x00\x00\x00"), "token.invalid"),  # unknown flag
        (lambda: _sealed_plaintext(b"\x00\xff"), "token.invalid"),  # truncated varint
        (lambda: _sealed_plaintext(b"\x00\x00\x00\x00\x05ab"), "token.invalid"),  # short url
        (lambda: _sealed_plaintext(b"\x00\x00\x00\x00\x02\xff\xfe"), "token.invalid"),  # UTF-8
        (lambda: _sealed_plaintext(b"\x00\x00\x00\x01!\x00"), "token.invalid"),  # bad profile
        (lambda: _sealed_plaintext(b"\x00\x00\x00\x00\x01a!"), "token.invalid"),  # trailing
        (lambda: _sealed_plaintext(b"\x08\x00\x00\x00garbage"), "token.invalid"),  # deflate
        (lambda: _sealed_plaintext(b"\x08\x00\x00\x00" + _bomb()), "token.invalid"),
    ],
    ids=["empty", "one-char", "garbage", "padding", "non-ascii", "header-only",
         "truncated-short", "truncated-long", "version-2", "version-0", "kid-len-0",
         "kid-len-9", "kid-uppercase", "kid-unknown", "nonce-changed", "tag-changed",
         "too-long", "plain-empty", "plain-flags", "plain-varint", "plain-short-url",
         "plain-utf8", "plain-profile", "plain-trailing", "plain-bad-deflate",
         "plain-deflate-bomb"],
)
def test_open_errors(make_token: Callable[[], str], code: str) -> None:
    result = open_token(make_token(), RING)
    assert isinstance(result, TokenError)
    assert result.code == code
    assert result.message


def test_non_canonical_last_character_is_refused() -> None:
    # 36 + n bytes: pick a token whose length leaves unused bits in the last character.
    for n in range(3):
        token = _sealed_plaintext(b"\x00" * 4 + b"\x00" + b"x" * n)
        if len(token) % 4:
            break
    bits = 2 if len(token) % 4 == 3 else 4  # unused low bits of the last sextet
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    last = alphabet.index(token[-1])
    twin = token[:-1] + alphabet[last ^ (1 << (bits - 1))]
    assert unb64(twin) == unb64(token)  # same bytes under a lenient decoder ...
    assert _code(open_token(twin, RING)) == "token.malformed"  # ... but not accepted here


# --- errors from seal ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (LinkClaims("https://e.example/", -1), "issued_at"),
        (LinkClaims("https://e.example/", 2**48 + 1), "issued_at"),
        (LinkClaims("https://e.example/", ISSUED, link_index=-1), "link_index"),
        (LinkClaims("https://e.example/", ISSUED, link_index=2**32), "link_index"),
        (LinkClaims("https://e.example/", ISSUED, profile=""), "profile"),
        (LinkClaims("https://e.example/", ISSUED, profile="has space"), "profile"),
        (LinkClaims("https://e.example/", ISSUED, profile="p" * 33), "profile"),
        (LinkClaims("https://e.example/", ISSUED, recipient="r" * 321), "recipient"),
        (LinkClaims("https://e.example/", ISSUED, message_id="m" * 999), "message_id"),
        (LinkClaims("https://e.example/\ud800", ISSUED), "surrogate"),
        (LinkClaims("https://e.example/", ISSUED, display_text="\udfff"), "surrogate"),
    ],
)
def test_seal_refuses_claims_out_of_range(claims: LinkClaims, message: str) -> None:
    with pytest.raises(SealError, match=message):
        seal(claims, RING)


def test_seal_refuses_a_nonce_of_the_wrong_size() -> None:
    with pytest.raises(SealError, match="nonce"):
        seal(LinkClaims("https://e.example/", ISSUED), RING, nonce=b"short")


# --- length budget --------------------------------------------------------------------------

BASE = "https://links.example.com/r/"
TYPICAL_URL = (
    "https://www.example.com/newsletter/2024/06/summer-sale?"
    "utm_source=newsletter&utm_medium=email&utm_campaign=s24"
)


def _realistic_long_url(seed: int, length: int = MAX_DESTINATION_CHARS) -> str:
    """A shop search link as marketing mail carries it: repeated filter keys, tracking ids."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    ids = {
        "sid": rng.randbytes(16).hex(),
        "mc_eid": rng.randbytes(5).hex(),
        "gclid": b64(rng.randbytes(60)),
    }
    keys = ["filter%5Bcategory%5D%5B%5D", "filter%5Bbrand%5D%5B%5D", "size", "color", "sort",
            "page", "ref", "utm_source", "utm_medium", "utm_campaign", "utm_content", *ids]
    values = ["running-shoes", "trail-running", "women", "men", "kids", "nike", "adidas",
              "asics", "new-balance", "black", "white", "blue", "red", "price-asc",
              "newsletter", "email", "summer-sale-2024"]
    url = ("https://shop.example-retailer.com/en-gb/catalog/search/results?q="
           + quote("waterproof running shoes") + "&gclid=" + ids["gclid"])
    while len(url) < length:
        key = rng.choice(keys)
        if key in ids:
            value = ids[key]
        elif key in ("page", "size"):
            value = str(rng.randint(1, 45))
        else:
            value = rng.choice(values)
        url += f"&{key}={value}"
    return url[:length]


def _random_url(seed: int, length: int) -> str:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    alphabet = string.ascii_letters + string.digits + "-_"
    prefix = "https://x.example.com/"
    return prefix + "".join(rng.choice(alphabet) for _ in range(length - len(prefix)))


def test_typical_link_is_short() -> None:
    claims = LinkClaims(TYPICAL_URL, ISSUED, recipient="alice.smith@example.org", link_index=3)
    assert len(TYPICAL_URL) == 110
    assert len(seal(claims, RING)) < 160


@pytest.mark.parametrize("seed", range(25))
def test_realistic_4000_char_destination_fits_under_2048(seed: int) -> None:
    url = _realistic_long_url(seed)
    assert len(url) == MAX_DESTINATION_CHARS
    claims = LinkClaims(
        url, ISSUED, recipient="alice.smith@example.org",
        message_id="<CAF3k9x+abcDEF123456789@mail.gmail.com>",
        display_text="View your search results", link_index=12,
    )
    token = seal(claims, RING)
    assert len(BASE + token) < 2048
    assert len(token) + MAX_BASE_URL_CHARS < 2048
    assert open_token(token, RING) == claims


def test_incompressible_4000_char_destination_does_not_fit() -> None:
    with pytest.raises(DestinationTooLongError, match="compress"):
        seal(LinkClaims(_random_url(1, MAX_DESTINATION_CHARS), ISSUED), RING)


def test_destination_over_the_bound_is_refused_before_sealing() -> None:
    with pytest.raises(DestinationTooLongError, match="4001"):
        seal(LinkClaims("a" * (MAX_DESTINATION_CHARS + 1), ISSUED), RING)


@pytest.mark.parametrize("length", [500, 1000, 1500, 1600, 1700, 1800, 2000, 3000])
def test_the_rule_is_the_token_length(length: int) -> None:
    """A destination fits exactly when its token does; random ones fit up to about 1,700."""
    claims = LinkClaims(_random_url(length, length), ISSUED, recipient="alice@example.org")
    try:
        token = seal(claims, RING)
    except DestinationTooLongError:
        assert length > 1600
    else:
        assert len(token) <= MAX_TOKEN_CHARS
        assert length < 2000


# --- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "kids"),
    [
        (f"k1:{b64(KEY_1)}", ("k1",)),
        (f"k2:{b64(KEY_2)},k1:{b64(KEY_1)}", ("k2", "k1")),
        (f"  2024a : {b64(KEY_2)} , 2023b:{b64(KEY_1)}  ", ("2024a", "2023b")),
        (f"abcdefgh:{base64.urlsafe_b64encode(KEY_1).decode()}", ("abcdefgh",)),  # padded
    ],
)
def test_keyring_parse(spec: str, kids: tuple[str, ...]) -> None:
    ring = KeyRing.parse(spec)
    assert ring.kids == kids
    assert ring.newest_kid == kids[0]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no token key"),
        (" , ", "no token key"),
        (f"k1:{b64(KEY_1)},", "entry 2 is empty"),
        ("k1", "kid:base64urlkey"),
        (f"K1:{b64(KEY_1)}", "1-8 characters"),
        (f"toolongid:{b64(KEY_1)}", "1-8 characters"),
        (f":{b64(KEY_1)}", "1-8 characters"),
        (f"k1:{b64(KEY_1)},k1:{b64(KEY_2)}", "appears twice"),
        (f"k1:{b64(KEY_1)},k2:{b64(KEY_1)}", "same key"),
        ("k1:changeme", "placeholder"),
        ("k1:CHANGE_ME", "placeholder"),
        ("k1:placeholder-replace-with-real-key", "placeholder"),
        ("k1:your-secret-here", "placeholder"),
        ("k1:", "not URL-safe base64"),
        ("k1:abc$def", "not URL-safe base64"),
        (f"k1:{base64.b64encode(bytes(range(250, 256)) * 6).decode()}", "not URL-safe"),
        ("k1:A", "not valid base64"),
        (f"k1:{b64(bytes(32))}", "not random"),
        (f"k1:{b64(bytes([7, 9]) * 16)}", "not random"),
        (f"k1:{b64(KEY_1[:16])}", "16 bytes"),
        (f"k1:{b64(KEY_1 + KEY_2)}", "64 bytes"),
    ],
)
def test_keyring_parse_errors(spec: str, message: str) -> None:
    with pytest.raises(KeyConfigError, match=message):
        KeyRing.parse(spec)


def test_key_errors_are_value_errors_and_never_show_the_key() -> None:
    assert issubclass(KeyConfigError, ValueError)
    key_text = b64(KEY_1[:16])
    with pytest.raises(KeyConfigError) as caught:
        KeyRing.parse(f"k1:{key_text}")
    assert key_text not in str(caught.value)
    assert b64(KEY_1) not in repr(RING)
    assert repr(RING) == "KeyRing(kids=('k1',))"


def test_keyring_needs_a_key() -> None:
    with pytest.raises(KeyConfigError, match="no token key"):
        KeyRing({})


def test_generate_key_spec() -> None:
    spec = generate_key_spec("k9")
    ring = KeyRing.parse(spec)
    assert ring.kids == ("k9",)
    assert generate_key_spec("k9") != spec
    assert generate_key_spec("a", randbytes=lambda n: KEY_1[:n]) == f"a:{b64(KEY_1)}"
    with pytest.raises(KeyConfigError, match="1-8"):
        generate_key_spec("Bad")
    with pytest.raises(KeyConfigError, match="not random"):
        generate_key_spec("k1", randbytes=bytes)  # a broken source: all zero


def test_token_id_is_short_stable_and_distinct() -> None:
    token = _good()
    assert token_id(token) == token_id(token)
    assert len(token_id(token)) == 16
    assert set(token_id(token)) <= set("0123456789abcdef")
    assert token_id(token) != token_id(_good())
    assert len(token_id("\udcff weird")) == 16


# --- properties -----------------------------------------------------------------------------

# Sizes chosen so any Unicode mix fits the budget (4 UTF-8 bytes a character, no compression).
claims_strategy = st.builds(
    LinkClaims,
    url=st.text(max_size=120),
    issued_at=st.integers(0, 2**48),
    recipient=st.none() | st.text(max_size=50),
    message_id=st.none() | st.text(max_size=50),
    link_index=st.integers(0, 2**32 - 1),
    display_text=st.none() | st.text(max_size=MAX_DISPLAY_TEXT_CHARS // 2),
    profile=st.from_regex(r"[A-Za-z0-9_.-]{1,32}", fullmatch=True),
)


@given(claims_strategy)
def test_property_round_trip(claims: LinkClaims) -> None:
    assert open_token(seal(claims, RING_ROTATED), RING_ROTATED) == claims


@given(st.text(max_size=3 * MAX_DISPLAY_TEXT_CHARS, alphabet=string.printable))
def test_property_display_text_keeps_its_first_characters(text: str) -> None:
    opened = open_token(seal(LinkClaims("https://e.example/", 0, display_text=text), RING), RING)
    assert isinstance(opened, LinkClaims)
    assert opened.display_text == text[:MAX_DISPLAY_TEXT_CHARS]


TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(claims_strategy, st.data())
def test_property_any_changed_character_fails(claims: LinkClaims, data: st.DataObject) -> None:
    token = seal(claims, RING)
    index = data.draw(st.integers(0, len(token) - 1), label="index")
    replacement = data.draw(
        st.sampled_from(TOKEN_ALPHABET + "=+/.~ é").filter(lambda c: c != token[index]),
        label="replacement",
    )
    changed = token[:index] + replacement + token[index + 1 :]
    assert isinstance(open_token(changed, RING), TokenError)


def _visible_forms(secret: str) -> list[str]:
    """The secret as text and as base64 at each of the three byte alignments (cores only)."""
    raw = secret.encode()
    forms = [secret]
    for offset in range(3):
        encoded = b64(raw[offset:])
        core = encoded[: 4 * ((len(raw) - offset) // 3)]  # whole groups only
        forms += [core, core.replace("-", "+").replace("_", "/")]
    return [form for form in forms if len(form) >= 8]


@given(
    st.emails().filter(lambda e: len(e) >= 10),
    st.from_regex(r"https://[a-z]{3,20}\.example/[a-zA-Z0-9/_-]{8,80}", fullmatch=True),
    st.none() | st.text(min_size=10, max_size=60),
)
def test_property_nothing_personal_is_readable(
    recipient: str, url: str, display_text: str | None
) -> None:
    assume(len(recipient) <= 320)
    token = seal(LinkClaims(url, ISSUED, recipient=recipient, display_text=display_text), RING)
    for secret in (recipient, url, *([display_text] if display_text else [])):
        for form in _visible_forms(secret):
            assert form not in token


def _message_seal(claims: LinkClaims, nonce: bytes) -> str:
    sealer = MessageSealer(RING, issued_at=claims.issued_at, recipient=claims.recipient,
                           message_id=claims.message_id, profile=claims.profile)
    return sealer.seal(claims.url, link_index=claims.link_index,
                       display_text=claims.display_text, nonce=nonce)


@given(claims_strategy)
def test_property_message_sealer_makes_the_token_seal_makes(claims: LinkClaims) -> None:
    """A message's sealer encodes the shared fields once: the same bytes, link by link."""
    assert _message_seal(claims, NONCE) == seal(claims, RING, nonce=NONCE)


def test_one_message_sealer_seals_many_links() -> None:
    sealer = MessageSealer(RING, issued_at=ISSUED, recipient="a@example.org", message_id="<m@x>")
    for index, url in enumerate(["https://a.example/", "https://b.example/" + "x" * 300]):
        token = sealer.seal(url, link_index=index, display_text=f"link {index}")
        assert open_token(token, RING) == LinkClaims(
            url, ISSUED, recipient="a@example.org", message_id="<m@x>", link_index=index,
            display_text=f"link {index}",
        )


def _deflate_with(data: bytes, wbits: int, mem_level: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits, mem_level, zlib.Z_DEFAULT_STRATEGY,
                              tokens_module._ZDICT)
    return packer.compress(data) + packer.flush()


@given(
    st.binary(max_size=tokens_module._SMALL_BLOB)
    | st.text(alphabet="abcdefghij/?=&.%_-", max_size=tokens_module._SMALL_BLOB).map(str.encode)
    | st.integers(0, tokens_module._SMALL_BLOB).map(lambda n: (TYPICAL_URL * 20).encode()[:n])
)
@example(b"a" * 126)
@example(bytes(range(127)))
@example(bytes(range(255)) * 2)
@example(bytes(range(254)))
@example(bytes(range(256)) * 2)
@example(bytes(range(256)) * 5 + bytes(range(tokens_module._SMALL_BLOB - 1280)))
@settings(max_examples=400)
def test_property_small_blobs_deflate_as_with_the_full_window(data: bytes) -> None:
    """The short-blob settings write the stream the 32 KiB window writes, byte for byte."""
    assert tokens_module._deflate(data) == _deflate_with(data, -15, 9)


def test_public_api_is_pinned() -> None:
    from linkguard.core import tokens  # noqa: PLC0415 - the module, beside its names

    assert sorted(tokens.__all__) == [
        "DestinationTooLongError", "KeyConfigError", "KeyRing", "LinkClaims",
        "MAX_BASE_URL_CHARS", "MAX_DESTINATION_CHARS", "MAX_DISPLAY_TEXT_CHARS",
        "MAX_LINK_CHARS", "MAX_MESSAGE_ID_CHARS", "MAX_RECIPIENT_CHARS", "MAX_TOKEN_CHARS",
        "MessageSealer", "SealError", "TOKEN_VERSION", "TokenError", "TokenErrorCode",
        "generate_key_spec", "open_token", "seal", "token_id",
    ]
    assert all(hasattr(tokens, name) for name in tokens.__all__)
