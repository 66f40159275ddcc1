"""Lookalikes of protected brands and of the organisation's own domains.

What is compared is the *registered* label (``paypa1`` in ``www.paypa1.co.uk``) and, separately,
the labels in front of it and the userinfo, because that is what a person reads. Kinds, in the
order they are tried (the first that fits wins for a given string):

* homoglyph — same UTS #39 skeleton, different characters (``pаypal``, ``paypa1``,
  ``rnicrosoft``); an internationalised label near a brand also counts as one;
* typo — one edit (dnstwist's omission, insertion, repetition, replacement, transposition,
  bitsquatting, vowel swap, hyphenation, plural, TLD swap), bounded by token length;
* combo — the brand plus other words (``paypal-secure-login``, ``appleidverify``);
* brand_subdomain — the brand or its domain in front of an unrelated registrable domain
  (``paypal.com.account-verify.xyz``) or in the userinfo (``https://paypal.com@evil.example``).

A brand's own domains and all their subdomains are never flagged, and a brand token inside an
ordinary word (``applebees``, ``pineapple``) is not a combosquat unless the rest of the label is
made of words phishing uses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import lru_cache

from linkguard.core.brands import BrandIndex, TokenHit
from linkguard.core.checks.content import word_automaton
from linkguard.core.checks.structure import PlatformIndex
from linkguard.core.memo import Memo
from linkguard.core.model import Facts, LinkContext, Signal
from linkguard.core.url import HostKind, ParsedUrl, host_to_unicode

# Host labels that name a service, not a site; a lone one in front says nothing.
_SERVICE_LABELS = frozenset({"www", "www2", "m", "mail", "web", "app", "api", "cdn", "static",
                             "img", "images", "blog", "shop", "store", "news", "en", "de"})
MEMO_SIZE = 100_000  # hosts remembered; a few hundred bytes each
_HYPHENS = re.compile(r"[-_]+")
_DIGITS = re.compile(r"[0-9]+")

# Words that glue a brand to a lure without being lures themselves ("my-paypal-id-online").
GLUE_WORDS = frozenset({
    "my", "the", "id", "app", "apps", "web", "www", "online", "official", "team", "us", "uk",
    "en", "int", "inc", "co", "mobile", "center", "centre", "portal", "page", "site", "net",
    "com", "org", "info", "go", "get", "new", "now", "to", "and", "of", "for",
    "your", "in", "on", "at", "is", "it", "de", "fr", "es", "ca", "au", "jp", "cn", "ru", "br",
    "intl", "global", "world", "group", "hq", "corp", "ltd", "llc", "plc", "sa", "ag", "gmbh",
})

# Scripts a single label may legitimately mix (UTS #39 §5.2 "Highly Restrictive"): Latin with
# the scripts of Japanese, Chinese and Korean writing.
_ALLOWED_SCRIPT_SETS = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)


@lru_cache(maxsize=4096)
def _script(ch: str) -> str:
    if ch.isascii():
        return "LATIN" if ch.isalpha() else "COMMON"
    name = unicodedata.name(ch, "")
    if not name or not ch.isalpha():
        return "COMMON"
    first = name.split(" ", 1)[0]
    return "CJK" if first in ("CJK", "IDEOGRAPHIC") else first


def scripts_of(label: str) -> frozenset[str]:
    return frozenset(s for s in map(_script, label) if s != "COMMON")


class LookalikeCheck:
    name = "lookalike"

    def __init__(self, brands: BrandIndex, lure_words: frozenset[str],
                 platforms: PlatformIndex | None = None) -> None:
        self.brands = brands
        self.platforms = platforms
        # Keyed by the host, or by host and userinfo when the URL has any.
        self._memo: Memo[str | tuple[str, str, str], tuple[Signal, ...]] = Memo(MEMO_SIZE)
        self.lures = lure_words
        self.words = lure_words | GLUE_WORDS
        self.skeleton_words = frozenset(brands.confusables.skeleton(w) for w in self.words)
        self._word_automaton = word_automaton(self.words)
        self._skeleton_word_automaton = word_automaton(self.skeleton_words)
        self._long_lures = tuple(w for w in lure_words if len(w) >= 4)

    def run(self, url: ParsedUrl, context: LinkContext, facts: Facts,
            now: datetime) -> Iterable[Signal]:
        # Everything here depends on the host and userinfo only, and mail links repeat hosts
        # far more than they repeat URLs: remember the answer per host.
        key = (url.host, url.username, url.password) if url.username or url.password \
            else url.host
        found = self._memo.get(key)
        if found is None:
            found = self._memo.put(key, tuple(self._run(url)))
        return found

    def _run(self, url: ParsedUrl) -> Iterator[Signal]:
        """Signals from the host and userinfo alone (the memo relies on that)."""
        if url.host_kind is not HostKind.DOMAIN:
            if url.has_userinfo:
                yield from self._userinfo(url)
            return
        if self.brands.owner_of(url.registrable_domain) is not None:
            # A brand's own domain, or any subdomain of it — unless the brand lets anyone
            # publish there (paypal-billing.sharepoint.com): then the part its users chose
            # is read like any other name in front of a domain.
            hosted = self.platforms.find_host(url.host) if self.platforms else None
            if hosted is not None:
                yield from self._in_front(url)
            return
        label = url.domain_label_unicode
        if label:
            if not label.isascii() or label.startswith("xn--"):
                yield from self._idn(label, url)  # (silent on any other ASCII label)
            signal = self._registered_label(label, url)
            if signal is not None:
                yield signal
        if url.subdomain and url.subdomain not in _SERVICE_LABELS:
            # (_in_front's own first test, asked here to skip a generator for most hosts)
            yield from self._in_front(url)
        if url.has_userinfo:
            yield from self._userinfo(url)

    # --- the registered label -------------------------------------------------------------

    def _registered_label(self, label: str, url: ParsedUrl) -> Signal | None:
        is_idn = not label.isascii()
        plain = label.replace("-", "")
        evidence: dict[str, str | int | float | bool] = {
            "domain": url.registrable_domain_unicode or url.registrable_domain}
        hit = self.brands.exact(plain)
        if hit is not None and not is_idn:
            # The brand's very name on a domain it does not own: another TLD, or hyphenated.
            kind = "hyphenation" if "-" in label else "tld-swap"
            return _signal("lookalike.typo", hit, evidence, kind, _exact_strength(hit.token))
        hit = self.brands.homoglyph(plain)
        if hit is not None:
            return _signal("lookalike.homoglyph", hit, evidence, "skeleton", 1.0)
        hit = self.brands.typo(plain)
        if hit is not None:
            if is_idn:
                return _signal("lookalike.homoglyph", hit, evidence, f"idn+{hit.kind}", 1.0)
            return _signal("lookalike.typo", hit, evidence, hit.kind, hit.strength)
        skeleton = self.brands.confusables.skeleton(plain)
        hit = self.brands.typo(skeleton, skeletons=True) if _disguised(plain, skeleton) else None
        if hit is not None:
            return _signal("lookalike.homoglyph", hit, evidence, f"skeleton+{hit.kind}", 1.0)
        if not is_idn:
            hit = self.brands.unhyphenated_label(plain)
            if hit is not None:
                kind = "hyphenation" if label != hit.token else "tld-swap"
                return _signal("lookalike.typo", hit, evidence, kind, hit.strength)
            hit = self.brands.short_omission(url.registrable_domain)
            if hit is not None:
                return _signal("lookalike.typo", hit, evidence, hit.kind, hit.strength)
        return self._combo(label, evidence)

    def _combo(self, label: str, evidence: dict[str, str | int | float | bool]) -> Signal | None:
        segments = self._segments(label)
        if not segments:
            return None
        skeleton = self.brands.confusables.skeleton
        best: Signal | None = None
        for i, seg in enumerate(segments):
            others = segments[:i] + segments[i + 1:]
            # A label of one word was read whole above (exact, homoglyph, typo): only look
            # for a brand among several words, or inside the one word.
            hit = self._segment_hit(seg, skeleton(seg)) if len(segments) > 1 else None
            if hit is not None:
                others_are_words = all(self._is_words(o) for o in others)
                # The brand as a word of its own beside other words ("paypal-refunds"): a long
                # name reads as the brand whatever the other words are; a short one needs
                # lure words around it ("dhl-tracking", not "dhl-history").
                if others_are_words:
                    strength, kind = (1.0 if len(hit.token) >= 4 else 0.8), "delimited+lure"
                else:
                    # Fan sites, resellers and partners write brands this way too
                    # ("whats-on-netflix"): a warning, not a confirmation.
                    strength = 0.6 if len(hit.token) >= 4 else 0.4
                    kind = "delimited"
                best = _stronger(best, _signal("lookalike.combo", hit, evidence, kind, strength))
                continue
            sk = skeleton(seg)
            for text, in_skeleton in ((seg, False), (sk, True)):
                if in_skeleton and (not _disguised(seg, sk) or best is not None):
                    break
                inside = self.brands.find_inside(text)
                if not inside:
                    continue
                others_are_words = all(self._is_words(o) for o in others)
                for position, token in inside:
                    if len(token) <= 3:
                        continue  # three letters inside a word are a coincidence ("usccb")
                    left, right = text[:position], text[position + len(token):]
                    hit = TokenHit(token, self.brands.tokens[token], "inside")
                    rest_ok = self._is_words(left, in_skeleton) and self._is_words(
                        right, in_skeleton)
                    if rest_ok and len(token) == 4 and not self._has_lure(left + right):
                        rest_ok = False  # four letters need a real lure beside them
                    if rest_ok and others_are_words:
                        best = _stronger(best, _signal("lookalike.combo", hit, evidence,
                                                       "inside+lure", 1.0))
                    elif rest_ok or len(token) >= 7:
                        # A long brand name inside other letters ("netflixfans"): weak alone.
                        best = _stronger(best, _signal("lookalike.combo", hit, evidence,
                                                       "inside", 0.4))
        return best

    def _segments(self, label: str) -> list[str]:
        """Words of a label: split at hyphens, and at digits unless the digits are look-alike
        letters of a brand ("paypa1-login" → paypa1, login; "paypal2024" → paypal)."""
        out: list[str] = []
        for part in _HYPHENS.split(label):
            if not part:
                continue
            if part.isalpha() or self.brands.homoglyph(part) is not None or (
                    len(part) >= 5 and self.brands.typo(
                        self.brands.confusables.skeleton(part), skeletons=True)):
                out.append(part)
            else:
                out.extend(p for p in _DIGITS.split(part) if p)
        return out

    def _segment_hit(self, seg: str, skeleton: str) -> TokenHit | None:
        hit = self.brands.exact(seg) or self.brands.homoglyph(seg)
        if hit is None and len(seg) >= 5 and _disguised(seg, skeleton):
            # Look-alike characters and one slip together ("netfl1x": 1 for i).
            hit = self.brands.typo(skeleton, skeletons=True)
        if hit is None and len(seg) >= 7:
            # A misspelt brand beside other words ("paypall-login"), for long distinctive
            # tokens only: a short word one edit from a brand is usually just a word.
            typo = self.brands.typo(seg) or self.brands.typo(skeleton, skeletons=True)
            if typo is not None and typo.token in self.brands.tokens and len(typo.token) >= 7 \
                    and typo.strength >= 1.0:
                hit = typo
        return hit

    def _has_lure(self, text: str) -> bool:
        return any(w in text for w in self._long_lures)

    def _is_words(self, text: str, in_skeleton: bool = False) -> bool:
        """``text`` splits entirely into lure and glue words (dynamic programming).

        ``reachable[i]``: the first ``i`` characters split into words. The automaton reports
        every word occurrence in order of where it ends, so each occurrence extends a split
        that is already settled (one pass in C, however many words there are)."""
        n = len(text)
        if n == 0 or n > 60:
            return n == 0
        automaton = self._skeleton_word_automaton if in_skeleton else self._word_automaton
        if automaton is None:
            return False
        reachable = [True] + [False] * n
        for end, word in automaton.iter(text):
            if reachable[end + 1 - len(word)]:
                reachable[end + 1] = True
        return reachable[n]

    # --- labels in front of the registered domain, and userinfo ---------------------------

    def _in_front(self, url: ParsedUrl) -> Iterator[Signal]:
        labels = url.subdomain_labels
        if not labels or (len(labels) == 1 and labels[0] in _SERVICE_LABELS):
            return  # "www.example.com": nothing in front but the usual
        unicode_labels = host_to_unicode(url.subdomain).split(".")
        evidence: dict[str, str | int | float | bool] = {
            "domain": url.registrable_domain_unicode or url.registrable_domain,
            "host": url.host_unicode}
        # A brand's full domain inside the host: ``paypal.com.account-verify.xyz``.
        host_labels = [*labels, *url.registrable_domain.split(".")]
        for start in range(len(labels)):
            for end in range(start + 2, min(start + 4, len(host_labels)) + 1):
                candidate = ".".join(host_labels[start:end])
                brand = self.brands.owned.get(candidate)
                if brand is not None and end <= len(labels) + 1:
                    token = brand.tokens[0] if brand.tokens else candidate
                    yield _signal("lookalike.brand_subdomain",
                                  TokenHit(token, brand, "domain"), evidence, "brand-domain", 1.0)
                    return
        # dnstwist's "subdomain" fuzzer: the brand split by a dot (``pay.pal.com``).
        joined = "".join([*unicode_labels, url.domain_label_unicode]).replace("-", "")
        if joined in self.brands.names:
            name = joined
            strength = 1.0 if name in self.brands.tokens and len(name) >= 5 else 0.6
            yield _signal("lookalike.typo", TokenHit(name, self.brands.names[name], "split"),
                          evidence, "subdomain-split", strength)
            return
        hit = self.brands.homoglyph(joined)
        if hit is not None and len(hit.token) >= 4:
            yield _signal("lookalike.homoglyph", hit, evidence, "subdomain-split", 1.0)
            return
        for label in unicode_labels:
            segments = self._segments(label)
            for seg in segments:
                hit = self.brands.exact(seg) or self.brands.homoglyph(seg)
                if hit is None:
                    continue
                if len(hit.token) <= 3 and len(segments) > 1:
                    continue  # "ups-" in a long label is too weak a reading
                yield _signal("lookalike.brand_subdomain", hit, evidence,
                              "brand-label", 1.0 if len(hit.token) >= 4 else 0.7)
                return
        # Weaker readings, only for long names: a misspelt brand ("loydsbank.co.uk-gb…") or
        # a brand run together with other letters ("suspfacebookcom-9208.example.ca").
        for label in unicode_labels:
            for seg in (s for s in self._segments(label) if len(s) >= 6):
                hit = self.brands.typo(seg)
                if hit is not None and hit.strength >= 1.0 and len(hit.token) >= 6:
                    yield _signal("lookalike.brand_subdomain", hit, evidence, "brand-typo", 1.0)
                    return
                for _, token in self.brands.find_inside(seg):
                    if len(token) >= 6 and token != seg:
                        hit = TokenHit(token, self.brands.tokens[token], "inside")
                        yield _signal("lookalike.brand_subdomain", hit, evidence,
                                      "brand-inside", 0.7)
                        return

    def _userinfo(self, url: ParsedUrl) -> Iterator[Signal]:
        # Userinfo has no length limit of its own; what a person reads is its start.
        text = (url.username + " " + url.password).lower()[:256]
        for piece in re.split(r"[^a-z0-9-]+", text):
            for seg in self._segments(piece):
                hit = self.brands.exact(seg) or self.brands.homoglyph(seg)
                if hit is not None:
                    yield _signal("lookalike.brand_subdomain", hit,
                                  {"userinfo": text.strip()[:100], "host": url.host},
                                  "userinfo", 1.0)
                    return

    # --- internationalised labels ---------------------------------------------------------

    def _idn(self, label: str, url: ParsedUrl) -> Iterator[Signal]:
        if label.isascii():
            if label.startswith("xn--"):
                yield Signal("idn.invalid", {"label": label})
            return
        scripts = scripts_of(label)
        if len(scripts) > 1 and not any(scripts <= allowed for allowed in _ALLOWED_SCRIPT_SETS):
            yield Signal("idn.mixed_script", {"label": label, "scripts": ",".join(sorted(scripts))})
        elif scripts and "LATIN" not in scripts:
            skeleton = self.brands.confusables.skeleton(label)
            if skeleton.replace("-", "").isascii() and skeleton != label and (
                    url.suffix.isascii()):
                # Whole-script confusable (UTS #39 §4): every letter looks Latin, under an
                # ASCII TLD — "аррӏе.com" written entirely in Cyrillic.
                yield Signal("idn.mixed_script", {"label": label, "looks_like": skeleton,
                                                  "scripts": ",".join(sorted(scripts))})


def _signal(code: str, hit: TokenHit, evidence: dict[str, str | int | float | bool],
            kind: str, strength: float) -> Signal:
    return Signal(code, {**evidence, "brand": hit.brand.name, "imitates": hit.token,
                         "kind": kind}, strength)


def _disguised(text: str, skeleton: str) -> bool:
    """Whether ``text`` uses look-alike characters at all. Every "m" has the skeleton "rn",
    so that alone does not count: the skeleton path would only repeat the plain one."""
    return skeleton != text and skeleton != text.replace("m", "rn")


def _exact_strength(token: str) -> float:
    # The exact name under another TLD or with a hyphen: a warning. Brands own many such
    # names this list cannot know (yahoo.jp, alibaba.ir), and others legitimately own the
    # rest (telegram.com is a newspaper); the page's other signals decide the rest.
    del token
    return 0.6


def _stronger(a: Signal | None, b: Signal) -> Signal:
    return b if a is None or b.strength > a.strength else a
