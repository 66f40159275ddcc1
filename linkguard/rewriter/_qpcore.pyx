# cython: language_level=3, boundscheck=False, wraparound=False
"""Quoted-printable line tables and line wrapping in one pass over the bytes (RFC 2045 §6.7).

``transfer.QuotedPrintable`` needs, for a body it may re-encode line by line, the encoded and
decoded offset of every physical line and the decoded text. In Python that is a regular
expression over the whole body (is every "=" an escape or a soft break?), a split into lines,
``binascii.a2b_qp`` over the lines joined with a marker, a second split and two running sums:
for a 100 KB newsletter of 1,300 lines, more time than the standard library takes to parse and
write the whole message. Here it is one loop over the body. ``wrap`` is the common case of
``transfer._encode_run`` (a link in a long line of printable ASCII) likewise.

The Python functions these replace stay in ``transfer.py`` (the plain build runs them) and
``tests/rewriter/test_qpcore.py`` holds the two to the same results.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memchr, memcpy


cdef inline int _hex(unsigned char c) nogil:
    if 48 <= c <= 57:  # 0-9
        return c - 48
    if 65 <= c <= 70:  # A-F
        return c - 55
    if 97 <= c <= 102:  # a-f: binascii.a2b_qp reads both cases
        return c - 87
    return -1


cdef inline Py_ssize_t _find(const unsigned char *src, Py_ssize_t at, Py_ssize_t n,
                             unsigned char c) noexcept:
    """The index of the next ``c`` in ``src[at:n]``, or ``n``."""
    cdef const unsigned char *p
    if at >= n:
        return n
    p = <const unsigned char *>memchr(src + at, c, n - at)
    return n if p == NULL else p - src


def physical_lines(bytes body):
    """``(enc, dec, decoded)`` for a regular ``body``, or None.

    Regular: no NUL byte, and every "=" starts a soft break ("=\\n", "=\\r\\n") or an escape of
    two hex digits: then ``decoded`` is what ``binascii.a2b_qp(body)`` gives, ``enc[i]`` and
    ``dec[i]`` are where physical line ``i`` starts in ``body`` and in ``decoded``, and both
    lists end with the end of the body (what ``transfer._physical_lines`` returns).
    """
    cdef Py_ssize_t n = PyBytes_GET_SIZE(body)
    cdef const unsigned char *src = <const unsigned char *>PyBytes_AS_STRING(body)
    if n and memchr(src, 0, n) != NULL:
        return None
    out = PyBytes_FromStringAndSize(NULL, n)  # decoded text is never longer than the body
    cdef unsigned char *dst = <unsigned char *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t i = 0, o = 0, stop
    cdef Py_ssize_t next_eq = _find(src, 0, n, 61), next_nl = _find(src, 0, n, 10)
    cdef int hi, lo
    enc = [0]
    dec = [0]
    while i < n:
        if next_eq < i:
            next_eq = _find(src, i, n, 61)
        if next_nl < i:
            next_nl = _find(src, i, n, 10)
        # Everything up to the next "=" or line break stands for itself: one copy.
        stop = next_eq if next_eq < next_nl else next_nl
        if stop > i:
            memcpy(dst + o, src + i, stop - i)
            o += stop - i
            i = stop
            if i >= n:
                break
        if i == next_nl:  # a hard line break: kept, and the next physical line starts
            dst[o] = 10
            o += 1
            i += 1
            enc.append(i)
            dec.append(o)
            continue
        # "=": a soft break, or an escape of two hex digits
        if i + 1 < n and src[i + 1] == 10:
            i += 2
        elif i + 2 < n and src[i + 1] == 13 and src[i + 2] == 10:
            i += 3
        else:
            if i + 2 >= n:
                return None  # "=" or "=X" at the end: a2b_qp keeps or drops it
            hi = _hex(src[i + 1])
            lo = _hex(src[i + 2])
            if hi < 0 or lo < 0:
                return None  # an "=" a2b_qp keeps as it is
            dst[o] = <unsigned char>(hi * 16 + lo)
            o += 1
            i += 3
            continue
        enc.append(i)  # a soft break ends a physical line and decodes to nothing
        dec.append(o)
    if enc[len(enc) - 1] != n:  # the last line has no break: the end closes it
        enc.append(n)
        dec.append(o)
    return enc, dec, out[:o]


def wrap(bytes text, bytes soft):
    """``text`` quoted-printable in lines of at most 75 characters, each ended by ``soft``
    ("=" and the line break), or None if it holds a byte other than tab and " " to "~".

    What ``transfer._wrap(text.replace(b"=", b"=3D"), soft)`` gives: "=" written "=3D", each
    line filled with as many whole characters as fit, an "=3D" never cut.
    """
    cdef Py_ssize_t n = PyBytes_GET_SIZE(text)
    cdef Py_ssize_t s = PyBytes_GET_SIZE(soft)
    cdef const unsigned char *src = <const unsigned char *>PyBytes_AS_STRING(text)
    cdef const unsigned char *brk = <const unsigned char *>PyBytes_AS_STRING(soft)
    cdef Py_ssize_t i, j, o = 0, width = 0, escapes = 0
    cdef unsigned char c
    for i in range(n):
        c = src[i]
        if c == 61:
            escapes += 1
        elif c != 9 and (c < 32 or c > 126):
            return None
    if n == 0:
        return soft
    cdef Py_ssize_t size = n + 2 * escapes
    # At least one character a line, at most 75: the lines needed are at most size.
    out = PyBytes_FromStringAndSize(NULL, size + (size // 25 + 2) * s)
    cdef unsigned char *dst = <unsigned char *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t room, take
    cdef const unsigned char *eq
    i = 0
    while i < n:
        room = 75 - width
        if room == 0:  # the line is full and a character follows: break it
            memcpy(dst + o, brk, s)
            o += s
            width = 0
            continue
        # The characters up to the next "=" (or as many as fit) go as they are, in one copy.
        take = n - i if n - i < room else room
        eq = <const unsigned char *>memchr(src + i, 61, take)
        if eq != NULL:
            take = eq - (src + i)
        memcpy(dst + o, src + i, take)
        o += take
        width += take
        i += take
        if eq != NULL:  # "=" as "=3D", never cut: on the next line if it does not fit
            if width + 3 > 75:
                memcpy(dst + o, brk, s)
                o += s
                width = 0
            dst[o] = 61
            dst[o + 1] = 51  # "3"
            dst[o + 2] = 68  # "D"
            o += 3
            width += 3
            i += 1
    memcpy(dst + o, brk, s)
    o += s
    return out[:o]


from libc.stdlib cimport free, malloc


cdef Py_ssize_t _bisect_right(const Py_ssize_t *a, Py_ssize_t n, Py_ssize_t x) noexcept:
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef bytes _applied(bytes decoded, list edits, Py_ssize_t first_edit, Py_ssize_t end_edit,
                    Py_ssize_t d0, Py_ssize_t d1):
    """``decoded[d0:d1]`` with ``edits[first_edit:end_edit]`` applied (each a tuple whose
    first three items are start, end and the new bytes), written once."""
    cdef Py_ssize_t k, size = d1 - d0, pos, start, end, n
    cdef tuple edit
    cdef bytes data
    for k in range(first_edit, end_edit):
        edit = <tuple>edits[k]
        size += PyBytes_GET_SIZE(<bytes>edit[2]) - (<Py_ssize_t>edit[1] - <Py_ssize_t>edit[0])
    out = PyBytes_FromStringAndSize(NULL, size)
    cdef char *dst = PyBytes_AS_STRING(out)
    cdef const char *src = PyBytes_AS_STRING(decoded)
    pos = d0
    n = 0
    for k in range(first_edit, end_edit):
        edit = <tuple>edits[k]
        start = edit[0]
        end = edit[1]
        data = <bytes>edit[2]
        memcpy(dst + n, src + pos, start - pos)
        n += start - pos
        memcpy(dst + n, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        n += PyBytes_GET_SIZE(data)
        pos = end
    memcpy(dst + n, src + pos, d1 - pos)
    return out


def runs(bytes body, list enc, list dec, bytes decoded, edits, Py_ssize_t at, encode_run,
         splice):
    """``QuotedPrintable._runs`` for a body read by :func:`physical_lines` (``enc``, ``dec``,
    ``decoded`` are its tables): the edits grouped by the physical lines they touch (as
    ``transfer._group`` groups them), each group's lines decoded with its edits applied and
    encoded again, as ``splice`` tuples (a tuple subclass: ``transfer.Splice``) of start, end
    and data, in order.

    A group's new text is encoded here by :func:`wrap` when it is the usual run (printable
    ASCII ending in a soft break) and by ``encode_run(new, eol, soft)`` otherwise. The edits
    (sorted, disjoint, each a tuple of start, end, new bytes, …) are read in place: no list
    or tuple is made per group but the splice.
    """
    cdef list items = edits if type(edits) is list else list(edits)
    cdef Py_ssize_t lines = len(dec) - 1, count = len(dec), i, k, m = len(items)
    cdef Py_ssize_t *starts = <Py_ssize_t *>malloc(count * sizeof(Py_ssize_t))
    cdef const unsigned char *dd = <const unsigned char *>PyBytes_AS_STRING(decoded)
    cdef const unsigned char *bd = <const unsigned char *>PyBytes_AS_STRING(body)
    cdef Py_ssize_t nd = PyBytes_GET_SIZE(decoded)
    cdef Py_ssize_t start, end, first, last, prev_first = -1, prev_last = -1, group_start = 0
    cdef Py_ssize_t prev_end = 0
    cdef tuple edit
    if starts == NULL:
        raise MemoryError()
    out = []
    try:
        for i in range(count):
            starts[i] = dec[i]
        for k in range(m):
            item = items[k]
            if not isinstance(item, tuple) or len(<tuple>item) < 3:
                raise TypeError("an edit is a tuple (start, end, data, …)")
            edit = <tuple>item
            start = edit[0]
            end = edit[1]
            if start < prev_end:
                # The edits are the scanners' own, sorted and disjoint; anything else would
                # have the copies below write out of place.
                raise ValueError("edits overlap or are out of order")
            prev_end = end
            if type(edit[2]) is not bytes:
                raise TypeError("an edit's new text is bytes")
            first = _bisect_right(starts, count, start) - 1
            last = _bisect_right(starts, count, end - 1) - 1 if end > start else first
            if first < 0 or first >= lines or end > nd or end < start:
                # An edit outside the text (never made by the scanners, whose edits each
                # replace a link): refused as the Python path refuses it, with no read past
                # the tables.
                raise IndexError("edit outside the decoded text")
            if last + 1 < lines and end == starts[last + 1] and end > 0 and dd[end - 1] == 10:
                last += 1
            if k > 0 and first <= prev_last:  # shares a line with the group before: join it
                if last > prev_last:
                    prev_last = last
                continue
            if k > 0:
                out.append(_encoded_group(body, bd, enc, starts, decoded, dd, items,
                                          group_start, k, prev_first, prev_last, at,
                                          encode_run, splice))
            group_start = k
            prev_first = first
            prev_last = last
        if m > 0:
            out.append(_encoded_group(body, bd, enc, starts, decoded, dd, items, group_start, m,
                                      prev_first, prev_last, at, encode_run, splice))
    finally:
        free(starts)
    return out


cdef object _encoded_group(bytes body, const unsigned char *bd, list enc,
                           const Py_ssize_t *starts, bytes decoded, const unsigned char *dd,
                           list items, Py_ssize_t group_start, Py_ssize_t group_end,
                           Py_ssize_t a, Py_ssize_t b, Py_ssize_t at, encode_run, splice):
    cdef Py_ssize_t d0 = starts[a], d1 = starts[b + 1]
    cdef Py_ssize_t e0 = enc[a], e1 = enc[b + 1]
    cdef bint soft
    new = _applied(decoded, items, group_start, group_end, d0, d1)
    eol = _CRLF if e1 - 2 >= e0 and bd[e1 - 2] == 13 and bd[e1 - 1] == 10 else _LF
    # The run ends as its last line did: with a soft break if that line's break decoded to
    # nothing.
    soft = bd[e1 - 1] == 10 and (d1 == starts[b] or dd[d1 - 1] != 10)
    data = None
    cdef Py_ssize_t size = PyBytes_GET_SIZE(new)
    cdef unsigned char last_byte
    if soft and size:
        last_byte = (<const unsigned char *>PyBytes_AS_STRING(new))[size - 1]
        if last_byte != 32 and last_byte != 9 and last_byte != 46:
            data = wrap(new, _SOFT_CRLF if eol is _CRLF else _SOFT_LF)
    if data is None:
        data = encode_run(new, eol, soft)
    return tuple.__new__(splice, (at + e0, at + e1, data))  # no Python frame per splice


cdef bytes _CRLF = b"\r\n"
cdef bytes _LF = b"\n"
cdef bytes _SOFT_CRLF = b"=\r\n"
cdef bytes _SOFT_LF = b"=\n"


def longest_line(bytes data):
    """``transfer.longest_line``: the length of the longest line of ``data`` (split at "\\n"),
    not counting the carriage returns that end it."""
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef const unsigned char *src = <const unsigned char *>PyBytes_AS_STRING(data)
    cdef Py_ssize_t start = 0, end, stop, longest = 0
    while True:
        end = _find(src, start, n, 10)
        stop = end
        while stop > start and src[stop - 1] == 13:
            stop -= 1
        if stop - start > longest:
            longest = stop - start
        if end >= n:
            return longest
        start = end + 1
