"""Find the clickable links of an HTML part without re-serialising it.

A parser that rebuilds the document would change quoting, case, whitespace and entities all
over the part; we need every byte outside a link value to stay put. So this module is a small
tokenizer that follows the WHATWG HTML Standard §13.2.5 ("Tokenization") exactly where it
decides *where an attribute value is*: tag open, attribute name, before/after value, the three
value states (double-quoted, single-quoted, unquoted), comments (§13.2.5.43 ff., including the
abrupt ``<!-->`` forms and ``--!>``), bogus comments (``<!``, ``<?``, ``</`` + non-letter) and
the raw text of ``script``, ``style`` and the other RAWTEXT/RCDATA elements (§13.2.2), where a
``<a href>`` is only text. Following the standard matters for security: a tokenizer that
disagrees with the browser about where a quoted value ends can be fed a link it does not see.

Where the build compiled ``_htmlcore.pyx``, ``scan_html`` reads link attributes with it: the
same states as one loop over the characters, held to the regular expressions below by
``tests/rewriter/test_htmlcore.py`` (the plain build runs them).

Out of scope on purpose: the tree builder. ``<a>`` inside ``<svg>``, in a ``<noscript>`` (mail
clients run no scripts, so its content is markup) or in a table are all rewritten as seen.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable, Iterator
from html.entities import html5
from typing import NamedTuple

import ada_url

from linkguard.core.url import is_visible_ascii
from linkguard.native import optional_module
from linkguard.rewriter.links import Edit, LinkBook, Regions, browser_url, http_url
from linkguard.rewriter.model import LinkPlace

# One step of the "before attribute name" → "attribute value" states: skip whitespace and
# solidi, then either the end of the tag or one attribute with its optional value. An unclosed
# quote runs to the end of the input (the tag is then dropped, §13.2.5.33 "eof-in-tag").
_ATTR = re.compile(
    r"""[\t\n\f\r /]*(?:(>)|([^\t\n\f\r />][^\t\n\f\r /=>]*)"""
    r"""(?:[\t\n\f\r ]*=[\t\n\f\r ]*("[^"]*"?|'[^']*'?|[^\t\n\f\r >]*))?)"""
)
# The same states as one pattern that only finds where a tag ends, for the many tags whose
# attributes we do not need. Atomic groups and possessive quantifiers keep it on the one path
# the state machine takes (and linear: no backtracking into a name). An unclosed quote runs to
# the end, so the pattern fails there and the tag is read the slow way, which drops it.
_TAG_BODY = (
    r"""(?>[\t\n\f\r /]++|[^\t\n\f\r />][^\t\n\f\r /=>]*+"""
    r"""(?>[\t\n\f\r ]*+=[\t\n\f\r ]*+"""
    r"""(?>"[^"]*+(?:"|\Z)|'[^']*+(?:'|\Z)|[^\t\n\f\r >"'][^\t\n\f\r >]*+|))?)*+>"""
)


def _ascii_caseless(name: str) -> str:
    """A pattern for the names whose str.lower() is ``name`` (how the step-by-step reader
    compares names): ASCII letters either way, and "k" also as the Kelvin sign (U+212A), the
    one other character that str.lower() turns into ASCII."""
    return "".join(
        f"[{c.upper()}{c}\u212a]" if c == "k" else f"[{c.upper()}{c}]" if c.isalpha() else c
        for c in name
    )


# An attribute name that may be one of ``_LINK_ATTRS`` (which one, and on which tag, is checked
# by the caller), with the characters that end a name after it.
_LINK_NAME = "(?:{})(?=[\t\n\f\r /=>])".format(
    "|".join(_ascii_caseless(n) for n in ("href", "xlink:href", "action", "formaction"))
)
# The ``_ATTR`` steps as pieces: an attribute that is not a link, and one that may be (its
# name, and its value with the quotes, are groups). In a tag that closes every quote is
# closed, so the optional closing quote of ``_ATTR`` is always there.
_VALUE = """"[^"]*+"?|'[^']*+'?|[^\t\n\f\r >]*+"""
_OTHER_STEP = (
    rf"""[\t\n\f\r /]*+(?!{_LINK_NAME})[^\t\n\f\r />][^\t\n\f\r /=>]*+"""
    rf"""(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:{_VALUE}))?"""
)
_LINK_STEP = (
    rf"""[\t\n\f\r /]*+({_LINK_NAME})"""
    rf"""(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+({_VALUE}))?"""
)
# The next link attribute of a tag known to close (1: name, 2: value), after the others.
_LINK_ATTR = re.compile(rf"(?:{_OTHER_STEP})*+{_LINK_STEP}")
# The next piece of markup (§13.2.5.6 "tag open state"): a start tag (1: name, 2: the rest
# when it closes), an end tag (5, 6), a comment (7), "</>" (8, ignored), or a bogus comment.
# The rest of a start tag that closes with exactly one attribute that may be a link is read
# by ``_ATTR`` steps, which hold that one (3, 4): the usual <a href="…" style="…"> is read in
# one call. Each step is taken whole, as ``_ATTR`` takes it (possessive, atomic):
# backtracking into a value could end it early and read the rest as another attribute.
_NEXT = re.compile(
    rf"<(?:([A-Za-z][^\t\n\f\r />]*+)"
    rf"((?>(?:{_OTHER_STEP})*+(?>{_LINK_STEP})(?:{_OTHER_STEP})*+[\t\n\f\r /]*+>)"
    rf"|{_TAG_BODY})?"
    rf"|/([A-Za-z][^\t\n\f\r />]*+)({_TAG_BODY})?"
    r"|(!--)|(/>)|[!?/])"
)
_COMMENT_END = re.compile(r"--!?>")
# §13.2.2: content of these elements is text until the matching end tag.
_RAW_TEXT = frozenset(
    {"script", "style", "xmp", "iframe", "noembed", "noframes", "textarea", "title"}
)
# re.ASCII: the tokenizer lower-cases ASCII only, so "</ſcript>" does not end a script.
_RAW_END = {
    name: re.compile(rf"</{name}[\t\n\f\r />]", re.IGNORECASE | re.ASCII) for name in _RAW_TEXT
}
# (tag, attribute) pairs a person can follow, and how each is reported.
_LINK_ATTRS: dict[tuple[str, str], LinkPlace] = {
    ("a", "href"): LinkPlace.HTML_A,
    ("a", "xlink:href"): LinkPlace.HTML_A,
    ("area", "href"): LinkPlace.HTML_AREA,
    ("form", "action"): LinkPlace.HTML_FORM,
    ("button", "formaction"): LinkPlace.HTML_FORM,
    ("input", "formaction"): LinkPlace.HTML_FORM,
}
_LINK_TAGS = frozenset(tag for tag, _ in _LINK_ATTRS)
# The compiled tokenizer for link attributes (``_htmlcore.pyx``), where setup.py built it, and
# the (tag, attribute) pairs by the index both paths report them with.
_native = optional_module("linkguard.rewriter._htmlcore")
_PAIRS: tuple[tuple[str, str], ...] = (
    tuple(_native.PAIRS) if _native is not None else tuple(_LINK_ATTRS)
)
_PAIR_INDEX = {pair: i for i, pair in enumerate(_PAIRS)}
_PAIR_PLACES = tuple(_LINK_ATTRS[pair] for pair in _PAIRS)
_A_BOUNDARY = re.compile(r"</?a[\t\n\f\r />]", re.IGNORECASE | re.ASCII)
_DISPLAY_WINDOW = 4096  # characters after <a> searched for its text: bounded work per link
# Text up to the boundary that has neither markup nor a character reference in it.
_PLAIN_A_TEXT = re.compile(r"[^<&]*+(?=</?a[\t\n\f\r />])", re.IGNORECASE | re.ASCII)
_STRIP_MARKUP = re.compile(r"<!--.*?(?:-->|\Z)|<[^>]*>?", re.DOTALL)
_CHARREF = re.compile(r"&(#[xX][0-9a-fA-F]+;?|#[0-9]+;?|[A-Za-z][A-Za-z0-9]*;?)")
_LONGEST_NAME = max(map(len, html5))
_BASE_TAG = frozenset({"base"})
_BASE_HINT = re.compile(r"<base[\t\n\f\r />]", re.IGNORECASE | re.ASCII)
# tuple.__new__(Edit, (…)) builds an Edit without the Python frame of NamedTuple's __new__.
_new_tuple = tuple.__new__


class Attr(NamedTuple):
    name: str  # lower case
    value: str  # as written, quotes removed, entities not decoded
    start: int  # of the value, quotes excluded
    end: int
    quote: str  # '"', "'" or "" for an unquoted (or missing) value


class Tag(NamedTuple):
    name: str  # lower case
    start: int
    end: int  # just after ">"
    attrs: tuple[Attr, ...]


@functools.lru_cache(maxsize=8)
def _next_markup(wanted: frozenset[str]) -> re.Pattern[str]:
    """A run of text, comments and tags not in ``wanted`` that changes no tokenizer state, then
    the next piece of markup as ``_NEXT`` reads it (same groups), in one match from ``pos``.

    One regex call skips what would otherwise be one loop turn per tag: the states are those
    of ``_TAG_BODY`` and the comment rules above; whatever it cannot decide (an unclosed tag or
    comment, a raw-text element, a wanted tag) ends the run and is read by the loop. The run
    can only end at the end of the text or at a "<" that ``_NEXT`` matches (a "<" it does not
    is part of the run), so the match fails only where ``_NEXT.search`` would find nothing.
    """
    stop = "|".join(sorted(wanted | _RAW_TEXT | {"plaintext"}, key=len, reverse=True))
    return re.compile(
        # Each turn of the loop takes one piece of markup and the text after it (fewer turns
        # than one for each): a "<" that none of these take ends the run, as it did.
        r"[^<]*+(?:(?:"
        # End tags first: half of all markup, and they fail the start-tag look-ahead slowly.
        # The branches start differently ("</" + letter, "<" + not a letter, "<" + letter),
        # so their order changes no match.
        rf"</[A-Za-z][^\t\n\f\r />]*+{_TAG_BODY}"
        r"|<(?![A-Za-z/!?])"
        rf"|<(?!(?i:{stop})(?:[\t\n\f\r />]|\Z))[A-Za-z][^\t\n\f\r />]*+{_TAG_BODY}"
        r"|<!--(?>>|->|(?s:.*?)--!?>)"
        r"|<!(?!--)[^>]*+>|<\?[^>]*+>|</(?![A-Za-z])[^>]*+>"
        r")[^<]*+)*+" + _NEXT.pattern,
        re.ASCII,  # no effect on _NEXT's classes; keeps (?i:script) from matching "ſcript"
    )


# A start tag as the loop reads it: name (lower case), start, where its attributes start, end
# (after ">"), its attributes when the tag had to be read step by step (None: it closes at
# end, so ``_attrs`` or ``_LINK_ATTR`` can read them without checking quotes), and the match
# (groups 3, 4: the tag's only attribute that may be a link, if it has exactly one).
_TagSpan = tuple[str, int, int, int, tuple[Attr, ...] | None, re.Match[str]]


def _tags(text: str, wanted: frozenset[str] | None) -> Iterator[_TagSpan]:
    """The start tags of ``text`` in order, skipping comments and raw text (see
    :func:`iter_start_tags`); attributes are left to the caller."""
    pos = 0
    find = _NEXT.search if wanted is None else _next_markup(wanted).match
    while (m := find(text, pos)) is not None:
        name = m.group(1)
        if name is not None:
            name = name.lower()
            body = m.end(1)
            if m.start(2) < 0:
                parsed = _read_tag(text, body)
                if parsed is None:
                    return  # eof-in-tag: the browser drops the tag, and so do we
                end, attrs = parsed
                yield name, m.start(1) - 1, body, end, attrs, m
            else:
                end = m.end()
                yield name, m.start(1) - 1, body, end, None, m
            pos = end
            if name in _RAW_TEXT:
                close = _RAW_END[name].search(text, end)
                if close is None:
                    return
                pos = close.start()
            elif name == "plaintext":
                return  # §13.2.5.7: everything after <plaintext> is text
            continue
        kind = m.lastindex  # which of the other groups matched tells the kind of markup
        if kind == 5:  # end tags are read like start tags
            parsed = _read_tag(text, m.end(5))
            if parsed is None:
                return
            pos = parsed[0]
        elif kind == 6:
            pos = m.end()
        elif kind == 7:
            pos = _skip_comment(text, m.start(7) - 1)
        elif kind == 8:
            pos = m.end()  # "</>" is ignored
        else:
            pos = _to_gt(text, m.end())  # "<!", "<?", "</" + other: a bogus comment


def iter_start_tags(text: str, wanted: frozenset[str] | None = None) -> Iterator[Tag]:
    """Yield the start tags of ``text`` in order, skipping comments and raw text.

    With ``wanted``, only those tags (and raw-text elements) are yielded, with their
    attributes; without it, every start tag with its attributes.
    """
    for name, start, body, end, read, _ in _tags(text, wanted):
        if read is not None:
            attrs = read
        elif wanted is None or name in wanted:
            attrs = _attrs(text, body, end)
        else:
            attrs = ()
        yield Tag(name, start, end, attrs)


def _skip_comment(text: str, lt: int) -> int:
    # §13.2.5.44/45: "<!-->" and "<!--->" close at once.
    if text.startswith(">", lt + 4):
        return lt + 5
    if text.startswith("->", lt + 4):
        return lt + 6
    m = _COMMENT_END.search(text, lt + 4)
    return len(text) if m is None else m.end()


def _to_gt(text: str, pos: int) -> int:
    gt = text.find(">", pos)
    return len(text) if gt < 0 else gt + 1


def _attrs(text: str, pos: int, end: int) -> tuple[Attr, ...]:
    """The attributes of a tag known to close at ``end`` (so every quote is closed).

    The ``_ATTR`` steps follow one another with no gap (any character starts a step), so
    finditer over the tag walks the same states as the loop in :func:`_read_tag`.
    """
    attrs: list[Attr] = []
    for m in _ATTR.finditer(text, pos, end):
        _, name, raw = m.groups()
        if name is None:
            break
        if raw is None:
            attrs.append(Attr(name.lower(), "", m.end(), m.end(), ""))
        elif raw[:1] in ('"', "'"):
            attrs.append(Attr(name.lower(), raw[1:-1], m.start(3) + 1, m.end(3) - 1, raw[0]))
        else:
            attrs.append(Attr(name.lower(), raw, m.start(3), m.end(3), ""))
    return tuple(attrs)


def _read_tag(text: str, pos: int) -> tuple[int, tuple[Attr, ...]] | None:
    attrs: list[Attr] = []
    while True:
        m = _ATTR.match(text, pos)
        if m is None:
            return None
        if m.group(1):
            return m.end(), tuple(attrs)
        raw = m.group(3)
        name = m.group(2).lower()
        if raw is None:
            attrs.append(Attr(name, "", m.end(), m.end(), ""))
        elif raw[:1] in ('"', "'"):
            if len(raw) < 2 or raw[-1] != raw[0]:
                return None  # unclosed quote: runs to end of input
            vstart = m.start(3) + 1
            attrs.append(Attr(name, raw[1:-1], vstart, m.end(3) - 1, raw[0]))
        else:
            attrs.append(Attr(name, raw, m.start(3), m.end(3), ""))
        pos = m.end()


def unescape_attribute(value: str) -> str:
    """Decode character references as the tokenizer does inside an attribute value.

    Differs from :func:`html.unescape` in one rule (§13.2.5.73 "named character reference
    state"): in an attribute, a legacy reference without ";" followed by "=" or an alphanumeric
    stays as written, so ``?a=1&copy=2`` keeps its ``&copy``.
    """
    if "&" not in value:
        return value
    if "&" not in value.replace("&amp;", ""):  # by far the most common reference in a URL
        return value.replace("&amp;", "&")
    return _CHARREF.sub(lambda m: _charref(m, value), value)


def _charref(m: re.Match[str], value: str) -> str:
    ref = m.group(1)
    if ref[0] == "#":
        return html.unescape(m.group() if ref.endswith(";") else m.group() + ";")
    if ref in html5:  # "amp;" and the legacy "amp" both live in the table
        if not ref.endswith(";") and _blocks_legacy(value, m.end()):
            return m.group()
        return html5[ref]
    # The longest legacy prefix: "&notit" → "¬it". No name in the table is longer than 32.
    for cut in range(min(len(ref) - 1, _LONGEST_NAME), 1, -1):
        head = ref[:cut]
        if head in html5:
            if ref[cut].isalnum() or ref[cut] == "=":
                return m.group()
            return html5[head] + ref[cut:]
    return m.group()


def _blocks_legacy(value: str, end: int) -> bool:
    return end < len(value) and (value[end].isalnum() or value[end] == "=")


def escape_attribute(value: str, quote: str) -> str:
    """Escape ``value`` to sit in an attribute quoted with ``quote`` ("" = unquoted)."""
    out = value.replace("&", "&amp;")
    if quote == '"':
        return out.replace('"', "&quot;")
    if quote == "'":
        return out.replace("'", "&#39;")
    # §13.2.5.38: an unquoted value ends at whitespace or ">", and quotes, "<", "=" and "`"
    # in it are parse errors; numeric references keep it one clean token.
    return re.sub(r"[\"'<=>`]", lambda m: f"&#{ord(m.group())};", out)


def display_text(text: str, start: int, limit: int) -> str | None:
    """The text a person sees for the ``<a>`` whose start tag ends at ``start``."""
    plain = _PLAIN_A_TEXT.match(text, start, start + _DISPLAY_WINDOW)
    if plain is not None:  # the usual text: no markup, no reference, then the boundary
        return " ".join(plain.group().split())[:limit].rstrip() or None
    m = _A_BOUNDARY.search(text, start, start + _DISPLAY_WINDOW)
    inner = text[start : m.start() if m else start + _DISPLAY_WINDOW]
    if "<" in inner:
        inner = _STRIP_MARKUP.sub(" ", inner)
    # str.split() splits at exactly the characters re's \s matches (str.isspace).
    shown = " ".join(html.unescape(inner).split())
    return shown[:limit].rstrip() or None


def _base_url(text: str) -> str | None:
    """The document base URL from the first ``<base href>`` (§4.2.3), if it is http(s)."""
    if _BASE_HINT.search(text) is None:
        return None
    for tag in iter_start_tags(text, _BASE_TAG):
        if tag.name == "base":
            for attr in tag.attrs:
                if attr.name == "href":
                    return http_url(browser_url(unescape_attribute(attr.value)))
    return None


def _destination(value: str, base: Callable[[], str | None]) -> str | None:
    """The http(s) URL a click on this link value opens, or None; ``base`` gives the document
    base URL, asked only for a relative link (most links are absolute: no look-up)."""
    if (
        value.startswith(("https://", "http://"))
        and is_visible_ascii(value)
        and "&" not in value.replace("&amp;", "")
    ):
        # The usual link, one token of printable ASCII: nothing for browser_url to strip or
        # remove, "&amp;" its only reference, and http_url would return it as it is.
        return value.replace("&amp;", "&")
    url = browser_url(unescape_attribute(value))
    absolute = http_url(url)
    if absolute is not None or url[:1] in ("", "#"):
        return absolute
    base_url = base()
    if base_url is not None:
        try:
            return http_url(ada_url.join_url(base_url, url))
        except ValueError:
            return None
    if url[:2].replace("\\", "/") == "//":
        # Scheme-relative: in webmail the page is https, so that is where a click goes.
        return http_url("https:" + url)
    return None


# A link attribute of a start tag: name (lower case), value (as written, quotes removed), its
# start and end, the quote ("" unquoted), and how the link is reported. A plain tuple (not an
# ``Attr``): one is made per link.
_LinkAttr = tuple[str, str, int, int, str, LinkPlace]


def _link_attrs(text: str, tag: _TagSpan) -> list[_LinkAttr]:
    """The link attributes of a start tag (see :data:`_TagSpan`).

    A tag that closes is read with the ``_LINK_ATTR`` steps, which pass over the other
    attributes in the regex engine: the same ``_ATTR`` steps as :func:`_attrs`, without an
    ``Attr`` for each. With exactly one candidate, ``_NEXT`` has read it already.
    """
    name, _, body, end, attrs, m = tag
    if attrs is not None:
        return [
            (a.name, a.value, a.start, a.end, a.quote, place)
            for a in attrs
            if (place := _LINK_ATTRS.get((name, a.name)))
        ]
    if m.start(3) >= 0:
        return _link_attr(name, m, 3)
    found: list[_LinkAttr] = []
    pos = body
    while (step := _LINK_ATTR.match(text, pos, end)) is not None:
        pos = step.end()
        found += _link_attr(name, step, 1)
    return found


def _link_attr(tag: str, m: re.Match[str], group: int) -> list[_LinkAttr]:
    """The attribute in ``group`` (name) and ``group + 1`` (value) of ``m``, if a link of tag."""
    name = m[group].lower()
    place = _LINK_ATTRS.get((tag, name))
    if place is None:
        return []  # e.g. "action" on an <a>
    raw = m[group + 1]
    if raw is None:
        at = m.end(group)
        return [(name, "", at, at, "", place)]
    start, end = m.span(group + 1)
    quote = raw[:1]
    if quote in ('"', "'"):  # closed: the tag closes
        return [(name, raw[1:-1], start + 1, end - 1, quote, place)]
    return [(name, raw, start, end, "", place)]


# A link attribute as both paths report it: the index of its (tag, attribute) pair in
# ``_PAIRS``, its value as written (quotes removed), start, end and quote ("" unquoted), where
# the tag's name ends and where the tag ends (after ">").
_FoundLink = tuple[int, str, int, int, str, int, int]


def _python_links(text: str) -> tuple[list[_FoundLink], int]:
    """The link attributes of ``text`` in order and the number of ``<form>`` start tags: what
    ``_htmlcore.links`` returns, read with the regular expressions above."""
    found: list[_FoundLink] = []
    forms = 0
    for tag in _tags(text, _LINK_TAGS):
        name, _, body, tag_end, _, _ = tag
        if name not in _LINK_TAGS:
            continue
        if name == "form":
            forms += 1
        found += [
            (_PAIR_INDEX[name, attr], value, start, end, quote, body, tag_end)
            for attr, value, start, end, quote, _ in _link_attrs(text, tag)
        ]
    return found, forms


_links: Callable[[str], tuple[list[_FoundLink], int]] = (
    _python_links if _native is None else _native.links
)


def scan_html(text: str, book: LinkBook, skip: Regions, *, display_limit: int) -> list[Edit]:
    """Seal every ``a``/``area`` href and form action of an HTML text."""
    base = functools.cache(lambda: _base_url(text))
    edits: list[Edit] = []
    seal = book.seal
    skipping = bool(skip)  # asked once: Regions.__bool__ is a Python call
    html_a, html_area = LinkPlace.HTML_A, LinkPlace.HTML_AREA
    places = _PAIR_PLACES
    found, forms = _links(text)
    book.forms += forms
    for pair, value, start, end, quote, body, tag_end in found:
        if skipping and skip.overlaps(start, end):
            continue
        url = _destination(value, base)
        if url is None:
            continue
        place = places[pair]
        shown: str | None = None
        if place is html_a:
            shown = display_text(text, tag_end, display_limit)
        elif place is html_area:
            shown = next(
                (unescape_attribute(a.value) for a in _attrs(text, body, tag_end)
                 if a.name == "alt"), None
            ) or None
        link = seal(url, value, place, shown)
        if link.replacement is not None:
            replacement = escape_attribute(link.replacement, quote)
            edits.append(_new_tuple(Edit, (start, end, replacement, (link,))))
    return edits
