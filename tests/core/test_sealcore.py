"""The compiled sealing core (linkguard/core/_sealcore.pyx) against the Python code.

For the same nonce, ``MessageSealer.seal`` through the compiled core and
``MessageSealer._seal_python`` (the reference) must give tokens that open to the same claims —
byte for byte the same where the blob goes through zlib, at most a little longer where the
core's fixed-code encoder deflates it — and refuse the same links with the same error. These
tests are skipped when the extension is not built, except the first, which fails then if
``LINKGUARD_REQUIRE_NATIVE=1`` (CI sets it).
"""

from __future__ import annotations

import base64
import os
import random
import sys
import zlib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from linkguard.core import tokens
from linkguard.core.tokens import (
    MAX_DESTINATION_CHARS,
    MAX_DISPLAY_TEXT_CHARS,
    MAX_LINK_INDEX,
    MAX_TOKEN_CHARS,
    DestinationTooLongError,
    KeyRing,
    LinkClaims,
    MessageSealer,
    SealError,
    open_token,
)

RING = KeyRing({"k1": bytes(range(32)), "k0": bytes(range(100, 132))})
NONCE = bytes(range(12))
ISSUED = 1_718_000_000
TYPICAL = "https://click.news.example/ls/click?upn=u001.3fa2b8&utm_source=newsletter&x="
NOT_BUILT = (
    "linkguard.core._sealcore is not built (compile linkguard/core/_sealcore.pyx); "
    "sealing runs in Python"
)


PURE = os.environ.get("LINKGUARD_PURE_PYTHON") == "1"  # tests/conftest.py hides the module
REQUIRED = os.environ.get("LINKGUARD_REQUIRE_NATIVE") == "1" and not PURE


def test_native_core_is_present_when_required() -> None:
    if not REQUIRED:
        pytest.skip("LINKGUARD_REQUIRE_NATIVE is not 1 (or LINKGUARD_PURE_PYTHON=1): sealing "
                    "in Python is allowed")
    assert tokens.NATIVE_SEAL, NOT_BUILT + " (or it runs with another zlib than Python's)"
    assert MessageSealer(RING, issued_at=ISSUED)._core is not None


@pytest.fixture(scope="module", autouse=True)
def _native() -> None:
    # Module scope: hypothesis runs the property tests inside one fixture call.
    if REQUIRED:
        return  # the test above fails; these would fail with it rather than skip
    pytest.importorskip("linkguard.core._sealcore", reason=NOT_BUILT)
    if not tokens.NATIVE_SEAL:
        pytest.skip("the compiled core runs with another zlib than Python's zlib module")


def _sealer(
    recipient: str | None = "alice@example.org",
    message_id: str | None = "<m1@mail.example>",
    profile: str = "default",
    issued_at: int = ISSUED,
) -> MessageSealer:
    return MessageSealer(RING, issued_at=issued_at, recipient=recipient,
                         message_id=message_id, profile=profile)


def _same(
    sealer: MessageSealer, url: str, *, link_index: int = 0, display_text: str | None = None,
) -> str:
    """The compiled core's token (not a fallback), checked against the reference and opened.

    Blobs of up to ``FIXED_MAX`` bytes are deflated by the core's own fixed-code encoder
    (another valid deflate stream of the same bytes); the token opens to the same claims and
    is at most ``SLACK`` characters longer than zlib's. Larger blobs go through zlib as in
    Python: the same bytes."""
    assert sealer._core is not None
    native = sealer._core.seal(url, link_index, display_text, NONCE)
    python = sealer._seal_python(url, link_index=link_index, display_text=display_text,
                                 nonce=NONCE)
    assert native is not None
    assert open_token(native, RING) == open_token(python, RING)
    assert len(native) <= len(python) + SLACK
    if _blob_bytes(url, display_text) > FIXED_MAX:
        assert native == python
    assert sealer.seal(url, link_index=link_index, display_text=display_text,
                       nonce=NONCE) == native
    return native


FIXED_MAX = 254  # _sealcore.pyx: blobs up to this size use its fixed-code encoder
# Base64 characters a token may grow by where zlib would have written dynamic codes (on 31,330
# PhishTank and popular-site links: 99.9% the same length, at most 26 characters longer).
SLACK = 48


def _blob_bytes(url: str, display_text: str | None) -> int:
    data = url.encode()
    shown = b"" if display_text is None else display_text[:MAX_DISPLAY_TEXT_CHARS].encode()
    return len(tokens._varint(len(data))) + len(data) + len(shown)


def _opens(token: str, claims: LinkClaims) -> None:
    shown = claims.display_text
    expected = LinkClaims(
        claims.url, claims.issued_at, recipient=claims.recipient, message_id=claims.message_id,
        link_index=claims.link_index, profile=claims.profile,
        display_text=None if shown is None else shown[:MAX_DISPLAY_TEXT_CHARS],
    )
    assert open_token(token, RING) == expected


def _same_error(
    sealer: MessageSealer, url: str, *, link_index: int = 0, display_text: str | None = None,
    nonce: bytes | None = NONCE,
) -> SealError:
    """Both paths refuse the link with the same error; the core itself declines it."""
    assert sealer._core is not None
    assert sealer._core.seal(url, link_index, display_text, nonce) is None
    with pytest.raises(SealError) as native:
        sealer.seal(url, link_index=link_index, display_text=display_text, nonce=nonce)
    with pytest.raises(SealError) as python:
        sealer._seal_python(url, link_index=link_index, display_text=display_text, nonce=nonce)
    assert type(native.value) is type(python.value)
    assert str(native.value) == str(python.value)
    return native.value


def _nonce_of(token: str) -> bytes:
    data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    header = 2 + data[1]
    return data[header : header + 12]


# --- the same claims ---------------------------------------------------------------------------

profiles = st.from_regex(r"[A-Za-z0-9_.-]{1,32}", fullmatch=True) | st.just("default")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    url=st.text(max_size=300) | st.text(alphabet="abcdefghij/?=&.%_-", max_size=1500)
    | st.from_regex(r"https://[a-z0-9.-]{1,40}/[ -~]{0,200}", fullmatch=True),
    display_text=st.none() | st.text(max_size=3 * MAX_DISPLAY_TEXT_CHARS),
    recipient=st.none() | st.text(max_size=tokens.MAX_RECIPIENT_CHARS),
    message_id=st.none() | st.text(max_size=200),
    profile=profiles,
    issued_at=st.integers(0, tokens.MAX_ISSUED_AT),
    link_index=st.integers(0, MAX_LINK_INDEX),
)
@example(url="", display_text=None, recipient=None, message_id=None, profile="default",
         issued_at=0, link_index=0)
@example(url="https://例え.jp/パス?q=ü", display_text="例え" * 150, recipient="josé@bücher.de",
         message_id="", profile="a" * 32, issued_at=tokens.MAX_ISSUED_AT,
         link_index=MAX_LINK_INDEX)
def test_property_same_token_as_python(  # noqa: PLR0917 - one argument a drawn field
    url: str, display_text: str | None, recipient: str | None, message_id: str | None,
    profile: str, issued_at: int, link_index: int,
) -> None:
    sealer = _sealer(recipient, message_id, profile, issued_at)
    token = _same(sealer, url, link_index=link_index, display_text=display_text)
    _opens(token, LinkClaims(url, issued_at, recipient, message_id, link_index, display_text,
                             profile))


@pytest.mark.parametrize("display_text", [None, "", "Read more", "x" * 200, "x" * 201,
                                          "ü" * 500, "\U0001f600" * 250])
@pytest.mark.parametrize("link_index", [0, 1, 127, 128, 16383, 16384, MAX_LINK_INDEX])
def test_display_texts_and_link_indexes(display_text: str | None, link_index: int) -> None:
    token = _same(_sealer(), TYPICAL + "42", link_index=link_index, display_text=display_text)
    _opens(token, LinkClaims(TYPICAL + "42", ISSUED, "alice@example.org", "<m1@mail.example>",
                             link_index, display_text))


def _ascii_noise(rng: random.Random, size: int) -> str:
    return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
                   for _ in range(size))


def _blob_size(url: str) -> int:
    data = url.encode()
    return len(tokens._varint(len(data))) + len(data)


_BOUNDARIES = sorted({largest for largest, _ in tokens._MEM_LEVELS} | {tokens._SMALL_BLOB})


@pytest.mark.parametrize("boundary", _BOUNDARIES)
@pytest.mark.parametrize("offset", [-2, -1, 0, 1, 2])
@pytest.mark.parametrize("kind", ["compressible", "noise", "incompressible"])
def test_blob_sizes_around_every_deflate_parameter_boundary(
    boundary: int, offset: int, kind: str,
) -> None:
    """Each memLevel's largest blob, the one after it, and the 32 KiB-window path beyond."""
    rng = random.Random(boundary * 10 + offset)  # noqa: S311 - reproducible test data, not a secret
    size = boundary + offset
    if kind == "compressible":
        url = (TYPICAL * (size // len(TYPICAL) + 2))[: size - 2]
    elif kind == "noise":
        url = _ascii_noise(rng, size - 2)
    else:  # random bytes as Latin-1 characters: UTF-8 of 2 bytes for half of them
        url = "".join(chr(rng.randrange(256)) for _ in range(size))
        while _blob_size(url) > size:
            url = url[:-1]
    while _blob_size(url) < size:
        url += "a"
    assert _blob_size(url) == size
    if len(url) > MAX_DESTINATION_CHARS:
        pytest.skip("not a destination")
    sealer = _sealer()
    try:
        sealer._seal_python(url, link_index=3)
    except DestinationTooLongError:  # incompressible and over about 1,350 bytes
        _same_error(sealer, url, link_index=3)
        return
    token = _same(sealer, url, link_index=3)
    _opens(token, LinkClaims(url, ISSUED, "alice@example.org", "<m1@mail.example>", 3))


@pytest.mark.parametrize("size", [tokens._SMALL_BLOB + 1, 2500, 3999, MAX_DESTINATION_CHARS])
def test_long_destinations_take_the_32k_window(size: int) -> None:
    url = (TYPICAL + "&".join(f"utm_campaign=c{i % 50}" for i in range(400)))[:size]
    token = _same(_sealer(), url, display_text="read the whole thing")
    opened = open_token(token, RING)
    assert isinstance(opened, LinkClaims)
    assert opened.url == url


def test_deflate_kept_only_when_shorter_at_the_exact_edge() -> None:
    """Blobs whose stream is one byte shorter, as long, or one byte longer than themselves."""
    rng = random.Random(7)  # noqa: S311 - reproducible test data, not a secret
    found: dict[int, int] = {}
    for _ in range(20_000):
        url = _ascii_noise(rng, rng.randrange(0, 40)) + "".join(
            rng.choice(["https://", "www.", ".com/", "&utm_source=", "/login"])
            for _ in range(rng.randrange(0, 3)))
        blob = tokens._varint(len(url)) + url.encode()
        diff = len(tokens._deflate(blob)) - len(blob)
        if diff in (-1, 0, 1) and found.get(diff, 0) < 5:
            found[diff] = found.get(diff, 0) + 1
            _same(_sealer(), url)
        if len(found) == 3 and min(found.values()) == 5:
            break
    assert found == {-1: 5, 0: 5, 1: 5}


# --- the same refusals ------------------------------------------------------------------------


def test_over_long_destination() -> None:
    error = _same_error(_sealer(), "h" * (MAX_DESTINATION_CHARS + 1))
    assert isinstance(error, DestinationTooLongError)
    assert "4001 characters" in str(error)


def test_token_over_the_limit() -> None:
    rng = random.Random(3)  # noqa: S311 - reproducible test data, not a secret
    url = "https://e.example/" + _ascii_noise(rng, 2000)
    error = _same_error(_sealer(), url, display_text="x")
    assert isinstance(error, DestinationTooLongError)
    assert "does not compress enough" in str(error)
    # Just under the limit, the core seals it.
    while True:
        url = url[:-10]
        try:
            token = _same(_sealer(), url, display_text="x")
        except DestinationTooLongError:
            continue
        break
    assert MAX_TOKEN_CHARS - 20 < len(token) <= MAX_TOKEN_CHARS


@pytest.mark.parametrize(
    ("url", "link_index", "display_text", "nonce"),
    [
        ("https://a.example/", -1, None, NONCE),
        ("https://a.example/", MAX_LINK_INDEX + 1, None, NONCE),
        ("https://a.example/\udcff", 0, None, NONCE),
        ("https://a.example/", 0, "shown \ud800", NONCE),
        ("https://a.example/\udcff", 0, "shown \ud800", b"short"),
        ("https://a.example/", 0, None, b"short"),
        ("https://a.example/", 0, None, bytes(13)),
    ],
    ids=["negative-index", "index-too-large", "url-surrogate", "display-surrogate",
         "url-first", "short-nonce", "long-nonce"],
)
def test_refusals(url: str, link_index: int, display_text: str | None, nonce: bytes) -> None:
    assert not isinstance(_same_error(_sealer(), url, link_index=link_index,
                                      display_text=display_text, nonce=nonce),
                          DestinationTooLongError)


def test_display_surrogate_beyond_the_cut_is_not_an_error() -> None:
    text = "x" * MAX_DISPLAY_TEXT_CHARS + "\ud800"
    _same(_sealer(), "https://a.example/", display_text=text)


# --- nonces -----------------------------------------------------------------------------------


def test_fresh_nonces_never_repeat() -> None:
    sealer = _sealer()
    nonces = {_nonce_of(sealer.seal("https://a.example/")) for _ in range(1000)}
    assert len(nonces) == 1000


@pytest.mark.skipif(sys.platform == "win32", reason="needs os.fork")
def test_a_forked_child_draws_its_own_nonces() -> None:
    sealer = _sealer()
    sealer.seal("https://a.example/")  # sealed in this process before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.write(write, b"".join(_nonce_of(sealer.seal("https://a.example/"))
                                     for _ in range(100)))
        finally:
            os._exit(0)
    os.close(write)
    data = b""
    while len(data) < 1200 and (chunk := os.read(read, 1200)):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    child = {data[i:i + 12] for i in range(0, len(data), 12)}
    assert len(child) == 100
    # No nonce source may be shared across the fork: none the child drew is one the parent draws.
    parent = {_nonce_of(sealer.seal("https://a.example/")) for _ in range(100)}
    assert not child & parent


# --- the fixed-code encoder -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["repeat-1", "repeat-3", "url-like", "random", "dictionary"])
def test_fixed_code_encoder_round_trips_every_size(kind: str) -> None:
    # Overlapping copies (distance 1 and 3, lengths up to the whole blob), matches that start
    # in the preset dictionary and run on into the blob, literals of every byte value: each
    # size up to just past FIXED_MAX, opened again.
    rng = random.Random(kind)  # noqa: S311 - reproducible test data, not a secret
    sealer = _sealer()
    words = ["https://", "www.", ".com/", "login", "?id=", "&utm_source=", "news", "%20"]
    for size in range(FIXED_MAX + 3):
        if kind == "repeat-1":
            url = "a" * size
        elif kind == "repeat-3":
            url = ("abc" * size)[:size]
        elif kind == "url-like":
            url = "".join(rng.choice(words) for _ in range(size))[:size]
        elif kind == "random":
            url = "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(size // 2))
        else:
            url = tokens._ZDICT.decode("latin-1")[rng.randrange(200):][:size]
        _opens(_same(sealer, url, link_index=size, display_text=None),
               LinkClaims(url, ISSUED, recipient="alice@example.org",
                          message_id="<m1@mail.example>", link_index=size))


def test_fixed_code_tokens_are_as_short_as_zlibs_for_links() -> None:
    # Links are what the encoder is for: on generated newsletter-style links it matches zlib's
    # length nearly always (zlib writes these blobs with the same fixed codes).
    rng = random.Random(5)  # noqa: S311 - reproducible test data, not a secret
    sealer = _sealer()
    same = 0
    for i in range(400):
        url = (f"https://click.news{rng.randint(1, 9)}.example/ls/click?upn=u001."
               f"{rng.getrandbits(96):x}&utm_source=newsletter&utm_campaign=c{i}")
        native = _same(sealer, url, link_index=i, display_text=f"Read more {i}")
        python = sealer._seal_python(url, link_index=i, display_text=f"Read more {i}",
                                     nonce=NONCE)
        same += len(native) == len(python)
    assert same >= 380


def test_fixed_code_encoder_is_used_and_writes_one_fixed_block() -> None:
    # The seal falls back to zlib whenever the encoder's stream does not inflate back, so the
    # tests above would pass with a broken encoder: here it must succeed on its own.
    _sealcore = pytest.importorskip("linkguard.core._sealcore")
    rng = random.Random(11)  # noqa: S311 - reproducible test data, not a secret
    for i in range(300):
        url = (f"https://www.shop{rng.randint(1, 99)}.example/account/orders/"
               f"{rng.getrandbits(64):x}?lang=en&ref=mail{i}")
        blob = tokens._varint(len(url)) + url.encode() + b"Track your order"
        stream = _sealcore.deflate_fixed(blob)
        assert stream is not None
        assert stream[0] & 0b111 == 0b011  # BFINAL, BTYPE 01: one block, fixed codes
        inflater = zlib.decompressobj(-15, tokens._ZDICT)
        assert inflater.decompress(stream) + inflater.flush() == blob
        assert inflater.eof
        assert len(stream) <= len(tokens._deflate(blob)) + 2
    assert _sealcore.deflate_fixed(os.urandom(200)) is None  # incompressible: zlib decides
    assert _sealcore.deflate_fixed(b"x" * (FIXED_MAX + 1)) is None  # too large: zlib


def _zlib_decodes(stream: bytes, blob: bytes) -> bool:
    """zlib's verdict on the same question: one whole stream, exactly ``blob``, nothing after."""
    inflater = zlib.decompressobj(-15, tokens._ZDICT)
    try:
        out = inflater.decompress(stream) + inflater.flush()
    except zlib.error:
        return False
    return out == blob and inflater.eof and not inflater.unused_data


def _one_block(stream: bytes) -> bool:
    return bool(stream) and stream[0] & 0b111 == 0b011


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["https://click.news{}.example/ls/click?upn=u001.{}&utm_source=n",
                        "https://www.shop{}.example/account/orders/{}?lang=en",
                        "http://{}.example/{}{}{}"]),
       st.integers(0, 999), st.binary(min_size=1, max_size=24), st.data())
def test_the_encoders_check_agrees_with_zlib_on_damaged_streams(
    shape: str, number: int, noise: bytes, data: st.DataObject
) -> None:
    """The check that stands between the encoder and a token (``decodes_to``) accepts a stream
    exactly when zlib's inflate gives back the blob from it, whole: for the encoder's own
    streams and for each of them with a bit flipped, cut short, or with bytes after it."""
    _sealcore = pytest.importorskip("linkguard.core._sealcore")
    url = shape.format(number, noise.hex(), "", "")
    blob = tokens._varint(len(url)) + url.encode()
    stream = _sealcore.deflate_fixed(blob)
    if stream is None:
        return
    assert _sealcore.decodes_to(stream, blob)
    bit = data.draw(st.integers(0, len(stream) * 8 - 1))
    flipped = bytearray(stream)
    flipped[bit >> 3] ^= 1 << (bit & 7)
    cut = data.draw(st.integers(0, len(stream) - 1))
    for damaged in (bytes(flipped), stream[:cut], stream + b"\x00", stream + noise):
        if _one_block(damaged):  # the check reads only fixed-code blocks; zlib reads any
            assert _sealcore.decodes_to(damaged, blob) == _zlib_decodes(damaged, blob), damaged
        else:
            assert not _sealcore.decodes_to(damaged, blob)
    assert not _sealcore.decodes_to(stream, blob + b"x")
    assert not _sealcore.decodes_to(stream, blob[:-1])
