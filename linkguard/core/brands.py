"""An index of protected brand names that finds lookalikes in time independent of its size.

Three lookups, each a dict access per candidate string, never a scan over brands:

* **skeletons** — UTS #39 skeleton of every token → token. A label whose skeleton equals a
  token's, but whose letters differ, is a homoglyph (``pаypal``, ``paypa1``, ``rnicrosoft``).
* **deletion neighbourhood** (the "symmetric delete" idea behind SymSpell): every token and
  every string one deletion away from it → token. Two strings are within Damerau–Levenshtein
  distance 1 exactly when their one-deletion sets meet, so omission, insertion, repetition,
  replacement, bit flips, vowel swaps and transpositions (dnstwist's fuzzers) are all found with
  O(len(label)) lookups, then verified and classified.
* an **Aho–Corasick automaton** of the tokens (pyahocorasick), to find every token inside a
  longer label (combosquats) in one pass over the label, however many tokens there are.

Short tokens get fewer kinds of typo and weaker verdicts (see ``typo_strength``): every
three-letter string is one edit away from hundreds of real names, a four-letter one from
dozens.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ahocorasick

from linkguard.core.catalog import Brand
from linkguard.core.confusables import Confusables
from linkguard.core.memo import Memo
from linkguard.native import optional_module

if TYPE_CHECKING:
    from linkguard.core._nearcore import KeyTable as _KeyTable

# The deletion probe without the deletions (``_nearcore.pyx``), where setup.py built it.
_nearcore = optional_module("linkguard.core._nearcore")

# Neighbouring keys on the QWERTY, QWERTZ (German, Central Europe) and AZERTY (French)
# layouts: dnstwist's "replacement" and "insertion" fuzzers use the same three, and so do the
# fingers of the people we protect.
_KEYBOARDS = (
    ("1234567890-", "qwertyuiop", "asdfghjkl", "zxcvbnm"),
    ("1234567890", "qwertzuiop", "asdfghjkl", "yxcvbnm"),
    ("1234567890", "azertyuiop", "qsdfghjklm", "wxcvbn"),
)
_VOWELS = frozenset("aeiouy")


def _keyboard_neighbours() -> dict[str, frozenset[str]]:
    near: dict[str, set[str]] = {}
    for rows in _KEYBOARDS:
        pos = {ch: (r, c) for r, row in enumerate(rows) for c, ch in enumerate(row)}
        for ch, (r, c) in pos.items():
            near.setdefault(ch, set()).update(
                other for other, (r2, c2) in pos.items()
                if other != ch and abs(r - r2) <= 1 and abs(c - c2) <= 1)
    return {ch: frozenset(others) for ch, others in near.items()}


KEYBOARD_NEAR = _keyboard_neighbours()
# Registered labels looked at per brand: the first domains are the brand's main names; the
# long tail (country variants, CDNs) adds index size, not protection.
_LABELS_PER_BRAND = 8


@dataclass(frozen=True, slots=True)
class TokenHit:
    token: str
    brand: Brand
    kind: str  # exact | homoglyph | omission | insertion | repetition | replacement |
    #            transposition | bitsquatting | vowel-swap | keyboard
    strength: float = 1.0


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
                return "addition" if i == ls - 1 else "insertion"
        return None
    if ls == lt - 1:
        for i in range(lt):
            if token[:i] + token[i + 1:] == seen:
                return "omission"
    return None


LABEL_STRENGTH = 0.6

# Edits that keep a word's shape: a doubled or swapped letter, a neighbouring key, one flipped
# bit, one vowel for another. People misread these even in short names.
SHAPE_KEEPING = frozenset({"repetition", "transposition", "keyboard", "bitsquatting",
                           "vowel-swap"})


def typo_strength(kind: str, token: str, seen: str = "") -> float:
    """The length-aware bound: how strongly one edit of ``token`` still reads as that brand.

    0 means "not a lookalike at all". Every three-letter string is one edit from hundreds of
    real names, a four-letter one from dozens, so short tokens get fewer kinds of edit and
    weaker verdicts (policy multiplies the typo weight by this).
    """
    n = len(token)
    if kind == "addition" and n <= 4:
        # The whole name, then one more character ("hsbc7", "okta1"): the name is intact,
        # so even a short one reads as itself. A warning only.
        return 0.6
    # In a short name, an edit inside it keeps the first and last letters that people read
    # words by ("apol" for aol, "ebby" for ebay); an edit at either end makes a new word
    # ("bing", "ring" from ing; "bay" from ebay) and is not flagged.
    inside = bool(seen) and seen[0] == token[0] and seen[-1] == token[-1]
    if n <= 3:
        return 0.6 if kind == "insertion" and inside else 0.0
    if n == 4:
        if kind in SHAPE_KEEPING or (kind in ("insertion", "omission") and inside):
            return 0.6
        return 0.0
    if n == 5:
        # "phase" is not "chase" (see the six- and seven-letter case below); other edits of a
        # five-letter name warn, as many are ordinary words ("hmall", "youth").
        return 0.0 if kind == "replacement" else 0.6
    if n <= 7 and kind == "replacement":
        # Any letter for any other, in a name this short, is as often another word or brand
        # ("paypay", "goggle"); neighbouring keys, bit flips and vowels still count.
        return 0.0
    return 1.0


class BrandIndex:
    """Protected names, indexed for lookups whose cost does not grow with their number."""

    def __init__(self, brands: Iterable[Brand], confusables: Confusables) -> None:
        self.confusables = confusables
        self.owned: dict[str, Brand] = {}  # registrable domain → brand
        self.tokens: dict[str, Brand] = {}  # distinctive token → brand (for combos too)
        self.names: dict[str, Brand] = {}  # tokens and registered labels → brand (lookalikes)
        self.skeletons: dict[str, str] = {}  # skeleton(name) → name
        self.deletions: dict[str, list[str]] = {}  # token and its 1-deletions → tokens
        self.skeleton_deletions: dict[str, list[str]] = {}  # the same over token skeletons
        # "dh.com" → ("dhl", DHL): short names with a letter dropped, see short_omission.
        self.short_omissions: dict[str, tuple[str, Brand]] = {}
        # "sagawaexp" → ("sagawa-exp", brand): hyphenated registered labels run together.
        self.unhyphenated: dict[str, tuple[str, Brand]] = {}
        # The "is anything near?" probe that settles most lookups. Compiled: a table of the
        # keys' hashes, built on first use, that probes every deletion of a name without
        # making it (``_nearcore``). Otherwise the keys of the two deletion indexes again, as
        # sets: with 100,000 protected names the index holds ~1M keys, and there a set finds
        # a missing key in about half the time a dict does (its open addressing probes
        # neighbouring slots, in one cache line; a dict's probe sequence jumps). Also the
        # longest key of each, since no longer name can be near.
        self._near_tables: dict[str, _KeyTable] = {}
        self._deletion_keys: set[str] = set()
        self._skeleton_deletion_keys: set[str] = set()
        self._longest_key = 0
        self._longest_skeleton_key = 0
        self._long_names: set[str] = set()  # names of 7+ letters (two-letter insertions)
        self._automaton: ahocorasick.Automaton | None = None  # built by _prepare
        # Remembered answers, one memo per kind of lookup (False is a remembered "no hit").
        self._typo_memo: Memo[str, TokenHit | bool] = Memo(100_000)
        self._skeleton_typo_memo: Memo[str, TokenHit | bool] = Memo(100_000)
        for brand in brands:
            self.add(brand)
        self._prepare()

    def _prepare(self) -> None:
        """Build the lookup structures made from all names at once (the token automaton and
        the compiled deletion probes) here, when the index is made at start-up, rather than
        on the first click after it: with 100,000 protected names they take about a second.
        ``add`` drops them; the next lookup that needs one builds it again."""
        self._token_automaton()
        for kind in ("plain", "skeleton", "long"):
            self._near_table(kind)

    def add(self, brand: Brand) -> None:
        self._typo_memo.clear()
        self._skeleton_typo_memo.clear()
        self._near_tables.clear()
        python_probe = _nearcore is None
        for domain in brand.domains:
            self.owned.setdefault(domain, brand)
        for token in brand.tokens:
            if token not in self.tokens:
                self.tokens[token] = brand
                self._automaton = None
        # Misspellings are looked for against the tokens and also against the names the brand
        # registered ("slack" of slack.com, "orange" of orange.fr): "slakc" imitates Slack even
        # though "slack" is too ordinary a word to look for inside other names.
        labels = (d.split(".", 1)[0].replace("-", "") for d in brand.domains[:_LABELS_PER_BRAND])
        for name in (*brand.tokens, *(x for x in labels if len(x) >= 4 and x.isalnum())):
            if name in self.names:
                continue
            self.names[name] = brand
            if len(name) >= 7:
                self._long_names.add(name)
            self.skeletons.setdefault(self.confusables.skeleton(name), name)
            if len(name) >= 3:
                for variant in (name, *_deletions(name)):
                    self.deletions.setdefault(variant, []).append(name)
                    if python_probe:
                        self._deletion_keys.add(variant)
                skeleton = self.confusables.skeleton(name)
                for variant in (skeleton, *_deletions(skeleton)):
                    self.skeleton_deletions.setdefault(variant, []).append(name)
                    if python_probe:
                        self._skeleton_deletion_keys.add(variant)
                self._longest_key = max(self._longest_key, len(name))
                self._longest_skeleton_key = max(self._longest_skeleton_key, len(skeleton))

        for domain in brand.domains[:_LABELS_PER_BRAND]:
            label = domain.partition(".")[0]
            if "-" in label:
                self.unhyphenated.setdefault(label.replace("-", ""), (label, brand))
        # Only the brand's main domain: the name people know and would misread.
        label, _, suffix = brand.domains[0].partition(".") if brand.domains else ("", "", "")
        if 3 <= len(label) <= 4 and label in self.names:
            for variant in _deletions(label):
                if len(variant) >= 2 and _VOWELS.isdisjoint(variant):
                    self.short_omissions.setdefault(f"{variant}.{suffix}", (label, brand))

    def __len__(self) -> int:
        return len(self.tokens)

    def owner_of(self, registrable_domain: str) -> Brand | None:
        return self.owned.get(registrable_domain)

    def short_omission(self, registrable_domain: str) -> TokenHit | None:
        """A three- or four-letter name with one letter dropped, under the brand's own suffix,
        that leaves no vowel: "dh.com" (dhl.com), "hsb.com" (hsbc.com), "kdd.com" (kddi.com).

        The length-aware bound leaves out omissions from short names because the result is
        usually someone else's word or name ("bay" from ebay, "us" from ubs). A string with no
        vowel is neither a word nor a pronounceable name in the languages brands write in, so it
        reads as the acronym it came from. Tied to the suffix, the set of names this can ever
        flag is small and known in advance: at most four per short brand."""
        found = self.short_omissions.get(registrable_domain)
        if found is None:
            return None
        label, brand = found
        return TokenHit(label, brand, "omission", LABEL_STRENGTH)

    def unhyphenated_label(self, plain: str) -> TokenHit | None:
        """``plain`` is a brand's hyphenated registered label with its hyphens dropped or moved
        ("sagawaexp" for sagawa-exp.co.jp, "glsgroup" for gls-group.eu): one edit of a name
        that is not a mere word, as hyphenated names never are."""
        found = self.unhyphenated.get(plain)
        if found is None:
            return None
        label, brand = found
        return TokenHit(label, brand, "hyphenation", LABEL_STRENGTH)

    def exact(self, text: str) -> TokenHit | None:
        brand = self.tokens.get(text)
        return TokenHit(text, brand, "exact") if brand else None

    def homoglyph(self, text: str) -> TokenHit | None:
        """``text`` looks like a token (same UTS #39 skeleton) but is not it."""
        token = self.skeletons.get(self.confusables.skeleton(text))
        if token is None or token == text:
            return None
        return TokenHit(token, self.names[token], "homoglyph")

    def typo(self, text: str, *, skeletons: bool = False) -> TokenHit | None:
        """``text`` is one allowed edit away from a token (or, with ``skeletons``, the skeleton
        ``text`` is one edit away from a token's skeleton)."""
        if len(text) < 3 or len(text) > 64:
            return None
        memo = self._skeleton_typo_memo if skeletons else self._typo_memo
        found = memo.get(text)
        if found is None:
            found = memo.put(text, self._typo(text, skeletons) or False)
        return found if isinstance(found, TokenHit) else None

    def _typo(self, text: str, skeletons: bool) -> TokenHit | None:
        if skeletons:
            index, keys, longest = (self.skeleton_deletions, self._skeleton_deletion_keys,
                                    self._longest_skeleton_key)
        else:
            index, keys, longest = self.deletions, self._deletion_keys, self._longest_key
        if not skeletons and len(text) >= 9 and len(text) - 2 <= self._longest_key:
            # Two letters slipped in together ("microsesoft", "paypalls"): dnstwist's plural
            # fuzzer does this, and in a long name it still reads as the brand.
            long_names = self._near_table("long")
            pairs = long_names.pairs(text) if long_names is not None else None
            if pairs is None:
                pairs = [text[:i] + text[i + 2:] for i in range(1, len(text) - 1)]
            if not self._long_names.isdisjoint(pairs):
                for name in pairs:
                    if name in self._long_names:
                        return TokenHit(name, self.names[name], "insertion2",
                                        1.0 if name in self.tokens else LABEL_STRENGTH)
        if len(text) > longest + 1:
            return None  # text and its deletions are all longer than every key
        # Most names are one edit from no protected name at all: one probe of every variant
        # settles that, in C either way (the table's, or a set's isdisjoint walking the small
        # set) without a Python loop.
        table = self._near_table("skeleton" if skeletons else "plain")
        near = table.near(text) if table is not None else None
        if near is not None:
            if not near:
                return None
            variants: Iterable[str] = near
        else:
            every = _deletions(text)
            every.add(text)
            if (keys or index.keys()).isdisjoint(every):
                return None
            variants = every
        candidates: list[str] = []
        for variant in variants:
            candidates.extend(index.get(variant, ()))
        best: TokenHit | None = None
        best_strength = 0.0
        for token in dict.fromkeys(candidates):
            target = self.confusables.skeleton(token) if skeletons else token
            if target == text:
                continue
            kind = typo_kind(text, target)
            if kind is None:
                continue
            # Near a brand's skeleton, a label that already uses look-alike characters is an
            # impersonation whatever the edit: only the shortest names are spared.
            strength = (1.0 if len(token) >= 4 else 0.0) if skeletons else typo_strength(
                kind, token, text)
            if token not in self.tokens:
                # A registered label that is an ordinary word ("slack", "orange"): a misspelling
                # of it is worth a warning, not more.
                strength = min(strength, LABEL_STRENGTH)
            brand = self.names[token]
            if strength > best_strength or (strength == best_strength and best is not None
                                            and _preferred(token, brand, best)):
                best, best_strength = TokenHit(token, brand, kind, strength), strength
        return best

    def _near_table(self, kind: str) -> _KeyTable | None:
        """The compiled probe of the "plain" or "skeleton" deletion keys or of the "long"
        names, made on first use after the last ``add`` (None in the plain build)."""
        if _nearcore is None:
            return None
        table = self._near_tables.get(kind)
        if table is None:
            keys = (self.deletions if kind == "plain" else self.skeleton_deletions
                    if kind == "skeleton" else self._long_names)
            table = self._near_tables[kind] = _nearcore.KeyTable(keys)
        return table

    def find_inside(self, text: str) -> list[tuple[int, str]]:
        """(position, token) of every token occurring inside ``text``."""
        automaton = self._token_automaton()
        if automaton is None:
            return []
        return [(end - len(token) + 1, token) for end, token in automaton.iter(text)]

    def _token_automaton(self) -> ahocorasick.Automaton | None:
        """The Aho–Corasick automaton of the tokens (None without tokens)."""
        if self._automaton is None and self.tokens:
            automaton = ahocorasick.Automaton()
            for token in self.tokens:
                automaton.add_word(token, token)
            automaton.make_automaton()
            self._automaton = automaton
        return self._automaton


def _preferred(token: str, brand: Brand, best: TokenHit) -> bool:
    """Between two equally strong candidates: the longer name, then the brand (and name)
    first in alphabetical order, so the answer does not depend on the order candidates were
    met in (which follows string hashes, different in every process)."""
    if len(token) != len(best.token):
        return len(token) > len(best.token)
    return (brand.name, token) < (best.brand.name, best.token)


def _deletions(text: str) -> set[str]:
    return {text[:i] + text[i + 1:] for i in range(len(text))}
