# cython: language_level=3, boundscheck=False, wraparound=False
"""The URL model's test for a link already in its WHATWG form, in one pass over the string.

``url._canonical`` answers "is this string its own serialisation, and what are its pieces?"
for every link the sealer seals and every URL a click or the verdict API judges: a regular
expression over the whole URL and two more searches for "%" and dot segments. Here the same
rules are one loop over the characters. ``url._canonical_python`` stays the reference (the
plain build runs it) and ``tests/core/test_fast_paths.py`` holds the two to the same answers.
"""


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)


# The characters no percent-encode set of the URL Standard (§1.3) touches in a path, query or
# fragment of a special URL, as ``url._CANONICAL_HTTP`` lists them; "?" and "#" are handled
# apart. 1: allowed.
cdef unsigned char _ALLOWED[128]
cdef unsigned char _HOST[128]  # [a-z0-9-]


cdef void _tables() noexcept:
    cdef int c
    for c in range(128):
        _ALLOWED[c] = 0
        _HOST[c] = 0
    for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~!$&()*+,;=:@/%-":
        _ALLOWED[c] = 1
    for c in b"abcdefghijklmnopqrstuvwxyz0123456789-":
        _HOST[c] = 1


_tables()


cdef inline bint _is_hex(unsigned char c) noexcept:
    return (48 <= c <= 57) or (65 <= c <= 70) or (97 <= c <= 102)


cdef inline bint _dot(const unsigned char *s, Py_ssize_t i, Py_ssize_t end,
                      Py_ssize_t *width) noexcept:
    """Whether ``s[i:]`` starts with "." or "%2e"/"%2E" (before ``end``); its width."""
    if i < end and s[i] == 46:
        width[0] = 1
        return True
    if i + 2 < end and s[i] == 37 and s[i + 1] == 50 and (s[i + 2] == 101 or s[i + 2] == 69):
        width[0] = 3
        return True
    return False


cdef struct _Pieces:
    Py_ssize_t scheme_end  # after ":"
    Py_ssize_t host_end  # where the path starts
    Py_ssize_t path_end  # where "?" or "#" (or the end) is
    Py_ssize_t query_end  # where "#" (or the end) is
    Py_ssize_t longest_label


cdef bint _split(const unsigned char *s, Py_ssize_t n, _Pieces *p) noexcept:
    """Whether ``s[:n]`` is a URL in its WHATWG form (``url._CANONICAL_HTTP`` and the checks
    of ``url._canonical_python``); its pieces in ``p``."""
    cdef Py_ssize_t i, scheme_end, host_start, host_end, path_end, query_end, label, j, w
    cdef unsigned char c
    p.longest_label = 0
    # "http://" or "https://", lower case
    if n >= 8 and s[0] == 104 and s[1] == 116 and s[2] == 116 and s[3] == 112:
        if s[4] == 115 and s[5] == 58:
            scheme_end = 6
        elif s[4] == 58:
            scheme_end = 5
        else:
            return False
    else:
        return False
    if scheme_end + 2 > n or s[scheme_end] != 47 or s[scheme_end + 1] != 47:
        return False
    host_start = scheme_end + 2
    # Labels of [a-z0-9-], none empty, the last starting with a letter, up to the first "/".
    i = host_start
    label = i
    while i < n and s[i] != 47:
        c = s[i]
        if c == 46:
            if i == label:
                return False  # an empty label
            if i - label > p.longest_label:
                p.longest_label = i - label
            label = i + 1
        elif c >= 128 or not _HOST[c]:
            return False
        i += 1
    if i >= n or i == label or not (97 <= s[label] <= 122):
        return False  # no path, an empty last label, or one that starts otherwise
    host_end = i
    if host_end - label > p.longest_label:
        p.longest_label = host_end - label
    # "xn--" anywhere in the name: an A-label the parser checks (not taken here)
    for j in range(host_start, host_end - 3):
        if s[j] == 120 and s[j + 1] == 110 and s[j + 2] == 45 and s[j + 3] == 45:
            return False
    # Path, then "?" query, then "#" fragment; "?" may recur after the path, "#" only once.
    path_end = query_end = -1
    i = host_end
    while i < n:
        c = s[i]
        if c == 63:  # "?"
            if path_end < 0:
                path_end = i
        elif c == 35:  # "#"
            if query_end >= 0:
                return False  # a second "#"
            if path_end < 0:
                path_end = i
            query_end = i
        elif c >= 128 or not _ALLOWED[c]:
            return False
        elif c == 37 and not (i + 2 < n and _is_hex(s[i + 1]) and _is_hex(s[i + 2])):
            return False  # "%" not before two hex digits
        i += 1
    if path_end < 0:
        path_end = n
    if query_end < 0:
        query_end = n
    # No "." or ".." segment in any spelling: "/" then one or two of "." / "%2e", then "/" or
    # the end of the path.
    i = host_end
    while i < path_end:
        if s[i] == 47:
            j = i + 1
            if _dot(s, j, path_end, &w):
                j += w
                if j >= path_end or s[j] == 47:
                    return False
                if _dot(s, j, path_end, &w):
                    j += w
                    if j >= path_end or s[j] == 47:
                        return False
        i += 1
    p.scheme_end = scheme_end
    p.host_end = host_end
    p.path_end = path_end
    p.query_end = query_end
    return True


def canonical(raw):
    """``url._canonical_python(raw)``: the parse tuple of a URL already in its WHATWG form
    (``raw`` itself, protocol, "", "", hostname, "", path, search, fragment, 0), or None."""
    cdef _Pieces p
    if type(raw) is not str or not PyUnicode_IS_ASCII(raw):
        return None
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(raw)
    if not _split(<const unsigned char *>PyUnicode_DATA(raw), n, &p):
        return None
    host_start = p.scheme_end + 2
    hostname = raw[host_start:p.host_end]
    path = raw[p.host_end:p.path_end]
    # A lone "?" or "#" is kept in the serialisation but reads as "" (the URL API getters).
    search = raw[p.path_end:p.query_end] if p.query_end - p.path_end > 1 else ""
    fragment = raw[p.query_end:] if n - p.query_end > 1 else ""
    return (raw, raw[:p.scheme_end], "", "", hostname, "", path, search, fragment, 0)


def canonical_host(raw, Py_ssize_t limit):
    """``url.canonical_http_host(raw)`` with ``limit`` its length bound: the host of a URL in
    its WHATWG form whose name DNS can hold (RFC 1035 §2.3.4: 63 a label, 253 in all), or
    None."""
    cdef _Pieces p
    if type(raw) is not str or not PyUnicode_IS_ASCII(raw):
        return None
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(raw)
    if n > limit or not _split(<const unsigned char *>PyUnicode_DATA(raw), n, &p):
        return None
    if p.host_end - (p.scheme_end + 2) > 253 or p.longest_label > 63:
        return None
    return raw[p.scheme_end + 2:p.host_end]


def visible_ascii(text):
    """Whether ``text`` is one token of printable ASCII, "!" to "~" (what
    ``url._visible_ascii_python`` says: ASCII, printable, no space)."""
    if type(text) is not str or not PyUnicode_IS_ASCII(text):
        return False
    cdef const unsigned char *s = <const unsigned char *>PyUnicode_DATA(text)
    cdef Py_ssize_t i, n = PyUnicode_GET_LENGTH(text)
    for i in range(n):
        if s[i] < 33 or s[i] > 126:
            return False
    return True
