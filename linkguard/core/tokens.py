"""Sealed link tokens: everything a click needs, carried in the link, readable only by us.

A rewritten link is ``<base>/r/<token>``. The token is the AES-256-GCM encryption (NIST SP
800-38D) of a compact binary record of :class:`LinkClaims`, so any replica can serve a click
without a database read (DESIGN.md, "Stateless click path") and nobody who sees the link — the
recipient, a forwarding target, a proxy log — can read the recipient or the destination from it.

Wire format, version 1 (all of it URL-safe base64 without padding, RFC 4648 §5)::

    header   = version (1 byte, 0x01) | kid length (1 byte, 1-8) | kid (ASCII [a-z0-9])
    token    = header | nonce (12 bytes) | AES-GCM ciphertext of the plaintext | tag (16 bytes)
    AAD      = header  -> the version and the key id are authenticated, not just present

    plaintext = flags (1 byte) | varint issued_at | varint link_index | str profile
                | [str recipient] | [str message_id] | blob (the rest)
    blob      = varint len(url) | url | [display_text]   -- raw deflate when that is shorter

``varint`` is unsigned LEB128, ``str`` is a varint byte length and UTF-8 bytes. Flags: bit 0
recipient present, bit 1 message id present, bit 2 display text present, bit 3 blob deflated;
other bits must be zero. The profile ``default`` is stored as the empty string.

Why only the blob is compressed: the destination and display text are chosen by whoever sent the
mail, the recipient and message id are not. Compressing both in one deflate stream would let a
sender who sees token lengths guess the others byte by byte (the CRIME/BREACH attack,
CVE-2012-4929), so secrets and attacker-chosen bytes never share a compression context.

Length: links must stay under 2,048 characters (DESIGN.md). ``MAX_TOKEN_CHARS`` leaves room for
a base URL of ``MAX_BASE_URL_CHARS``. Compression makes realistic long URLs fit (repeated keys,
tracking parameters), but no encoding can fit 4,000 random characters into 1,900: a destination
fits when its sealed token is at most ``MAX_TOKEN_CHARS`` long, which :func:`seal` checks,
raising :class:`DestinationTooLongError` otherwise. The caller then keeps the destination
server-side by id or leaves the link unrewritten (and judges it at delivery) — it never emits an
over-long link.

Purity: no clock (``issued_at`` is passed in), no environment, no network. The one outside input
is randomness for nonces and keys, ``os.urandom`` by default and injectable for tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from linkguard.core import _sealcore

__all__ = [
    "MAX_BASE_URL_CHARS",
    "MAX_DESTINATION_CHARS",
    "MAX_DISPLAY_TEXT_CHARS",
    "MAX_LINK_CHARS",
    "MAX_MESSAGE_ID_CHARS",
    "MAX_RECIPIENT_CHARS",
    "MAX_TOKEN_CHARS",
    "TOKEN_VERSION",
    "DestinationTooLongError",
    "KeyConfigError",
    "KeyRing",
    "LinkClaims",
    "MessageSealer",
    "SealError",
    "TokenError",
    "TokenErrorCode",
    "generate_key_spec",
    "open_token",
    "seal",
    "token_id",
]

TOKEN_VERSION: Final = 1

# A whole rewritten link stays below 2,048 characters, the length older browsers and many
# proxies and mail clients still cut at; 147 characters are left for the base URL.
MAX_LINK_CHARS: Final = 2047
MAX_TOKEN_CHARS: Final = 1900
MAX_BASE_URL_CHARS: Final = MAX_LINK_CHARS - MAX_TOKEN_CHARS

MAX_DESTINATION_CHARS: Final = 4000
# Enough of the display text to compare it with the destination (its host comes first).
MAX_DISPLAY_TEXT_CHARS: Final = 200
# RFC 3696 errata 1690: 64 octets local part + "@" + 255 domain; RFC 5322 §2.1.1 line limit.
MAX_RECIPIENT_CHARS: Final = 320
MAX_MESSAGE_ID_CHARS: Final = 998
MAX_LINK_INDEX: Final = 2**32 - 1
MAX_ISSUED_AT: Final = 2**48  # year 8,900,000: any real unix time, and a bounded varint

KEY_BYTES: Final = 32  # AES-256
NONCE_BYTES: Final = 12  # the 96-bit IV SP 800-38D §8.2.2 recommends for random nonces
TAG_BYTES: Final = 16
_KID_RE: Final = re.compile(r"[a-z0-9]{1,8}")
_PROFILE_RE: Final = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9_-]*")
_DEFAULT_PROFILE: Final = "default"

_F_RECIPIENT: Final = 0x01
_F_MESSAGE_ID: Final = 0x02
_F_DISPLAY: Final = 0x04
_F_DEFLATED: Final = 0x08
_F_KNOWN: Final = _F_RECIPIENT | _F_MESSAGE_ID | _F_DISPLAY | _F_DEFLATED

# Largest blob a valid token can hold once inflated (UTF-8 is at most 4 bytes a character);
# inflation stops there, so a crafted stream cannot expand without bound (a "zip bomb").
_MAX_BLOB_BYTES: Final = 5 + 4 * (MAX_DESTINATION_CHARS + MAX_DISPLAY_TEXT_CHARS)

# Preset deflate dictionary (RFC 1951 §3.2.5 back-references may reach into it; zlib's
# deflateSetDictionary): strings common in mailed links, so that even short URLs compress.
# zlib advises putting the most frequent strings last. Part of format version 1: changing a byte
# breaks every issued token, so a new dictionary needs a new TOKEN_VERSION.
_ZDICT: Final = (
    b"&mc_cid=&mc_eid=&_hsenc=&_hsmi=&mkt_tok=&trk=&ref=&source=&campaign="
    b"&fbclid=&gclid=&msclkid=&dclid=&yclid=&igshid=&si=&sid=&uid=&id=&token="
    b"/unsubscribe/account/login/signin/verify/download/index.html.php.aspx.pdf"
    b"%3A%2F%2F%2F%3D%26%3F%25%20.co.uk/.de/.org/.net/.io/"
    b"&utm_content=&utm_term=&utm_campaign=&utm_medium=email&utm_source=newsletter"
    b"https://www.http://www..com/"
)

TokenErrorCode = Literal[
    "token.malformed",
    "token.unknown_key",
    "token.invalid",
    "token.unsupported_version",
    "token.too_long",
]


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a sealed link says: where it goes, for whom, and what the mail showed."""

    url: str
    issued_at: int  # unix seconds, from the caller's clock
    recipient: str | None = None
    message_id: str | None = None
    link_index: int = 0  # position of the link in the message, for the click log
    display_text: str | None = None  # cut to MAX_DISPLAY_TEXT_CHARS when sealed
    profile: str = _DEFAULT_PROFILE  # policy profile name


@dataclass(frozen=True, slots=True)
class TokenError:
    """Why a token does not open. A value, not an exception: clicks on bad links are normal."""

    code: TokenErrorCode
    message: str


class KeyConfigError(ValueError):
    """The key specification is unusable (syntax, length, placeholder or weak key)."""


class SealError(ValueError):
    """Claims that cannot be sealed: out-of-range numbers, bad profile, over-long fields."""


class DestinationTooLongError(SealError):
    """The sealed link would exceed MAX_TOKEN_CHARS; keep it server-side or leave it as is."""


def token_id(token: str) -> str:
    """A short stable id of a token for logs: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# --- keys -------------------------------------------------------------------------------------

# Words that mark a value copied from an example file. Only words of six letters or more: a
# random 43-character key spells one of them with probability about 1e-7.
_PLACEHOLDER_WORDS: Final = (
    "changeme", "placeholder", "replaceme", "example", "secret", "yourkey", "insecure",
)
# 32 random bytes have about 30 distinct values; fewer than 16 means a pattern, not randomness
# (the chance for a random key is about 3e-17, by Stirling numbers of the second kind).
_MIN_DISTINCT_KEY_BYTES: Final = 16


class KeyRing:
    """Token keys by id. The first (newest) key seals; every key opens.

    Rotation: put a new key first, keep the old ones until the links they sealed have aged out.
    """

    __slots__ = ("_ciphers", "_keys", "_newest")

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        """``keys`` maps key id to 32 key bytes, newest first. Raises :class:`KeyConfigError`."""
        if not keys:
            raise KeyConfigError("no token key configured; create one with `linkguard keys new`")
        seen: dict[bytes, str] = {}
        ciphers: dict[str, AESGCM] = {}
        for kid, key in keys.items():
            _check_kid(kid)
            _check_key(kid, key)
            if key in seen:
                raise KeyConfigError(f"token keys {seen[key]!r} and {kid!r} are the same key")
            seen[key] = kid
            ciphers[kid] = AESGCM(key)
        self._ciphers = ciphers
        self._keys = dict(keys)
        self._newest = next(iter(ciphers))

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """Read ``kid1:base64urlkey,kid2:base64urlkey`` (newest first)."""
        keys: dict[str, bytes] = {}
        entries = [entry.strip() for entry in spec.split(",")]
        if not any(entries):
            raise KeyConfigError("no token key configured; create one with `linkguard keys new`")
        for position, entry in enumerate(entries, start=1):
            if not entry:
                raise KeyConfigError(f"token key entry {position} is empty (stray comma?)")
            kid, sep, text = entry.partition(":")
            kid, text = kid.strip(), text.strip()
            if not sep:
                raise KeyConfigError(
                    f"token key entry {position} is not of the form kid:base64urlkey"
                )
            _check_kid(kid)
            if kid in keys:
                raise KeyConfigError(f"token key id {kid!r} appears twice")
            keys[kid] = _decode_key_text(kid, text)
        return cls(keys)

    @property
    def newest_kid(self) -> str:
        return self._newest

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    def __repr__(self) -> str:  # never the key bytes
        return f"KeyRing(kids={self.kids!r})"

    def derive(self, purpose: str) -> bytes:
        """A 32-byte secret for ``purpose`` (CSRF, client-IP hashing) from the newest key.

        HKDF (RFC 5869) with the purpose as info, so every replica sharing the link keys derives
        the same secret and no separate setting is needed; it changes when keys rotate.
        """
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"linkguard-derive-v1",
                    info=purpose.encode())
        return hkdf.derive(self._keys[self._newest])

    def _sealer(self) -> tuple[str, AESGCM]:
        return self._newest, self._ciphers[self._newest]

    def _opener(self, kid: str) -> AESGCM | None:
        return self._ciphers.get(kid)


def generate_key_spec(kid: str, *, randbytes: Callable[[int], bytes] = os.urandom) -> str:
    """A fresh ``kid:key`` entry for the key specification (``linkguard keys new``)."""
    _check_kid(kid)
    key = randbytes(KEY_BYTES)
    _check_key(kid, key)
    return f"{kid}:{_b64encode(key)}"


def _check_kid(kid: str) -> None:
    if not _KID_RE.fullmatch(kid):
        raise KeyConfigError(
            f"token key id {kid[:20]!r} must be 1-8 characters of a-z and 0-9"
        )


def _decode_key_text(kid: str, text: str) -> bytes:
    lowered = re.sub(r"[^a-z]", "", text.lower())
    for word in _PLACEHOLDER_WORDS:
        if word in lowered:
            raise KeyConfigError(
                f"token key {kid!r} is a placeholder ({word!r}); "
                "create a real one with `linkguard keys new`"
            )
    if not re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", text):
        raise KeyConfigError(
            f"token key {kid!r} is not URL-safe base64 (RFC 4648 §5: A-Z a-z 0-9 - _)"
        )
    try:
        key = base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"token key {kid!r} is not valid base64") from None
    _check_key(kid, key)
    return key


def _check_key(kid: str, key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise KeyConfigError(
            f"token key {kid!r} is {len(key)} bytes; AES-256 needs exactly {KEY_BYTES}"
        )
    if len(set(key)) < _MIN_DISTINCT_KEY_BYTES:
        raise KeyConfigError(
            f"token key {kid!r} is not random (all zero or a repeating pattern); "
            "create one with `linkguard keys new`"
        )


# --- seal -------------------------------------------------------------------------------------


def seal(claims: LinkClaims, keys: KeyRing, *, nonce: bytes | None = None) -> str:
    """Seal ``claims`` with the newest key; URL-safe base64 without padding.

    Raises :class:`SealError` for claims out of range and :class:`DestinationTooLongError`
    (a subclass) when the link would not fit.

    ``nonce`` is for tests only: by default 12 fresh random bytes. Random 96-bit nonces stay
    safe for up to 2**32 tokens per key (SP 800-38D §8.3); rotate keys long before that.
    """
    if not 0 <= claims.link_index <= MAX_LINK_INDEX:
        raise SealError(f"link_index {claims.link_index} is out of range")
    sealer = MessageSealer(keys, issued_at=claims.issued_at, recipient=claims.recipient,
                           message_id=claims.message_id, profile=claims.profile)
    return sealer.seal(claims.url, link_index=claims.link_index,
                       display_text=claims.display_text, nonce=nonce)


class MessageSealer:
    """Seals the links of one message: what they share is checked and encoded once.

    ``MessageSealer(keys, issued_at=…, recipient=…, message_id=…).seal(url, link_index=i,
    display_text=t)`` makes the token ``seal(LinkClaims(url, …, link_index=i,
    display_text=t), keys)`` makes (the same bytes for the same nonce). A message's links
    share the key, issued-at, recipient, message id and profile, so those are validated and
    serialised once, when the sealer is made (raising :class:`SealError` there), and each link
    adds only its index, destination and display text. The format is version 1 as described
    above; nothing of it changes.

    When the compiled core ``_sealcore`` is built (:data:`NATIVE_SEAL`), it does the per-link
    work of :meth:`seal` in one C call and writes tokens that open to the same claims (short
    blobs deflated by its own fixed-code encoder); what it declines (every error case) runs
    through :meth:`_seal_python`, the reference, which raises as it always has.
    """

    __slots__ = ("_core", "_encrypt", "_flags", "_header", "_issued", "_tail")

    def __init__(
        self,
        keys: KeyRing,
        *,
        issued_at: int,
        recipient: str | None = None,
        message_id: str | None = None,
        profile: str = _DEFAULT_PROFILE,
    ) -> None:
        if not 0 <= issued_at <= MAX_ISSUED_AT:
            raise SealError(f"issued_at {issued_at} is not a unix time in seconds")
        if not _PROFILE_RE.fullmatch(profile):
            raise SealError(f"profile {profile[:40]!r} must be 1-32 of A-Z a-z 0-9 _ . -")
        _check_len("recipient", recipient, MAX_RECIPIENT_CHARS)
        _check_len("message_id", message_id, MAX_MESSAGE_ID_CHARS)
        # The plaintext up to the blob is flags | issued_at | link_index | tail: only the flags'
        # display and deflate bits and the link index differ between a message's links.
        flags = 0
        tail = _str_field("profile", "" if profile == _DEFAULT_PROFILE else profile)
        if recipient is not None:
            flags |= _F_RECIPIENT
            tail += _str_field("recipient", recipient)
        if message_id is not None:
            flags |= _F_MESSAGE_ID
            tail += _str_field("message_id", message_id)
        kid, cipher = keys._sealer()
        self._flags = flags
        self._issued = _varint(issued_at)
        self._tail = tail
        self._header = _header(kid)
        self._encrypt = cipher.encrypt
        self._core = (
            None if _NativeSealer is None
            else _NativeSealer(self._encrypt, self._header, flags, self._issued, tail,
                               _F_DISPLAY, _F_DEFLATED)
        )

    def seal(
        self,
        url: str,
        *,
        link_index: int = 0,
        display_text: str | None = None,
        nonce: bytes | None = None,
    ) -> str:
        """The token of one link; raises as :func:`seal` does (``nonce`` for tests only)."""
        core = self._core
        if core is not None:
            # The compiled core seals the ordinary link and declines (None) everything else,
            # which the code below then seals or refuses with its own error.
            token = core.seal(url, link_index, display_text, nonce)
            if token is not None:
                return token
        return self._seal_python(url, link_index=link_index, display_text=display_text,
                                 nonce=nonce)

    @property
    def native_seal(self) -> Callable[[str, int, str | None, bytes | None], str | None] | None:
        """The compiled core's per-link call (``url, link_index, display_text, nonce``), which
        :meth:`seal` makes first: a token, or None for every case it leaves to :meth:`seal`.
        None when the core is not built."""
        return None if self._core is None else self._core.seal

    def _seal_python(
        self,
        url: str,
        *,
        link_index: int = 0,
        display_text: str | None = None,
        nonce: bytes | None = None,
    ) -> str:
        """:meth:`seal` in Python: the reference the compiled core is tested against."""
        if not 0 <= link_index <= MAX_LINK_INDEX:
            raise SealError(f"link_index {link_index} is out of range")
        if len(url) > MAX_DESTINATION_CHARS:
            raise DestinationTooLongError(
                f"destination is {len(url)} characters (limit {MAX_DESTINATION_CHARS})"
            )
        try:
            data = url.encode()
            shown = b"" if display_text is None else display_text[:MAX_DISPLAY_TEXT_CHARS].encode()
        except UnicodeEncodeError:
            _utf8("url", url)  # raises SealError naming the field
            _utf8("display_text", display_text or "")
            raise
        flags = self._flags if display_text is None else self._flags | _F_DISPLAY
        blob = b"".join((_varint(len(data)), data, shown))
        packed = _deflate(blob)
        if len(packed) < len(blob):
            flags |= _F_DEFLATED
            blob = packed
        plaintext = b"".join((_BYTES[flags], self._issued, _varint(link_index), self._tail, blob))
        if nonce is None:
            nonce = os.urandom(NONCE_BYTES)
        elif len(nonce) != NONCE_BYTES:
            raise SealError(f"nonce must be {NONCE_BYTES} bytes")
        header = self._header
        token = _b64encode(b"".join((header, nonce, self._encrypt(nonce, plaintext, header))))
        if len(token) > MAX_TOKEN_CHARS:
            raise DestinationTooLongError(
                f"sealed link would be {len(token)} characters (limit {MAX_TOKEN_CHARS}); "
                "the destination does not compress enough"
            )
        return token


def _header(kid: str) -> bytes:
    return bytes((TOKEN_VERSION, len(kid))) + kid.encode("ascii")


def _check_len(name: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise SealError(f"{name} is {len(value)} characters (limit {limit})")


def _utf8(name: str, text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise SealError(f"{name} is not valid Unicode (lone surrogate)") from None


def _str_field(name: str, text: str) -> bytes:
    data = _utf8(name, text)
    return _varint(len(data)) + data


# One-byte varints, the usual link index and field length, looked up instead of built.
_BYTES: Final = tuple(bytes((i,)) for i in range(256))


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _BYTES[value]
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


# Short blobs (nearly every link) are deflated with a 2 KiB window and a hash table and symbol
# buffer sized to the blob, which zlib allocates and clears far faster than the 128 KiB hash
# table of memLevel 9 (a 130-byte blob: ~190,000 instructions down to ~64,000, the rest being
# the Huffman trees; ~1.5 µs of ~6 by the clock). The window still holds
# the whole preset dictionary and blob (matches reach back at most the window less 262 bytes,
# zlib's MIN_LOOKAHEAD), level 9 still searches every earlier position with the same 3-byte
# hash, and memLevel m buffers 2**(m+6) - 1 symbols, so a blob of fewer bytes stays one block:
# the stream is byte for byte the one the full window writes (a property test in
# tests/core/test_tokens.py holds this at every size). Raw deflate either way, inflated as before.
_SMALL_BLOB: Final = 2048 - 262 - len(_ZDICT)
_MEM_LEVELS: Final = ((2**7 - 2, 1), (2**8 - 2, 2), (2**9 - 2, 3), (_SMALL_BLOB, 5))


def _deflate(data: bytes) -> bytes:
    # Raw deflate (negative wbits): no zlib header or Adler-32; AES-GCM authenticates.
    size = len(data)
    if size <= _SMALL_BLOB:
        mem_level = next(level for largest, level in _MEM_LEVELS if size <= largest)
        packer = zlib.compressobj(9, zlib.DEFLATED, -11, mem_level, zlib.Z_DEFAULT_STRATEGY,
                                  _ZDICT)
    else:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, _ZDICT)
    return packer.compress(data) + packer.flush()


_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")


def _b64encode(data: bytes) -> str:
    # base64.urlsafe_b64encode is this with two more Python calls.
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def _load_native() -> type[_sealcore.Sealer] | None:
    """The compiled sealing core, configured with this format, or None to seal in Python.

    ``linkguard/core/_sealcore.pyx`` (Cython) does :meth:`MessageSealer.seal`'s per-link work
    in one call. It is absent when the package was installed without a C compiler; it is not
    used when it runs with another zlib than Python's ``zlib`` module (its zlib path, for blobs
    its own encoder leaves to zlib, is held to the Python code's bytes).
    """
    try:
        from linkguard.core import _sealcore  # noqa: PLC0415 - optional compiled module
    except ImportError:
        return None
    if _sealcore.zlib_version() != zlib.ZLIB_RUNTIME_VERSION:
        return None
    _sealcore.configure(_ZDICT, _SMALL_BLOB, _MEM_LEVELS, MAX_LINK_INDEX,
                        MAX_DESTINATION_CHARS, MAX_DISPLAY_TEXT_CHARS, MAX_TOKEN_CHARS)
    return _sealcore.Sealer


_NativeSealer: Final = _load_native()
# Whether MessageSealer seals with the compiled core (True) or in Python only (False).
NATIVE_SEAL: Final = _NativeSealer is not None


# --- open -------------------------------------------------------------------------------------


class _CorruptError(Exception):
    """Internal: the authenticated plaintext does not follow the format."""


def open_token(token: str, keys: KeyRing) -> LinkClaims | TokenError:
    """Open a sealed token. Never raises: every failure is a :class:`TokenError`."""
    if len(token) > MAX_TOKEN_CHARS:
        return TokenError("token.too_long", f"longer than {MAX_TOKEN_CHARS} characters")
    data = _b64decode_canonical(token)
    if data is None:
        return TokenError("token.malformed", "not URL-safe base64")
    if len(data) < 2:
        return TokenError("token.malformed", "too short")
    if data[0] != TOKEN_VERSION:
        return TokenError("token.unsupported_version", f"token version {data[0]} is not known")
    kid_len = data[1]
    header_len = 2 + kid_len
    if not 1 <= kid_len <= 8 or len(data) < header_len + NONCE_BYTES + TAG_BYTES:
        return TokenError("token.malformed", "truncated or bad header")
    kid = data[2:header_len].decode("ascii", "replace")
    if not _KID_RE.fullmatch(kid):
        return TokenError("token.malformed", "bad key id")
    cipher = keys._opener(kid)
    if cipher is None:
        return TokenError("token.unknown_key", f"key {kid!r} is not configured")
    nonce = data[header_len : header_len + NONCE_BYTES]
    try:
        plaintext = cipher.decrypt(nonce, data[header_len + NONCE_BYTES :], data[:header_len])
    except InvalidTag:
        return TokenError("token.invalid", "does not authenticate (altered or another key)")
    try:
        return _decode_claims(plaintext)
    except _CorruptError as exc:
        # Authenticated yet unreadable: sealed by a key holder with a different format.
        return TokenError("token.invalid", f"authenticated but not readable: {exc}")


def _b64decode_canonical(token: str) -> bytes | None:
    if len(token) % 4 == 1 or not _TOKEN_RE.fullmatch(token):
        return None
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    # The last character may carry unused bits; only the canonical spelling is accepted, so no
    # two strings open as the same token (and any changed character is noticed).
    return data if _b64encode(data) == token else None


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def varint(self, limit: int) -> int:
        value = shift = 0
        while True:
            if self.pos >= len(self.data) or shift > 63:
                raise _CorruptError("bad number")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if value > limit:
            raise _CorruptError("number out of range")
        return value

    def raw(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise _CorruptError("truncated")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def text(self, max_chars: int) -> str:
        return _text(self.raw(self.varint(4 * max_chars)), max_chars)

    def rest(self) -> bytes:
        chunk = self.data[self.pos :]
        self.pos = len(self.data)
        return chunk


def _text(data: bytes, max_chars: int) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _CorruptError("bad UTF-8") from None
    if len(text) > max_chars:
        raise _CorruptError("field too long")
    return text


def _decode_claims(plaintext: bytes) -> LinkClaims:
    reader = _Reader(plaintext)
    flags = reader.raw(1)[0]
    if flags & ~_F_KNOWN:
        raise _CorruptError("unknown flags")
    issued_at = reader.varint(MAX_ISSUED_AT)
    link_index = reader.varint(MAX_LINK_INDEX)
    profile = reader.text(32) or _DEFAULT_PROFILE
    if not _PROFILE_RE.fullmatch(profile):
        raise _CorruptError("bad profile")
    recipient = reader.text(MAX_RECIPIENT_CHARS) if flags & _F_RECIPIENT else None
    message_id = reader.text(MAX_MESSAGE_ID_CHARS) if flags & _F_MESSAGE_ID else None
    blob = reader.rest()
    if flags & _F_DEFLATED:
        blob = _inflate(blob)
    blob_reader = _Reader(blob)
    url = blob_reader.text(MAX_DESTINATION_CHARS)
    display_text = None
    if flags & _F_DISPLAY:
        display_text = _text(blob_reader.rest(), MAX_DISPLAY_TEXT_CHARS)
    elif blob_reader.rest():
        raise _CorruptError("trailing bytes")
    return LinkClaims(
        url=url,
        issued_at=issued_at,
        recipient=recipient,
        message_id=message_id,
        link_index=link_index,
        display_text=display_text,
        profile=profile,
    )


def _inflate(data: bytes) -> bytes:
    unpacker = zlib.decompressobj(-15, _ZDICT)
    try:
        # One byte over the bound: a valid stream always ends within it.
        out = unpacker.decompress(data, _MAX_BLOB_BYTES + 1)
    except zlib.error:
        raise _CorruptError("bad deflate stream") from None
    finished = unpacker.eof and not unpacker.unconsumed_tail and not unpacker.unused_data
    if len(out) > _MAX_BLOB_BYTES or not finished:
        raise _CorruptError("deflate stream too large or truncated")
    return out
