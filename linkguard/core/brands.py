"""An index of protected brand names that finds lookalikes in time independent of its size.

Three lookups, each a dict access per candidate string, never a scan over brands:

* **skeletons** — UTS #39 skeleton of every token → token. A label whose skeleton equals a
  token's, but whose letters differ, is a homoglyph (``pаypal``, ``paypa1``, ``rnicrosoft``).
* **deletion neighbourhood** (the "symmetric delete" idea behind SymSpell): every token and
  every string one deletion away from it → token. Two strings are within Damerau–Levenshtein
  distance 1 exactly when their one-deletion sets meet, so omission, insertion, repetition,
  replacement, bit flips, vowel swaps and transpositions (dnstwist's fuzzers) are all found with
  O(len(label)) lookups, then verified and classified.
* **3-character prefixes** of tokens, to find a token inside a longer label (combosquats)
  with one lookup per position.

Short tokens get fewer kinds of typo (see ``typo_allowed``): every three-letter string is
one edit away from hundreds of real names, and a four-letter one from dozens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from linkguard.core.catalog import Brand
from linkguard.core.confusables import Confusables

# QWERTY neighbours: dnstwist's "replacement" and "insertion" fuzzers use these, and so do
# people's fingers.
_KEYBOARD_ROWS = ("1234567890-", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_VOWELS = frozenset("aeiouy")


def _keyboard_neighbours() -> dict[str, frozenset[str]]:
    pos = {ch: (r, c) for r, row in enumerate(_KEYBOARD_ROWS) for c, ch in enumerate(row)}
    near: dict[str, frozenset[str]] = {}
    for ch, (r, c) in pos.items():
        near[ch] = frozenset(
            other for other, (r2, c2) in pos.items()
            if other != ch and abs(r - r2) <= 1 and abs(c - c2) <= 1)
    return near


KEYBOARD_NEAR = _keyboard_neighbours()


@dataclass(frozen=True, slots=True)
class TokenHit:
    token: str
    brand: Brand
    kind: str  # exact | homoglyph | omission | insertion | repetition | replacement |
    #            transposition | bitsquatting | vowel-swap | keyboard


def typo_kind(seen: str, token: str) -> str | None:
    """Classify ``seen`` as one edit away from ``token``, or None if it is not."""
    ls, lt = len(seen), len(token)
    if ls == lt:
        diffs = [i for i in range(ls) if seen[i] != token[i]]
        if len(diffs) == 1:
            a, b = token[diffs[0]], seen[diffs[0]]
            if a in _VOWELS and b in _VOWELS:
                return "vowel-swap"
            if b in KEYBOARD_NEAR.get(a, ()):
                return "keyboard"
            if bin(ord(a) ^ ord(b)).count("1") == 1:
                return "bitsquatting"
            return "replacement"
        if (len(diffs) == 2 and diffs[1] == diffs[0] + 1
                and seen[diffs[0]] == token[diffs[1]] and seen[diffs[1]] == token[diffs[0]]):
            return "transposition"
        return None
    if ls == lt + 1:
        for i in range(ls):
            if seen[:i] + seen[i + 1:] == token:
                if (i > 0 and seen[i] == seen[i - 1]) or (i + 1 < ls and seen[i] == seen[i + 1]):
                    return "repetition"
                return "insertion"
        return None
    if ls == lt - 1:
        for i in range(lt):
            if token[:i] + token[i + 1:] == seen:
                return "omission"
    return None


def typo_allowed(kind: str, token: str, seen: str) -> bool:
    """The length-aware bound: which edits of a short token still read as that brand."""
    n = len(token)
    if n <= 3:
        return False
    if n == 4:
        # Four letters: only edits that keep the word's shape — a doubled or transposed
        # letter, or a neighbouring key / single bit in place of one letter.
        return kind in ("repetition", "transposition", "keyboard", "bitsquatting", "vowel-swap")
    if n == 5:
        if kind == "insertion":
            # An inserted letter reads as the brand only beside a key it could be hit with.
            return any(
                seen[i] in KEYBOARD_NEAR.get(seen[i - 1], frozenset()) | KEYBOARD_NEAR.get(
                    seen[i + 1] if i + 1 < len(seen) else "", frozenset())
                for i in range(1, len(seen))
                if seen[:i] + seen[i + 1:] == token)
        return kind != "replacement"
    return True


def typo_strength(token: str) -> float:
    """How strongly a typo of ``token`` suggests impersonation (policy multiplies its weight)."""
    n = len(token)
    if n >= 6:
        return 1.0
    if n == 5:
        return 0.8
    return 0.6


class BrandIndex:
    """Protected names, indexed for lookups whose cost does not grow with their number."""

    def __init__(self, brands: Iterable[Brand], confusables: Confusables) -> None:
        self.confusables = confusables
        self.owned: dict[str, Brand] = {}  # registrable domain → brand
        self.tokens: dict[str, Brand] = {}  # token → brand
        self.skeletons: dict[str, str] = {}  # skeleton(token) → token
        self.deletions: dict[str, list[str]] = {}  # token and its 1-deletions → tokens
        self.prefix3: dict[str, list[str]] = {}  # first 3 chars → tokens
        self.domain_labels: dict[str, Brand] = {}  # "paypal.com" style full domains
        for brand in brands:
            self.add(brand)

    def add(self, brand: Brand) -> None:
        for domain in brand.domains:
            self.owned.setdefault(domain, brand)
            self.domain_labels.setdefault(domain, brand)
        for token in brand.tokens:
            if token in self.tokens:
                continue
            self.tokens[token] = brand
            self.skeletons.setdefault(self.confusables.skeleton(token), token)
            self.prefix3.setdefault(token[:3], []).append(token)
            if len(token) >= 4:
                for variant in (token, *_deletions(token)):
                    self.deletions.setdefault(variant, []).append(token)

    def __len__(self) -> int:
        return len(self.tokens)

    def owner_of(self, registrable_domain: str) -> Brand | None:
        return self.owned.get(registrable_domain)

    def exact(self, text: str) -> TokenHit | None:
        brand = self.tokens.get(text)
        return TokenHit(text, brand, "exact") if brand else None

    def homoglyph(self, text: str) -> TokenHit | None:
        """``text`` looks like a token (same UTS #39 skeleton) but is not it."""
        token = self.skeletons.get(self.confusables.skeleton(text))
        if token is None or token == text:
            return None
        return TokenHit(token, self.tokens[token], "homoglyph")

    def typo(self, text: str) -> TokenHit | None:
        """``text`` is one allowed edit away from a token."""
        if len(text) < 3 or len(text) > 64:
            return None
        candidates: list[str] = []
        for variant in (text, *_deletions(text)):
            candidates.extend(self.deletions.get(variant, ()))
        best: TokenHit | None = None
        for token in dict.fromkeys(candidates):
            if token == text:
                continue
            kind = typo_kind(text, token)
            if kind and typo_allowed(kind, token, text) and (
                    best is None or len(token) > len(best.token)):
                best = TokenHit(token, self.tokens[token], kind)
        return best

    def find_inside(self, text: str) -> list[tuple[int, str]]:
        """(position, token) of every token occurring inside ``text``."""
        found = []
        for i in range(len(text) - 2):
            for token in self.prefix3.get(text[i:i + 3], ()):
                if text.startswith(token, i):
                    found.append((i, token))
        return found


def _deletions(text: str) -> set[str]:
    return {text[:i] + text[i + 1:] for i in range(len(text))}
