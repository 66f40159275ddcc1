"""Find the URLs a mail client would make clickable in plain text.

Mail clients linkify ``http://`` and ``https://`` URLs, the same inside angle brackets
(RFC 3986 Appendix C: "<http://…>" delimits a URI in text) and bare ``www.`` host names, which
they open as ``http://www.…``. Where a URL ends follows what the common linkifiers (Thunderbird,
Gmail, GitHub's autolink extension) agree on: it runs over printable ASCII except ``<>"`` and
the backtick, then sentence punctuation ``.,;:!?'"*`` at its end is left out, and a closing
``)`` or ``]`` is kept only while it balances an opening one inside the URL.

Non-ASCII letters and digits belong to the URL (IRIs, RFC 3987: ``https://köln.example/straße``),
but not those of scripts written without spaces (Han, kana, Hangul, Thai), since CJK prose glues
words straight to a URL, nor any non-ASCII punctuation or space.
"""

from __future__ import annotations

import re

from linkguard.rewriter.links import Edit, LinkBook, Regions, http_url
from linkguard.rewriter.model import LinkPlace

_CANDIDATE = re.compile(
    r"(?<![A-Za-z0-9])(?:[Hh][Tt][Tt][Pp][Ss]?://|(?<![@./:_\-])[Ww][Ww][Ww]\.)"
    r"[!#-;=?-_a-~\u0080-\U0010ffff]+"
)
# Scripts written without spaces between words: their letters end a URL.
_NO_SPACE_SCRIPTS = re.compile(
    "[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3000-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]"
)
_TRAILING = frozenset(".,;:!?'\"*")
_PAIRS = {")": "(", "]": "["}
_MAY_TRIM = _TRAILING | _PAIRS.keys()
_WWW_HOST = re.compile(r"[Ww][Ww][Ww]\.[^\W_][\w\-]*\.[^\W_]")
_HTTP_HOST = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://(?:[^\W_]|\[)")


def trim_url(candidate: str) -> str:
    """Drop the trailing punctuation a linkifier leaves out of a URL."""
    if candidate[-1:] not in _MAY_TRIM:
        return candidate  # the usual case: nothing to count
    end = len(candidate)
    # Bracket counts kept as we cut (a recount per character would be quadratic).
    opened = {close: candidate.count(open_) for close, open_ in _PAIRS.items()}
    closed = {close: candidate.count(close) for close in _PAIRS}
    while end:
        last = candidate[end - 1]
        if last in _TRAILING:
            end -= 1
        elif last in _PAIRS and opened[last] < closed[last]:
            closed[last] -= 1
            end -= 1
        else:
            break
    return candidate[:end]


def _cut_non_ascii(candidate: str) -> str:
    if candidate.isascii():
        return candidate
    for i, ch in enumerate(candidate):
        if not ch.isascii() and (not ch.isalnum() or _NO_SPACE_SCRIPTS.match(ch)):
            return candidate[:i]
    return candidate


def find_urls(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, url)`` of each linkifiable URL; ``url`` has its scheme (www → http)."""
    found: list[tuple[int, int, str]] = []
    for m in _CANDIDATE.finditer(text):
        candidate = trim_url(_cut_non_ascii(m.group()))
        if m.group()[:1] in "Ww":
            if _WWW_HOST.match(candidate) is None:
                continue
            url = "http://" + candidate
        else:
            if _HTTP_HOST.match(candidate) is None:
                continue
            url = candidate
        found.append((m.start(), m.start() + len(candidate), url))
    return found


def scan_plain(text: str, book: LinkBook, skip: Regions) -> list[Edit]:
    """Seal every linkifiable http(s) URL of a plain text."""
    edits: list[Edit] = []
    skipping = bool(skip)  # asked once: Regions.__bool__ is a Python call
    seal = book.seal
    text_place = LinkPlace.TEXT
    for start, end, candidate in find_urls(text):
        if skipping and skip.overlaps(start, end):
            continue
        url = http_url(candidate)
        if url is None:
            continue
        link = seal(url, text[start:end], text_place)  # positional: once per link
        if link.replacement is not None:
            edits.append(_new_tuple(Edit, (start, end, link.replacement, (link,))))
    return edits


# tuple.__new__(Edit, (…)) builds an Edit without the Python frame of NamedTuple's __new__.
_new_tuple = tuple.__new__
