# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The link attributes of an HTML text in one pass of the tokenizer's states, in C.

``html.scan_html`` needs, for every ``a``/``area``/``form``/``button``/``input`` start tag, the
attributes a person can follow (WHATWG HTML §13.2.5 "Tokenization": where a tag, a comment, an
attribute value and the raw text of ``script``/``style``/… begin and end). In Python that is a
handful of regular expressions and a generator, matched again for every tag: for a newsletter
of 200 links, more time than the standard library takes to parse and write the whole message.
Here it is one loop over the characters, taking exactly the steps of ``html._tags`` (the
``_NEXT`` / ``_ATTR`` states, read with no fast skip) and of ``html._link_attrs``.

``html.py`` keeps the Python path (the plain build runs it) and
``tests/rewriter/test_htmlcore.py`` holds the two to the same results on generated markup.
"""

from cpython.unicode cimport PyUnicode_GET_LENGTH
from libc.string cimport memchr


cdef extern from "Python.h":
    ctypedef unsigned char Py_UCS1
    ctypedef unsigned short Py_UCS2
    # Cython's own Py_UCS4 stands for a one-character str; here it is a code point.
    ctypedef unsigned int UCS4 "Py_UCS4"
    int PyUnicode_KIND(object)
    void *PyUnicode_DATA(object)
    object PyUnicode_Substring(object, Py_ssize_t, Py_ssize_t)


ctypedef fused char_t:
    Py_UCS1
    Py_UCS2
    UCS4


# The (tag, attribute) pairs a person can follow, in the order of the index ``links`` reports
# (html._LINK_ATTRS says how each is reported).
PAIRS = (
    ("a", "href"),
    ("a", "xlink:href"),
    ("area", "href"),
    ("form", "action"),
    ("button", "formaction"),
    ("input", "formaction"),
)

# Tag kinds: another tag, a link tag, a raw-text element (§13.2.2: its content is text up to
# its end tag; html._RAW_TEXT), <plaintext>.
cdef enum:
    TAG_OTHER = -1
    TAG_A = 0
    TAG_AREA = 1
    TAG_FORM = 2
    TAG_BUTTON = 3
    TAG_INPUT = 4
    TAG_RAW = 10
    TAG_PLAINTEXT = 11

cdef str _DOUBLE = '"'
cdef str _SINGLE = "'"
cdef str _NONE = ""


cdef inline bint _space(UCS4 c) noexcept nogil:
    # §13.2.5: tab, line feed, form feed, carriage return, space (NUL never reaches here
    # specially: it is an ordinary character of a name or value).
    return c == 32 or c == 9 or c == 10 or c == 12 or c == 13


cdef inline bint _letter(UCS4 c) noexcept nogil:
    return (65 <= c <= 90) or (97 <= c <= 122)


cdef inline UCS4 _lower(UCS4 c) noexcept nogil:
    """What str.lower() gives for one character of a name compared with ASCII: ASCII
    letters, and the Kelvin sign (U+212A), the one other character whose lower() is ASCII
    (U+0130 lowers to two characters, one of them not ASCII, so it never compares equal)."""
    if 65 <= c <= 90:
        return c + 32
    if c == 0x212A:
        return 107  # "k"
    return c


cdef inline bint _ascii_lower(UCS4 c, UCS4 want) noexcept nogil:
    # The raw-text end tag is found ASCII-case-insensitively (html._RAW_END: re.ASCII).
    if 65 <= c <= 90:
        c += 32
    return c == want


cdef inline bint _is(const char_t *s, Py_ssize_t start, Py_ssize_t end,
                     const char *name) noexcept nogil:
    """Whether ``s[start:end].lower() == name`` (``name`` ASCII, lower case)."""
    cdef Py_ssize_t i = 0
    while start + i < end:
        if name[i] == 0 or _lower(s[start + i]) != <unsigned char>name[i]:
            return False
        i += 1
    return name[i] == 0


cdef int _tag_kind(const char_t *s, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
    cdef Py_ssize_t size = end - start
    if size == 1:
        return TAG_A if _is(s, start, end, b"a") else TAG_OTHER
    if size == 3:
        return TAG_RAW if _is(s, start, end, b"xmp") else TAG_OTHER
    if size == 4:
        if _is(s, start, end, b"area"):
            return TAG_AREA
        if _is(s, start, end, b"form"):
            return TAG_FORM
    elif size == 5:
        if _is(s, start, end, b"input"):
            return TAG_INPUT
        if _is(s, start, end, b"style") or _is(s, start, end, b"title"):
            return TAG_RAW
    elif size == 6:
        if _is(s, start, end, b"button"):
            return TAG_BUTTON
        if _is(s, start, end, b"script") or _is(s, start, end, b"iframe"):
            return TAG_RAW
    elif size == 7:
        if _is(s, start, end, b"noembed"):
            return TAG_RAW
    elif size == 8:
        if _is(s, start, end, b"noframes") or _is(s, start, end, b"textarea"):
            return TAG_RAW
    elif size == 9:
        if _is(s, start, end, b"plaintext"):
            return TAG_PLAINTEXT
    return TAG_OTHER


cdef int _pair(int tag, const char_t *s, Py_ssize_t start, Py_ssize_t end) noexcept nogil:
    """The index in PAIRS of (tag, the attribute named s[start:end]), or -1."""
    cdef Py_ssize_t size = end - start
    if tag == TAG_A:
        if size == 4 and _is(s, start, end, b"href"):
            return 0
        if size == 10 and _is(s, start, end, b"xlink:href"):
            return 1
    elif tag == TAG_AREA:
        if size == 4 and _is(s, start, end, b"href"):
            return 2
    elif tag == TAG_FORM:
        if size == 6 and _is(s, start, end, b"action"):
            return 3
    elif tag == TAG_BUTTON or tag == TAG_INPUT:
        if size == 10 and _is(s, start, end, b"formaction"):
            return 4 if tag == TAG_BUTTON else 5
    return -1


cdef inline Py_ssize_t _find(const char_t *s, Py_ssize_t at, Py_ssize_t n,
                             UCS4 c) noexcept nogil:
    """The index of the next ``c`` in ``s[at:n]``, or -1."""
    cdef const void *p
    if char_t is Py_UCS1:
        if at >= n:
            return -1
        p = memchr(s + at, <int>c, n - at)
        return -1 if p == NULL else <const Py_UCS1 *>p - s
    else:
        while at < n:
            if s[at] == c:
                return at
            at += 1
        return -1


cdef Py_ssize_t _attributes(object text, const char_t *s, Py_ssize_t pos, Py_ssize_t n,
                            int tag, Py_ssize_t body, list out) except -2:
    """Read a tag's attributes from ``pos`` as the ``_ATTR`` steps do (§13.2.5.32–39):
    return where the tag ends (after ">"), or -1 when the input ends first (eof-in-tag: the
    browser drops the tag). The link attributes of a link tag are appended to ``out`` as
    ``(pair, value, start, end, quote, body, tag end)``, the tag end filled in at the end
    (at -1 the caller removes what this tag appended)."""
    cdef Py_ssize_t name_start, name_end, q, vstart, vend, close, first = len(out), k
    cdef UCS4 c
    cdef int pair
    cdef object quote
    while True:
        # Before attribute name: white space and solidi.
        while pos < n and (_space(s[pos]) or s[pos] == 47):  # "/"
            pos += 1
        if pos >= n:
            return -1
        if s[pos] == 62:  # ">"
            pos += 1
            if tag != TAG_OTHER:
                for k in range(first, len(out)):
                    out[k] = out[k] + (pos,)
            return pos
        # Attribute name: its first character may be "=" (a parse error that starts a name).
        name_start = pos
        pos += 1
        while pos < n:
            c = s[pos]
            if _space(c) or c == 47 or c == 61 or c == 62:  # "/", "=", ">"
                break
            pos += 1
        name_end = pos
        # After attribute name / before attribute value.
        q = pos
        while q < n and _space(s[q]):
            q += 1
        if q < n and s[q] == 61:  # "="
            q += 1
            while q < n and _space(s[q]):
                q += 1
            if q < n and (s[q] == 34 or s[q] == 39):  # a quoted value
                c = s[q]
                close = _find(s, q + 1, n, c)
                if close < 0:
                    return -1  # unclosed: the value runs to the end of the input
                vstart = q + 1
                vend = close
                pos = close + 1
                quote = _DOUBLE if c == 34 else _SINGLE
            else:
                vstart = q
                while q < n and not (_space(s[q]) or s[q] == 62):
                    q += 1
                vend = q
                pos = q
                quote = _NONE
        else:
            vstart = vend = name_end  # no value: empty, where the name ends
            quote = _NONE
        if tag != TAG_OTHER:
            pair = _pair(tag, s, name_start, name_end)
            if pair >= 0:
                out.append((pair, PyUnicode_Substring(text, vstart, vend), vstart, vend, quote,
                            body))


cdef Py_ssize_t _raw_end(const char_t *s, Py_ssize_t pos, Py_ssize_t n, Py_ssize_t name_start,
                         Py_ssize_t name_end) noexcept nogil:
    """Where "</" + the element's name + white space, "/" or ">" starts after ``pos``, or -1
    (html._RAW_END: the name compared ASCII-case-insensitively)."""
    cdef Py_ssize_t size = name_end - name_start, i
    cdef UCS4 after
    while True:
        pos = _find(s, pos, n, 60)  # "<"
        if pos < 0 or pos + 2 + size >= n:
            return -1
        if s[pos + 1] == 47:
            for i in range(size):
                # The element's name is ASCII (one of the raw-text names), lower-cased here.
                if not _ascii_lower(s[pos + 2 + i], _lower(s[name_start + i])):
                    break
            else:
                after = s[pos + 2 + size]
                if _space(after) or after == 47 or after == 62:
                    return pos
        pos += 1


cdef Py_ssize_t _comment_end(const char_t *s, Py_ssize_t lt, Py_ssize_t n) noexcept nogil:
    """Where the comment opened by "<!--" at ``lt`` ends (html._skip_comment)."""
    cdef Py_ssize_t k = lt + 4
    if k < n and s[k] == 62:  # "<!-->"
        return k + 1
    if k + 1 < n and s[k] == 45 and s[k + 1] == 62:  # "<!--->"
        return k + 2
    while k + 2 < n:
        if s[k] == 45 and s[k + 1] == 45:
            if s[k + 2] == 62:
                return k + 3
            if s[k + 2] == 33 and k + 3 < n and s[k + 3] == 62:  # "--!>"
                return k + 4
        k += 1
    return n


cdef inline Py_ssize_t _name_end(const char_t *s, Py_ssize_t pos, Py_ssize_t n) noexcept nogil:
    """Where a tag name that goes on at ``pos`` ends: white space, "/", ">" or the end."""
    cdef UCS4 c
    while pos < n:
        c = s[pos]
        if _space(c) or c == 47 or c == 62:
            return pos
        pos += 1
    return n


cdef Py_ssize_t _scan(object text, const char_t *s, Py_ssize_t n, list out) except -2:
    """Append the link attributes of ``s``; return the number of <form> start tags."""
    cdef Py_ssize_t pos = 0, lt, i, name_end, end, close, forms = 0, found
    cdef UCS4 c
    cdef int kind
    while True:
        lt = _find(s, pos, n, 60)  # "<"
        if lt < 0 or lt + 1 >= n:
            return forms
        i = lt + 1
        c = s[i]
        if _letter(c):  # a start tag
            name_end = _name_end(s, i + 1, n)
            kind = _tag_kind(s, i, name_end)
            found = len(out)
            end = _attributes(text, s, name_end, n, kind if kind <= TAG_INPUT else TAG_OTHER,
                              name_end, out)
            if end < 0:
                del out[found:]  # eof-in-tag: the tag is dropped, and nothing follows it
                return forms
            if kind == TAG_FORM:
                forms += 1
            pos = end
            if kind == TAG_RAW:
                close = _raw_end(s, end, n, i, name_end)
                if close < 0:
                    return forms
                pos = close
            elif kind == TAG_PLAINTEXT:
                return forms  # §13.2.5.7: everything after <plaintext> is text
        elif c == 47:  # "/"
            if i + 1 < n and _letter(s[i + 1]):  # an end tag: read like a start tag
                name_end = _name_end(s, i + 2, n)
                end = _attributes(text, s, name_end, n, TAG_OTHER, name_end, out)
                if end < 0:
                    return forms
                pos = end
            elif i + 1 < n and s[i + 1] == 62:  # "</>" is ignored
                pos = i + 2
            else:  # "</" + anything else: a bogus comment up to ">"
                end = _find(s, i + 1, n, 62)
                if end < 0:
                    return forms
                pos = end + 1
        elif c == 33 and i + 2 < n and s[i + 1] == 45 and s[i + 2] == 45:  # "<!--"
            pos = _comment_end(s, lt, n)
        elif c == 33 or c == 63:  # "<!" or "<?": a bogus comment up to ">"
            end = _find(s, i + 1, n, 62)
            if end < 0:
                return forms
            pos = end + 1
        else:
            pos = i  # "<" and anything else is text


def links(str text not None):
    """``(links, forms)``: the link attributes of ``text`` in order, each
    ``(pair, value, start, end, quote, body, tag_end)`` with ``pair`` an index in
    :data:`PAIRS`, the value as written (quotes removed, references not decoded), its span,
    the quote ("" unquoted or missing), where the tag's name ends and where the tag ends; and
    the number of ``<form>`` start tags. What ``html._python_links`` returns."""
    cdef list out = []
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void *data = PyUnicode_DATA(text)
    cdef Py_ssize_t forms
    if kind == 1:
        forms = _scan(text, <const Py_UCS1 *>data, n, out)
    elif kind == 2:
        forms = _scan(text, <const Py_UCS2 *>data, n, out)
    else:
        forms = _scan(text, <const UCS4 *>data, n, out)
    return out, forms
