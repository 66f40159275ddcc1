"""UTS #39 skeletons: the string two visually confusable strings both reduce to.

Unicode Technical Standard #39 §4 defines ``skeleton(X)``: NFD, replace every character by its
prototype from ``confusables.txt``, NFD again. Two strings are confusable when their skeletons
are equal. The data file ships with the package (``linkguard/data/unicode/confusables.txt``,
version in its header); ``parse_confusables`` reads any newer release in the same format.

Two additions for host names, both applied to every string compared: combining marks are
dropped (an accent does not stop ``pàypal`` reading as ``paypal``), and UTS #39 deliberately
leaves out a few ASCII pairs that fool people in a lower-case host name
(``vv``/``w``, ``cl``/``d``): ``ASCII_LOOKALIKES`` adds them, applied to both sides after the
skeleton, so the relation stays symmetric.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from linkguard.core.memo import Memo

ASCII_LOOKALIKES: tuple[tuple[str, str], ...] = (("vv", "w"), ("cl", "d"))

# Latin letters that read as a plain ASCII letter in a lower-case host name but neither decompose
# under NFD nor map in confusables.txt: small capitals (ᴍ, ʀ, ɢ), letters with hooks, strokes
# and tails (ƈ, ɨ, ƫ, ɽ), kra (ĸ). Derived from the Unicode character names of the Latin blocks,
# so the table follows the Unicode version of the running Python.
_LATIN_BLOCKS = ((0x0180, 0x0250), (0x0250, 0x02B0), (0x1D00, 0x1DC0), (0x1E00, 0x1F00),
                 (0x2C60, 0x2C80), (0xA720, 0xA800), (0xAB30, 0xAB70))
_LATIN_NAME = re.compile(
    r"^LATIN (?:SMALL |CAPITAL )?LETTER (?:SMALL CAPITAL )?([A-Z])(?: WITH .*)?$")


def _latin_base_letters() -> dict[int, str]:
    table: dict[int, str] = {}
    for start, end in _LATIN_BLOCKS:
        for code in range(start, end):
            match = _LATIN_NAME.match(unicodedata.name(chr(code), ""))
            if match:
                table[code] = match.group(1).lower()
    table[0x0138] = "k"  # LATIN SMALL LETTER KRA: a small capital K in all but name
    table[0x028D] = "m"  # LATIN SMALL LETTER TURNED W: the prototype of Cyrillic м
    table[0x0185] = "b"  # LATIN SMALL LETTER TONE SIX: the prototype of Cyrillic ь
    table[0x0184] = "b"
    return table


LATIN_BASE = _latin_base_letters()

_VERSION = re.compile(r"^#\s*Version:\s*(\S+)", re.MULTILINE)


class ConfusablesError(ValueError):
    """The confusables data file is not in the UTS #39 format."""


class Confusables:
    """The prototype table of one ``confusables.txt`` release."""

    __slots__ = ("_ascii", "_memo", "prototypes", "version")

    def __init__(self, version: str, prototypes: Mapping[str, str]) -> None:
        self.version = version
        self.prototypes = dict(prototypes)
        # ASCII fast path: most hosts are ASCII, and str.translate beats a per-char loop.
        self._ascii = str.maketrans({ch: p for ch, p in self.prototypes.items() if ch.isascii()})
        self._memo: Memo[str, str] = Memo(200_000)

    def skeleton(self, text: str) -> str:
        """UTS #39 skeleton of ``text``, folded to lower case for host-name comparison."""
        found = self._memo.get(text)
        if found is None:
            found = self._memo.put(text, self._skeleton(text))
        return found

    def _skeleton(self, text: str) -> str:
        if text.isascii():
            mapped = text.translate(self._ascii)
        else:
            decomposed = unicodedata.normalize("NFD", text).translate(LATIN_BASE)
            mapped = "".join(self.prototypes.get(ch, ch) for ch in decomposed)
            # Beyond UTS #39: drop combining marks. In a host name "pàypal" and "paypal"
            # read the same to a person (the skeleton keeps accents apart on purpose).
            mapped = "".join(ch for ch in unicodedata.normalize("NFD", mapped)
                             if not unicodedata.combining(ch)).translate(LATIN_BASE)
            # Letters that became ASCII only now (Cyrillic м → ʍ → m) take their ASCII
            # prototype too, so the skeleton of "мх" equals that of "mx".
            mapped = mapped.translate(self._ascii)
        folded = mapped.lower()
        for seq, proto in ASCII_LOOKALIKES:
            if seq in folded:
                folded = folded.replace(seq, proto)
        return folded


def parse_confusables(text: str) -> Confusables:
    """Read ``confusables.txt`` (UTS #39 §4 data format: ``source ; target ; type # comment``)."""
    version_match = _VERSION.search(text[:2000])
    prototypes: dict[str, str] = {}
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        fields = [f.strip() for f in body.split(";")]
        if len(fields) < 2:
            raise ConfusablesError(f"line {number}: expected 'source ; target ; type'")
        try:
            source = "".join(chr(int(cp, 16)) for cp in fields[0].split())
            target = "".join(chr(int(cp, 16)) for cp in fields[1].split())
        except ValueError as exc:
            raise ConfusablesError(f"line {number}: bad code point ({exc})") from None
        if len(source) == 1:
            prototypes[source] = target
    if not prototypes:
        raise ConfusablesError("no mappings found")
    return Confusables(version_match.group(1) if version_match else "unknown", prototypes)
