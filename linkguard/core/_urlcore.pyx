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


def canonical(raw):
    """``url._canonical_python(raw)``: the parse tuple of a URL already in its WHATWG form
    (``raw`` itself, protocol, "", "", hostname, "", path, search, fragment, 0), or None."""
    if type(raw) is not str or not PyUnicode_IS_ASCII(raw):
        return None
    cdef const unsigned char *s = <const unsigned char *>PyUnicode_DATA(raw)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(raw)
    cdef Py_ssize_t i, scheme_end, host_start, host_end, path_end, query_end, label, j, w
    cdef unsigned char c
    # "http://" or "https://", lower case
    if n >= 8 and s[0] == 104 and s[1] == 116 and s[2] == 116 and s[3] == 112:
        if s[4] == 115 and s[5] == 58:
            scheme_end = 6
        elif s[4] == 58:
            scheme_end = 5
        else:
            return None
    else:
        return None
    if scheme_end + 2 > n or s[scheme_end] != 47 or s[scheme_end + 1] != 47:
        return None
    host_start = scheme_end + 2
    # Labels of [a-z0-9-], none empty, the last starting with a letter, up to the first "/".
    i = host_start
    label = i
    while i < n and s[i] != 47:
        c = s[i]
        if c == 46:
            if i == label:
                return None  # an empty label
            label = i + 1
        elif c >= 128 or not _HOST[c]:
            return None
        i += 1
    if i >= n or i == label or not (97 <= s[label] <= 122):
        return None  # no path, an empty last label, or one that starts otherwise
    host_end = i
    # "xn--" anywhere in the name: an A-label the parser checks (not taken here)
    for j in range(host_start, host_end - 3):
        if s[j] == 120 and s[j + 1] == 110 and s[j + 2] == 45 and s[j + 3] == 45:
            return None
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
                return None  # a second "#"
            if path_end < 0:
                path_end = i
            query_end = i
        elif c >= 128 or not _ALLOWED[c]:
            return None
        elif c == 37 and not (i + 2 < n and _is_hex(s[i + 1]) and _is_hex(s[i + 2])):
            return None  # "%" not before two hex digits
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
                    return None
                if _dot(s, j, path_end, &w):
                    j += w
                    if j >= path_end or s[j] == 47:
                        return None
        i += 1
    hostname = raw[host_start:host_end]
    path = raw[host_end:path_end]
    # A lone "?" or "#" is kept in the serialisation but reads as "" (the URL API getters).
    search = raw[path_end:query_end] if query_end - path_end > 1 else ""
    fragment = raw[query_end:] if n - query_end > 1 else ""
    return (raw, raw[:scheme_end], "", "", hostname, "", path, search, fragment, 0)
