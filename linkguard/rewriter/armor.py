"""Inline PGP armor (RFC 4880 §6.2, §7): text a signature covers or a ciphertext, left as is.

A clear-signed block runs from ``-----BEGIN PGP SIGNED MESSAGE-----`` to the end of its
signature block; changing one character of the text between breaks the signature. Other armored
blocks (MESSAGE, PUBLIC KEY BLOCK …) run to their own END line. A block that never ends is taken
to run to the end of the part: when in doubt, leave it.
"""

from __future__ import annotations

import re

from linkguard.rewriter.links import Regions

_BEGIN = re.compile(r"^-----BEGIN PGP ([A-Z ,0-9/]+)-----[ \t]*\r?$", re.MULTILINE)


def armor_regions(text: str) -> Regions:
    if "-----BEGIN PGP " not in text:
        return Regions()
    spans: list[tuple[int, int]] = []
    pos = 0
    while (m := _BEGIN.search(text, pos)) is not None:
        kind = m.group(1)
        label = "SIGNATURE" if kind == "SIGNED MESSAGE" else kind
        end_line = re.compile(rf"^-----END PGP {re.escape(label)}-----[^\n]*", re.MULTILINE)
        e = end_line.search(text, m.end())
        end = len(text) if e is None else e.end()
        spans.append((m.start(), end))
        pos = end
        if end >= len(text):
            break
    return Regions(spans)
